"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.compute_layer_rule."""

from usher_pipeline.rule_bodies import compute_layer_rule

compute_layer_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
