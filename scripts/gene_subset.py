"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.gene_subset_rule."""

from usher_pipeline.rule_bodies import gene_subset_rule

gene_subset_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
