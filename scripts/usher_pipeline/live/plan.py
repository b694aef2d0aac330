"""What a live run will download or request, before it starts (no network access).

Every source the run reads is listed: each live source with its URL, each table still read from
the snapshot as ``snapshot only (release ...)`` (sources without a live upstream; which ones is
derived from the step registry, :func:`usher_pipeline.sources.snapshot_only_sources`). For every
live source: whole files (one request each; size from the registry's typical size,
``SourceSpec.approx_mb``, a rough figure) and the item-wise pulls (request counts from their
formulas and the config), minus what the state database already holds: a fetch checkpoint whose
file still matches its sha256, the saved date slices of the bulk PubMed pull, the saved batches of
the per_gene pull and of UniProt. Time is requests / (rate limit x rate_safety) per host.

    usher-pipeline run --config mode=live --dry-run      # prints this, then snakemake -n
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from ..persistence import FetchCache, PipelineStore
from ..snapshot import load_manifest
from ..sources import (
    OPTIONAL_LIVE_SOURCES,
    STEP_SOURCES,
    live_raw_keys,
    snapshot_only_note,
    snapshot_only_sources,
    step_inputs,
)
from .fetch import (
    bulk_request,
    literature_settings,
    pubmed_contexts,
    pubmed_release,
)
from .http import HttpSettings
from .literature import FETCHER_VERSION as PER_GENE_FETCHER_VERSION
from .pubmed_bulk import FETCHER_VERSION as BULK_FETCHER_VERSION
from .pubmed_bulk import TARGET_FILL
from .sources import (
    SOURCES,
    UNIPROT_FIELDS,
    UNIPROT_QUERY,
    eutils_base,
    live_config,
    source_release,
    source_url,
    uniprot_base,
)
from .uniprot import FETCHER_VERSION as UNIPROT_FETCHER_VERSION

# Used when the universe has not been built yet (results/universe/genes.parquet).
DEFAULT_UNIVERSE_GENES = 19_464
# Reviewed human UniProt entries (UniProtKB/Swiss-Prot, 2025: ~20,400).
UNIPROT_REVIEWED_HUMAN = 20_400
# Records a context query is assumed to match before its first pull (the upper bound).
DEFAULT_EXPECTED_RECORDS = 300_000


@dataclass
class PlanRow:
    source: str
    kind: str  # "file" or "requests"
    host: str
    todo_requests: int
    todo_mb: float | None
    done: str
    note: str = ""
    # the live URL, or "snapshot only (release ...)" for a table read from the snapshot
    origin: str = ""

    def seconds(self, settings: HttpSettings) -> float:
        rate = _rate(settings, self.host)
        return self.todo_requests / rate if rate > 0 else 0.0


def _rate(settings: HttpSettings, host: str) -> float:
    limits = settings.rate_limits
    return float(limits.get(host, limits.get("default", 5.0))) * settings.rate_safety


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _store(config: Mapping[str, Any]) -> FetchCache | None:
    db = Path(str((config.get("state") or {}).get("db") or "state/usher_pipeline.duckdb"))
    if not db.is_file():
        return None  # nothing checkpointed yet; do not create the state file in a dry run
    return FetchCache.from_config(config, PipelineStore.from_config(config))


def _universe_genes(config: Mapping[str, Any]) -> tuple[int, str]:
    path = Path(str(config.get("results_dir") or "results")) / "universe" / "genes.parquet"
    if path.is_file():
        return pl.scan_parquet(path).select(pl.len()).collect().item(), str(path)
    return DEFAULT_UNIVERSE_GENES, "full universe (not built yet)"


def bulk_request_estimate(records: int, max_ids: int) -> int:
    """Requests of one context of the bulk pull: 1 history search + date slices (incl. splits).

    Slices hold ~TARGET_FILL x max_ids records; splitting probes add ~20% and the sparse early
    decades a few more (calibrated on the loopback benchmark, benchmarks/bench_live.py).
    """
    leaves = math.ceil(records / (TARGET_FILL * max_ids))
    return 1 + max(1, math.ceil(1.2 * leaves) + (4 if records > max_ids else 0))


def fetched_sources(config: Mapping[str, Any]) -> list[str]:
    """Keys of the whole-file live sources the workflow's steps read (in SOURCES order)."""
    results = str(config.get("results_dir") or "results")
    disabled = list(live_config(config).get("disabled_sources") or [])
    keys: set[str] = set()
    for step in STEP_SOURCES:
        for path in step_inputs(
            step, "live", str(config.get("snapshot_dir")), results, disabled
        ).values():
            keys.update(live_raw_keys(path, results))
    return [k for k in SOURCES if k in keys]


