"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.verify_snapshot_rule."""

from usher_pipeline.rule_bodies import verify_snapshot_rule

verify_snapshot_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
