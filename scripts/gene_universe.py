"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.gene_universe_rule."""

from usher_pipeline.rule_bodies import gene_universe_rule

gene_universe_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
