"""Rule entry script (thin): the work is usher_pipeline.rule_bodies.live_string_network_rule."""

from usher_pipeline.rule_bodies import live_string_network_rule

live_string_network_rule(snakemake)  # noqa: F821 - injected by Snakemake's script: directive
