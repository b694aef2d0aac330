"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.publish_candidates_rule."""

from usher_pipeline.rule_bodies import publish_candidates_rule

publish_candidates_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