def snapshot_rows(config: Mapping[str, Any]) -> list[PlanRow]:
    """One row per table a live run still reads from the snapshot (manifest order)."""
    snap_dir = str(config.get("snapshot_dir"))
    disabled = list(live_config(config).get("disabled_sources") or [])
    why = snapshot_only_sources(snap_dir, disabled)
    rows = []
    for entry in load_manifest(snap_dir)["files"]:
        if entry["key"] in why:
            origin = snapshot_only_note(entry["release"], why[entry["key"]])
            rows.append(PlanRow(entry["key"], "snapshot", "", 0, None, "-", "", origin))
    return rows


def live_plan(config: Mapping[str, Any]) -> list[PlanRow]:
    """One row per live source the configured run would touch (see module docstring)."""
    live = live_config(config)
    disabled = set(live.get("disabled_sources") or [])
    cache = _store(config)
    rows: list[PlanRow] = []
    wanted = fetched_sources(config)
    for key in wanted:
        spec = SOURCES[key]
        url = source_url(key, config)
        hit = (
            cache.lookup(key, source_release(key, config), {"url": url}, spec.fetcher_version)
            if cache
            else None
        )
        if hit is not None:
            done = f"checkpointed ({hit.size / 1e6:.1f} MB)"
            rows.append(PlanRow(key, "file", _host(url), 0, 0.0, done, origin=url))
        else:
            rows.append(PlanRow(key, "file", _host(url), 1, spec.approx_mb, "-", origin=url))
    if "pubmed" not in disabled:
        rows.append(_pubmed_row(config, cache))
    if "uniprot" not in disabled:
        rows.append(_uniprot_row(config, cache))
    return rows + snapshot_rows(config)


def _pubmed_row(config: Mapping[str, Any], cache: FetchCache | None) -> PlanRow:
    lit = literature_settings(config)
    contexts = pubmed_contexts(config)
    host = _host(eutils_base(config))
    if lit["method"] == "per_gene":
        genes, where = _universe_genes(config)
        batch = int(live_config(config).get("batch_size", 200))
        per = 1 + len(contexts)
        done = 0
        if cache is not None:
            request = {
                "url": f"{eutils_base(config)}/esearch.fcgi",
                "contexts": contexts,
                "batch_size": batch,
            }
            cp = cache.batches("pubmed", pubmed_release(config), request, PER_GENE_FETCHER_VERSION)
            done = min(genes, len(cp.done_batch_ids()) * batch)
        return PlanRow(
            "pubmed (per_gene)",
            "requests",
            host,
            (genes - done) * per,
            None,
            f"{done:,} of {genes:,} genes",
            f"{genes:,} genes ({where}) x (1 + {len(contexts)} contexts)",
            f"{eutils_base(config)}/esearch.fcgi",
        )
    expected = int(
        (live_config(config).get("literature") or {}).get("expected_records")
        or DEFAULT_EXPECTED_RECORDS
    )
    max_ids = lit["max_ids_per_slice"]
    saved = None
    if cache is not None:
        cp = cache.batches(
            "pubmed", pubmed_release(config), bulk_request(config), BULK_FETCHER_VERSION
        )
        saved = cp.load_all()
    todo = 0
    done_parts = []
    for ctx in contexts:
        got = 0
        total = None
        if saved is not None:
            mine = saved.filter(pl.col("context") == ctx)
            tot = mine.filter(pl.col("lo") == "total")
            total = int(tot["count"][0]) if tot.height else None
            leaves = mine.filter((pl.col("lo") != "total") & (pl.col("count") <= max_ids))
            got = int(leaves.unique(["lo", "hi"])["count"].sum() or 0)
        if total is not None and got >= total:
            done_parts.append(f"{ctx} done")
            continue
        remaining = (total if total is not None else expected) - got
        todo += bulk_request_estimate(max(remaining, 0), max_ids)
        done_parts.append(f"{ctx} {got:,}/{total:,} IDs" if total is not None else f"{ctx} -")
    return PlanRow(
        "pubmed (bulk)",
        "requests",
        host,
        todo,
        None,
        "; ".join(done_parts),
        f"{len(contexts)} contexts x ~{expected:,} records assumed, slices of <= {max_ids:,} IDs "
        f"(+ gene2pubmed, listed above)",
        f"{eutils_base(config)}/esearch.fcgi",
    )


