"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.integrate_rule."""

from usher_pipeline.rule_bodies import integrate_rule

integrate_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
