"""Bulk literature pull: per-gene PubMed context counts from a handful of requests.

Instead of one esearch per gene and context (``per_gene``, ~77,000 requests), the bulk method
intersects two sets locally:

* **gene -> PMID links** from NCBI ``gene2pubmed.gz`` (curated links), the same file, the same
  live download (streamed, gzip-checked, header-checked, checkpointed by ``live_fetch_source``)
  and the same parser (:func:`usher_pipeline.parsers.ncbi.read_gene2pubmed`) as the snapshot;
* **each context's PMID set** from E-utilities esearch with the history server: one request
  ``term=<context clause>&usehistory=y&retmax=0`` gives the total count and a ``WebEnv`` /
  ``query_key``; the record IDs are then pulled per publication-date slice
  (``term=#<query_key>&WebEnv=..&datetype=pdat&mindate=..&maxdate=..&retmax=10000``), because
  esearch returns at most 10,000 IDs per query. A slice whose count is over the limit is split
  again (into pieces expected to hold ~60% of the limit each, boundaries placed by a prior that
  grows with PubMed's yearly output) until every slice fits.

Checks: every slice must return exactly as many distinct IDs as its count (else
:class:`~usher_pipeline.errors.SourceFormatError` naming the context and slice, and nothing of that
slice is saved); the union of a context's slices must equal the query's total count.

Checkpoints: every finished slice (its IDs) and every split decision (its count) is saved as one
batch of a ``BatchCheckpoint``; a killed pull resumes at the first unfinished slice (at most the
slice in flight is requested again, plus the one history request that opens a new ``WebEnv``), and
a rerun with every slice saved sends no request.

Per gene: ``pubmed_total`` = distinct PMIDs linked to the gene in gene2pubmed, ``pubmed_<context>``
= those of them in the context's PMID set. The literature layer turns them into its sub-score
exactly as for the per-gene counts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

import polars as pl

from ..errors import SourceFormatError
from .http import SourceFetchError
from .literature import EutilsClient
from .progress import Progress
from .settings import DEFAULT_DATE_RANGE, MAX_IDS

log = logging.getLogger(__name__)

FETCHER_VERSION = "1"
# Split heuristics: a split slice's pieces should each hold this fraction of the limit, and the
# split points follow a prior where PubMed's yearly output grows by GROWTH per year up to
# PEAK_YEAR (and falls off after it: few records carry future publication dates). The prior only
# decides where to cut; counts decide whether to cut again, so a wrong prior costs requests,
# never correctness.
TARGET_FILL = 0.6
GROWTH = 0.05
PEAK_YEAR = 2026.0
_BATCH_SCHEMA = {
    "context": pl.Utf8,
    "lo": pl.Utf8,
    "hi": pl.Utf8,
    "count": pl.Int64,
    "pmid": pl.Int64,
}


@dataclass(frozen=True, order=True)
class DateSlice:
    """Inclusive range of publication dates."""

    lo: date
    hi: date

    @property
    def label(self) -> str:
        return f"{self.lo:%Y/%m/%d}-{self.hi:%Y/%m/%d}"

    @property
    def days(self) -> int:
        return (self.hi - self.lo).days + 1


def parse_date(text: str) -> date:
    """``YYYY/MM/DD`` (E-utilities' date format) or ``YYYY-MM-DD``."""
    parts = str(text).replace("-", "/").split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"date {text!r} is not YYYY/MM/DD")
    return date(int(parts[0]), int(parts[1]), int(parts[2]))


def _year(d: date) -> float:
    return d.year + (d.timetuple().tm_yday - 1) / 366.0


def _from_year(y: float) -> date:
    year = int(math.floor(y))
    year = min(max(year, 1), 9998)
    return date(year, 1, 1) + timedelta(days=int((y - year) * 366.0))


def _prior_cdf(y: float) -> float:
    """Cumulative prior mass of publication year ``y`` (exp growth, then fast decay)."""
    if y <= PEAK_YEAR:
        return math.exp(GROWTH * (y - PEAK_YEAR)) / GROWTH
    return 1.0 / GROWTH + (1.0 - math.exp(-(y - PEAK_YEAR)))


