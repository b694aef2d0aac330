"""Rule script of ``live_pubmed_counts``: per-gene PubMed counts (bulk or per-gene method)."""

from datetime import UTC, datetime
from typing import Any

import polars as pl
from usher_pipeline.live.fetch import pull_pubmed_bulk, pull_pubmed_counts
from usher_pipeline.persistence import FetchCache, RuleRun


def main(smk: Any) -> None:
    with RuleRun(smk) as run:
        universe = pl.read_parquet(smk.input.genes)
        cache = FetchCache.from_config(run.config, run.store)
        method = str(smk.params.method)
        validators: dict[str, Any] = {"contexts": dict(smk.params.contexts), "method": method}
        if method == "bulk":
            df, stats = pull_pubmed_bulk(run.config, universe, smk.input.gene2pubmed, cache=cache)
            validators |= {
                "links": stats["links"],
                "date_range": list(smk.params.date_range),
                "context_totals": stats["totals"],
                "date_slices": stats["slices"],
            }
            run.record_step(
                "pubmed_bulk",
                {"requests": stats["requests"], "link_rows": stats["link_rows"], **stats["totals"]},
            )
        else:
            aliases = pl.read_parquet(smk.input.aliases)
            df = pull_pubmed_counts(run.config, universe, aliases, cache=cache)
            validators["batch_size"] = smk.params.batch_size
        run.add_source(
            "pubmed_eutils",
            str(smk.params.release),
            f"{smk.params.eutils_base}/esearch.fcgi",
            retrieved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            validators=validators,
        )
        run.record_step("pubmed_counts", {"genes": df.height, "method": method})
        run.write_parquet(df, smk.output[0], table_name="live_pubmed_counts", sort_by="gene_id")


main(snakemake)  # noqa: F821 (injected by Snakemake)
