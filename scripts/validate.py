"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.validate_rule."""

from usher_pipeline.rule_bodies import validate_rule

validate_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