def _prior_inv(p: float) -> float:
    if p <= 1.0 / GROWTH:
        return PEAK_YEAR + math.log(max(p * GROWTH, 1e-300)) / GROWTH
    return PEAK_YEAR - math.log(max(1.0 - (p - 1.0 / GROWTH), 1e-300))


def split_slice(s: DateSlice, count: int, max_ids: int = MAX_IDS) -> list[DateSlice]:
    """Cut ``s`` (which holds ``count`` > ``max_ids`` records) into contiguous sub-slices.

    Deterministic in (slice, count): a resumed pull re-derives the same plan from the saved counts.
    """
    if s.days <= 1:
        raise ValueError(
            f"date slice {s.label} holds {count} records, more than the {max_ids} esearch can "
            "return, and cannot be split further (one day)"
        )
    pieces = max(2, math.ceil(count / (TARGET_FILL * max_ids)))
    pieces = min(pieces, s.days)
    a, b = _prior_cdf(_year(s.lo)), _prior_cdf(_year(s.hi + timedelta(days=1)))
    cuts: list[date] = []
    for i in range(1, pieces):
        d = _from_year(_prior_inv(a + (b - a) * i / pieces))
        d = min(max(d, s.lo + timedelta(days=1)), s.hi)
        if (not cuts or d > cuts[-1]) and d > s.lo:
            cuts.append(d)
    if not cuts:  # the prior put every cut at one end: halve by days
        cuts = [s.lo + timedelta(days=s.days // 2)]
    out, start = [], s.lo
    for c in cuts:
        out.append(DateSlice(start, c - timedelta(days=1)))
        start = c
    out.append(DateSlice(start, s.hi))
    return out


class HistoryClient(Protocol):
    def open_history(self, term: str) -> tuple[int, str, str]: ...

    def slice_ids(
        self, webenv: str, query_key: str, lo: date, hi: date, retmax: int
    ) -> tuple[int, list[int]]: ...


class EutilsHistoryClient(EutilsClient):
    """esearch with the history server (JSON), through the shared rate-limited HTTP client
    (constructor, URL and common parameters of :class:`EutilsClient`)."""

    source = "pubmed"

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        data = self.http.get_json(self.url, params=self.params(**params), source=self.source)
        if not isinstance(data, dict) or not isinstance(data.get("esearchresult"), dict):
            raise SourceFormatError(self.source, self.url, "no 'esearchresult' object in reply")
        res = data["esearchresult"]
        if "ERROR" in res:
            raise SourceFetchError(self.source, self.url, f"esearch error: {res['ERROR']}")
        return res

    def _count(self, res: Mapping[str, Any], what: str) -> int:
        raw = res.get("count")
        if raw is None or not str(raw).isdigit():
            raise SourceFormatError(
                self.source, self.url, f"{what}: esearchresult.count missing or not a number"
            )
        return int(raw)

    def open_history(self, term: str) -> tuple[int, str, str]:
        """Run ``term`` on the history server: (total count, WebEnv, query_key)."""
        res = self._get({"term": term, "usehistory": "y", "retmax": 0})
        count = self._count(res, "history search")
        webenv, qk = res.get("webenv"), res.get("querykey")
        if not webenv or not qk:
            raise SourceFormatError(
                self.source, self.url, "history search: esearchresult.webenv/querykey missing"
            )
        return count, str(webenv), str(qk)

    def slice_ids(
        self, webenv: str, query_key: str, lo: date, hi: date, retmax: int
    ) -> tuple[int, list[int]]:
        """Count and IDs (at most ``retmax``) of the history query restricted to [lo, hi]."""
        res = self._get(
            {
                "term": f"#{query_key}",
                "WebEnv": webenv,
                "usehistory": "y",
                "datetype": "pdat",
                "mindate": f"{lo:%Y/%m/%d}",
                "maxdate": f"{hi:%Y/%m/%d}",
                "retmax": retmax,
            }
        )
        what = f"slice {lo:%Y/%m/%d}-{hi:%Y/%m/%d}"
        count = self._count(res, what)
        ids = res.get("idlist")
        if not isinstance(ids, list) or not all(str(i).isdigit() for i in ids):
            raise SourceFormatError(
                self.source, self.url, f"{what}: esearchresult.idlist missing or not numeric"
            )
        return count, [int(i) for i in ids]


def _load_plan(
    checkpoint: Any,
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str, str], pl.Series]]:
    """Saved counts per (context, lo, hi) and saved IDs per slice."""
    saved = checkpoint.load_all()
    if saved is None:
        return {}, {}
    saved = saved.select(list(_BATCH_SCHEMA)).cast(_BATCH_SCHEMA)
    counts = {
        (c, lo, hi): int(n)
        for c, lo, hi, n in saved.select("context", "lo", "hi", "count").unique().iter_rows()
    }
    ids = {
        (c, lo, hi): pl.Series("pmid", p, dtype=pl.Int64)
        for c, lo, hi, p in saved.drop_nulls("pmid")
        .group_by("context", "lo", "hi")
        .agg("pmid")
        .iter_rows()
    }
    return counts, ids


