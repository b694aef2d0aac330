"""Rule script of ``live_pubmed_counts``: per-gene PubMed counts, resumable by batch."""

from datetime import UTC, datetime
from typing import Any

import polars as pl
from usher_pipeline.live.fetch import pull_pubmed_counts
from usher_pipeline.persistence import FetchCache, RuleRun


def main(smk: Any) -> None:
    with RuleRun(smk) as run:
        universe = pl.read_parquet(smk.input.genes)
        aliases = pl.read_parquet(smk.input.aliases)
        cache = FetchCache.from_config(run.config, run.store)
        df = pull_pubmed_counts(run.config, universe, aliases, cache=cache)
        run.add_source(
            "pubmed_eutils",
            str(smk.params.release),
            f"{smk.params.eutils_base}/esearch.fcgi",
            retrieved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            validators={"contexts": dict(smk.params.contexts), "batch_size": smk.params.batch_size},
        )
        run.record_step("pubmed_counts", {"genes": df.height})
        run.write_parquet(df, smk.output[0], table_name="live_pubmed_counts", sort_by="gene_id")


main(snakemake)  # noqa: F821 (injected by Snakemake)
