"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.reproducibility_rule."""

from usher_pipeline.rule_bodies import reproducibility_rule

reproducibility_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