def context_pmids(
    client: HistoryClient,
    checkpoint: Any,
    contexts: Mapping[str, str],
    *,
    date_range: tuple[str, str] = DEFAULT_DATE_RANGE,
    max_ids: int = MAX_IDS,
) -> tuple[dict[str, pl.Series], dict[str, Any]]:
    """PMID set of every context (see module docstring); returns (sets, stats).

    ``checkpoint`` is a ``BatchCheckpoint``. Batches: ``<context>|<lo>|<hi>`` per slice (its IDs;
    one row with a null pmid for an empty or split slice) and ``<context>|total`` (the history
    search's count).
    """
    if not 1 <= max_ids <= MAX_IDS:
        raise ValueError(f"max_ids must be within 1..{MAX_IDS}")
    top = DateSlice(parse_date(date_range[0]), parse_date(date_range[1]))
    if top.hi < top.lo:
        raise ValueError(f"live.literature.date_range {date_range} is empty")
    known, ids_by_slice = _load_plan(checkpoint)
    out: dict[str, pl.Series] = {}
    stats: dict[str, Any] = {"requests": 0, "slices": {}, "totals": {}, "from_checkpoint": {}}

    def request() -> None:
        stats["requests"] += 1

    for ctx, clause in contexts.items():
        history: tuple[int, str, str] | None = None
        prog: Progress | None = None
        queue = [top]
        leaves: list[DateSlice] = []
        fetched = 0
        while queue:
            s = queue.pop(0)
            k = (ctx, f"{s.lo:%Y/%m/%d}", f"{s.hi:%Y/%m/%d}")
            count = known.get(k)
            if count is None:
                if history is None:
                    history = client.open_history(clause)
                    request()
                    checkpoint.save_batch(
                        f"{ctx}|total",
                        pl.DataFrame(
                            [{"context": ctx, "lo": "total", "hi": "total", "count": history[0]}],
                            schema=_BATCH_SCHEMA,
                        ),
                    )
                    known[(ctx, "total", "total")] = history[0]
                    prog = Progress(f"pubmed {ctx} IDs", history[0])
                    prog.done = sum(
                        len(v) for (c, _, _), v in ids_by_slice.items() if c == ctx
                    )  # saved by an interrupted run
                    log.info("pubmed %s: %d records match the context query", ctx, history[0])
                n, ids = client.slice_ids(history[1], history[2], s.lo, s.hi, max_ids)
                request()
                if n > max_ids:
                    rows = [{"context": ctx, "lo": k[1], "hi": k[2], "count": n, "pmid": None}]
                else:
                    uniq = set(ids)
                    if len(ids) != n or len(uniq) != n:
                        raise SourceFormatError(
                            "pubmed",
                            f"esearch {ctx} slice {s.label}",
                            f"PubMed reports {n} records but returned {len(ids)} IDs "
                            f"({len(uniq)} distinct); the slice was not saved",
                        )
                    rows = [
                        {"context": ctx, "lo": k[1], "hi": k[2], "count": n, "pmid": p}
                        for p in sorted(uniq)
                    ] or [{"context": ctx, "lo": k[1], "hi": k[2], "count": 0, "pmid": None}]
                    fetched += n
                    ids_by_slice[k] = pl.Series("pmid", sorted(uniq), dtype=pl.Int64)
                checkpoint.save_batch(f"{ctx}|{s.label}", pl.DataFrame(rows, schema=_BATCH_SCHEMA))
                known[k] = n
                count = n
                if prog is not None:
                    prog.add(0 if n > max_ids else n)
            if count > max_ids:
                try:
                    queue[:0] = split_slice(s, count, max_ids)
                except ValueError as exc:
                    raise SourceFormatError("pubmed", f"esearch {ctx}", str(exc)) from exc
            else:
                leaves.append(s)
        empty = pl.Series("pmid", [], dtype=pl.Int64)
        parts = [
            ids_by_slice.get((ctx, f"{x.lo:%Y/%m/%d}", f"{x.hi:%Y/%m/%d}"), empty) for x in leaves
        ]
        pmids = pl.concat(parts).unique().sort() if parts else empty
        total = history[0] if history is not None else known.get((ctx, "total", "total"))
        if total is None:
            raise RuntimeError(f"pubmed {ctx}: no saved total count in the checkpoint")
        if pmids.len() != total:
            raise SourceFormatError(
                "pubmed",
                f"esearch {ctx}",
                f"the {len(leaves)} date slices hold {pmids.len()} distinct PMIDs but the query "
                f"matches {total}; PubMed changed during the pull or a record has no publication "
                "date in the range (live.literature.date_range); set a new "
                "live.sources.pubmed.release to pull again",
            )
        out[ctx] = pmids.alias("pmid")
        stats["slices"][ctx] = len(leaves)
        stats["totals"][ctx] = int(total)
        stats["from_checkpoint"][ctx] = history is None
        log.info(
            "pubmed %s: %d PMIDs in %d date slices (%s)",
            ctx,
            total,
            len(leaves),
            "from checkpoints" if history is None else f"{fetched} IDs fetched now",
        )
    return out, stats


