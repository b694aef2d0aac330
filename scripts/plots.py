"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.plots_rule."""

from usher_pipeline.rule_bodies import plots_rule

plots_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
