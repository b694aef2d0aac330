"""Rule script of ``live_fetch_source``: one whole-file live source through the fetch cache."""

from typing import Any

from usher_pipeline.live.fetch import fetch_to
from usher_pipeline.persistence import FetchCache, RuleRun


def main(smk: Any) -> None:
    with RuleRun(smk) as run:
        key = str(smk.wildcards.key)
        cache = FetchCache.from_config(run.config, run.store)
        out = fetch_to(key, run.config, smk.output[0], cache=cache)
        run.add_source(
            key,
            out.release,
            out.url,
            path=out.path,
            retrieved_at=out.retrieved_at,
            validators=out.validators,
            sha256=out.sha256,
        )
        run.record_step("fetch", {"source": key, "from_cache": out.from_cache, "size": out.size})


main(snakemake)  # noqa: F821 (injected by Snakemake)
