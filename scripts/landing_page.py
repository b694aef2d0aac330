"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.landing_page_rule."""

from usher_pipeline.rule_bodies import landing_page_rule

landing_page_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