def gene_context_counts(
    universe: pl.DataFrame,
    gene2pubmed: pl.DataFrame,
    context_sets: Mapping[str, pl.Series],
) -> pl.DataFrame:
    """gene_id, pubmed_total, pubmed_<context>...: gene2pubmed links intersected with each set.

    ``universe``: gene_id, ncbi_gene_id. ``gene2pubmed``: ncbi_gene_id, pmid (as returned by
    :func:`usher_pipeline.parsers.ncbi.read_gene2pubmed`). A gene without links counts 0.
    """
    for col in ("gene_id", "ncbi_gene_id"):
        if col not in universe.columns:
            raise ValueError(f"universe table has no {col!r} column")
    genes = universe.select("gene_id", pl.col("ncbi_gene_id").cast(pl.Int64)).unique("gene_id")
    links = (
        gene2pubmed.select(pl.col("ncbi_gene_id").cast(pl.Int64), pl.col("pmid").cast(pl.Int64))
        .unique()
        .join(genes, on="ncbi_gene_id", how="inner")
    )
    out = genes.join(
        links.group_by("gene_id").agg(pl.len().cast(pl.Int64).alias("pubmed_total")),
        on="gene_id",
        how="left",
    )
    for ctx, ids in context_sets.items():
        hits = (
            links.join(pl.DataFrame({"pmid": ids.cast(pl.Int64)}).unique(), on="pmid")
            .group_by("gene_id")
            .agg(pl.len().cast(pl.Int64).alias(f"pubmed_{ctx}"))
        )
        out = out.join(hits, on="gene_id", how="left")
    cols = ["pubmed_total", *[f"pubmed_{c}" for c in context_sets]]
    return (
        out.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in cols)
        .select("gene_id", *cols)
        .sort("gene_id")
    )