def _uniprot_row(config: Mapping[str, Any], cache: FetchCache | None) -> PlanRow:
    page = int(live_config(config).get("uniprot_page_size", 500))
    pages = math.ceil(UNIPROT_REVIEWED_HUMAN / page)
    done = 0
    if cache is not None:
        request = {
            "url": f"{uniprot_base(config)}/uniprotkb/search",
            "query": UNIPROT_QUERY,
            "fields": UNIPROT_FIELDS,
            "size": page,
        }
        release = str(
            ((live_config(config).get("sources") or {}).get("uniprot") or {}).get("release")
            or "current"
        )
        cp = cache.batches("uniprot", release, request, UNIPROT_FETCHER_VERSION)
        done = len(cp.done_batch_ids())
    return PlanRow(
        "uniprot",
        "requests",
        _host(uniprot_base(config)),
        max(0, pages - done),
        None,
        f"{done} of ~{pages} pages",
        f"~{UNIPROT_REVIEWED_HUMAN:,} reviewed entries / {page} per page",
        f"{uniprot_base(config)}/uniprotkb/search",
    )


def format_plan(rows: list[PlanRow], config: Mapping[str, Any]) -> str:
    """The plan as a text table with totals per host."""
    settings = HttpSettings.from_config(config)
    lines = [
        "Live mode: what this run will download / request (no request sent to compute this).",
        "File sizes are the registry's rough typical sizes; request counts follow each pull's",
        "formula; time = requests / (per-host limit x rate_safety), downloads' transfer excluded.",
        "",
        "Every source is listed with its live URL, or as 'snapshot only (release ...)' when the",
        "run reads it from the embedded snapshot (no live upstream).",
        "",
        f"{'source':<20} {'to fetch':>16} {'time at limit':>14}  {'already checkpointed':<30} "
        "live URL / snapshot  [note]",
    ]
    per_host: dict[str, tuple[int, float]] = {}
    total_mb = 0.0
    for r in rows:
        if r.kind == "snapshot":
            lines.append(f"{r.source:<20} {'-':>16} {'-':>14}  {'-':<30} {r.origin}")
            continue
        if r.kind == "file":
            what = "-" if r.todo_requests == 0 else f"~{r.todo_mb or 0:,.0f} MB"
            total_mb += (r.todo_mb or 0) if r.todo_requests else 0
        else:
            what = f"{r.todo_requests:,} req"
        secs = r.seconds(settings)
        n, s = per_host.get(r.host, (0, 0.0))
        per_host[r.host] = (n + r.todo_requests, s + secs)
        when = _dur(secs) if r.kind == "requests" else "-"
        note = f"  [{r.note}]" if r.note else ""
        lines.append(
            f"{r.source:<20} {what:>16} {when:>14}  {r.done:<30} {r.origin}{note}".rstrip()
        )
    lines.append("")
    lines.append(f"downloads to transfer: ~{total_mb:,.0f} MB")
    for host, (n, s) in sorted(per_host.items()):
        lim = _rate(settings, host)
        lines.append(f"{host}: {n:,} requests, {_dur(s)} at {lim:.2f} req/s")
    skipped = [
        k for k in OPTIONAL_LIVE_SOURCES if k in (live_config(config).get("disabled_sources") or [])
    ]
    if skipped:
        lines.append(f"disabled (live.disabled_sources): {', '.join(skipped)}")
    return "\n".join(lines)


def _dur(seconds: float) -> str:
    if seconds <= 0:
        return "0 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
