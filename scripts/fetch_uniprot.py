"""Rule script of ``live_uniprot``: UniProt reviewed human entries, one checkpoint per page."""

from datetime import UTC, datetime
from typing import Any

from usher_pipeline.live.fetch import pull_uniprot
from usher_pipeline.live.uniprot import first_page_url, uniprot_features
from usher_pipeline.persistence import FetchCache, RuleRun


def main(smk: Any) -> None:
    with RuleRun(smk) as run:
        cache = FetchCache.from_config(run.config, run.store)
        raw = pull_uniprot(run.config, cache=cache)
        df = uniprot_features(raw)
        run.add_source(
            "uniprot",
            str(smk.params.release),
            first_page_url(str(smk.params.uniprot_base), int(smk.params.page_size)),
            retrieved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        run.record_step("uniprot_features", {"entries": df.height})
        run.write_parquet(
            df, smk.output[0], table_name="live_uniprot_features", sort_by="accession"
        )


main(snakemake)  # noqa: F821 (injected by Snakemake)
