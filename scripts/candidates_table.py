"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.candidates_table_rule."""

from usher_pipeline.rule_bodies import candidates_table_rule

candidates_table_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
