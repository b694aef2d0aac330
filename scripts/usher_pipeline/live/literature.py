"""Literature layer, ``live.literature.method: per_gene``: one esearch per gene and context,
resumable by batch (the default ``bulk`` method is :mod:`usher_pipeline.live.pubmed_bulk`).

Query syntax (PubMed): a gene clause of the quoted approved symbol and its usable aliases, each
restricted to title/abstract, optionally ANDed with a context clause::

    ("USH2A"[tiab] OR "USH2"[tiab] OR "RP39"[tiab])
    ("USH2A"[tiab] OR ...) AND (cilia[tiab] OR cilium[tiab] OR ciliary[tiab] OR ...)

``pubmed_total`` is the gene clause alone; ``pubmed_<context>`` the gene clause AND the context.
Counts are the exact ``esearchresult.count``; 0 is a real answer (the search found nothing).

Zero handled explicitly: when PubMed finds none of the quoted names it does not answer 0 - it
lists them in ``errorlist.phrasesnotfound`` and *drops* them, so the rest of the query (the
context clause, or nothing) would be counted. When every name of the gene clause is reported not
found, the count is therefore set to 0.

Aliases are filtered: at least 3 characters, at least one letter, no quote characters, not equal
to another gene's approved symbol in the universe (an alias shared with another gene's symbol
would count that gene's papers), and at most ``MAX_ALIASES`` per gene (URL length).

Cost: 1 + len(contexts) requests per gene; 19,464 genes x 4 = 77,856 requests: ~7.6 h at
NCBI's 3 requests/s, ~2.3 h at 10/s with an API key. Genes are processed in checkpointed batches; a killed
run resumes at the first unfinished batch (at most one batch is requested again), and a rerun
with every batch done sends no request.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import polars as pl

from ..errors import SourceFormatError
from .http import HttpClient, SourceFetchError
from .progress import Progress
from .settings import DEFAULT_CONTEXTS as DEFAULT_CONTEXTS  # defined with the settings

log = logging.getLogger(__name__)

MAX_ALIASES = 10
FETCHER_VERSION = "1"
_NAME_OK = re.compile(r"^(?=.*[A-Za-z])[^\"\[\]()]{3,}$")


class CountClient(Protocol):
    def count(self, term: str, names: list[str]) -> int: ...


class EutilsClient:
    """esearch count queries (JSON) through the shared rate-limited HTTP client."""

    source = "eutils"

    def __init__(
        self,
        http: HttpClient,
        base: str,
        api_key: str | None = None,
        tool: str = "usher-pipeline",
        email: str | None = None,
    ) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.api_key = api_key
        self.tool = tool
        self.email = email

    @property
    def url(self) -> str:
        return f"{self.base}/esearch.fcgi"

    def params(self, **query: Any) -> dict[str, Any]:
        """esearch parameters: PubMed, JSON, the tool name, e-mail and API key when set."""
        params: dict[str, Any] = {"db": "pubmed", "retmode": "json", "tool": self.tool, **query}
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key
        return params

    def count(self, term: str, names: list[str]) -> int:
        """Exact PubMed count of ``term``; 0 when PubMed found none of the quoted ``names``."""
        params = self.params(term=term, retmax=0)
        data = self.http.get_json(self.url, params=params, source=self.source)
        return parse_esearch_count(data, names, self.url, term)


def _norm_phrase(p: str) -> str:
    return re.sub(r"\[[^\]]*\]$", "", p.strip()).strip().strip('"').upper()


def parse_esearch_count(data: Any, names: Iterable[str], url: str, term: str = "") -> int:
    """``esearchresult.count`` as int, with the all-phrases-not-found case mapped to 0."""
    if not isinstance(data, dict) or not isinstance(data.get("esearchresult"), dict):
        raise SourceFormatError("eutils", url, f"no 'esearchresult' object in reply for {term!r}")
    res = data["esearchresult"]
    if "ERROR" in res:
        raise SourceFetchError("eutils", url, f"esearch error for {term!r}: {res['ERROR']}")
    raw = res.get("count")
    if raw is None or not str(raw).isdigit():
        raise SourceFormatError(
            "eutils", url, f"esearchresult.count missing or not a number: {raw!r}"
        )
    not_found = {_norm_phrase(p) for p in (res.get("errorlist") or {}).get("phrasesnotfound") or []}
    wanted = {n.upper() for n in names}
    if wanted and wanted <= not_found:
        return 0
    return int(raw)


def gene_names(
    universe: pl.DataFrame, aliases: pl.DataFrame, max_aliases: int = MAX_ALIASES
) -> dict[str, list[str]]:
    """gene_id -> [symbol, usable aliases...] (see module docstring for the filter)."""
    symbols = {str(s).upper() for s in universe["symbol"].drop_nulls().to_list()}
    by_gene: dict[str, list[str]] = {}
    if aliases.height:
        for gid, alias in (
            aliases.select(pl.col("gene_id").cast(pl.Utf8), pl.col("alias").cast(pl.Utf8))
            .drop_nulls()
            .unique(maintain_order=True)
            .iter_rows()
        ):
            by_gene.setdefault(gid, []).append(alias.strip())
    out: dict[str, list[str]] = {}
    for gid, sym in universe.select("gene_id", "symbol").iter_rows():
        names = [sym]
        seen = {str(sym).upper()}
        for a in sorted(by_gene.get(gid, [])):
            ua = a.upper()
            if ua in seen or ua in symbols or not _NAME_OK.match(a):
                continue
            names.append(a)
            seen.add(ua)
            if len(names) > max_aliases:
                break
        out[gid] = names
    return out


def gene_clause(names: list[str]) -> str:
    return "(" + " OR ".join(f'"{n}"[tiab]' for n in names) + ")"


def build_queries(names: list[str], contexts: Mapping[str, str]) -> dict[str, str]:
    """{'total': gene clause, <context>: gene clause AND (context)} for one gene."""
    g = gene_clause(names)
    queries = {"total": g}
    for ctx, clause in contexts.items():
        queries[ctx] = f"{g} AND ({clause})"
    return queries


def batch_id(index: int, gene_ids: list[str]) -> str:
    """Stable id of a batch: position plus a digest of its genes (a changed universe re-pulls)."""
    digest = hashlib.sha1("\n".join(gene_ids).encode()).hexdigest()[:12]
    return f"{index:05d}-{digest}"


def pubmed_counts(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    client: CountClient,
    checkpoint: Any,
    contexts: dict[str, str],
    batch_size: int,
    *,
    workers: int = 4,
) -> pl.DataFrame:
    """Per-gene PubMed counts: gene_id, pubmed_total, pubmed_<context>..., pubmed_names.

    ``checkpoint`` is a ``BatchCheckpoint`` (``done_batch_ids``/``save_batch``/``load_all``).
    Batches already saved are not requested again; each new batch is saved atomically once all
    of its queries have answered. Within a batch up to ``workers`` requests are in flight (the
    client's rate limiter keeps them at the configured rate).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    for ctx in contexts:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", ctx):
            raise ValueError(f"context name {ctx!r} must be a lower-case identifier")
    genes = universe.select("gene_id", "symbol").unique("gene_id").sort("gene_id")
    names = gene_names(genes, aliases)
    gene_ids = genes["gene_id"].to_list()
    done = set(checkpoint.done_batch_ids())
    columns = ["pubmed_total", *[f"pubmed_{c}" for c in contexts]]
    n_batches = (len(gene_ids) + batch_size - 1) // batch_size
    todo = 0
    pending = sum(
        1
        for i in range(n_batches)
        if batch_id(i, gene_ids[i * batch_size : (i + 1) * batch_size]) not in done
    )
    prog = Progress("pubmed per_gene genes", min(len(gene_ids), pending * batch_size), unit="genes")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i in range(n_batches):
            ids = gene_ids[i * batch_size : (i + 1) * batch_size]
            bid = batch_id(i, ids)
            if bid in done:
                continue
            todo += 1
            jobs = []
            for gid in ids:
                qs = build_queries(names[gid], contexts)
                for key, term in qs.items():
                    jobs.append((gid, key, term, names[gid]))
            results = list(pool.map(lambda j: client.count(j[2], j[3]), jobs))
            rows: dict[str, dict[str, Any]] = {
                gid: {"gene_id": gid, "pubmed_names": "|".join(names[gid])} for gid in ids
            }
            for (gid, key, _, _), value in zip(jobs, results, strict=True):
                rows[gid][f"pubmed_{key}"] = int(value)
            df = pl.DataFrame(
                [rows[g] for g in ids],
                schema={"gene_id": pl.Utf8, "pubmed_names": pl.Utf8}
                | {c: pl.Int64 for c in columns},
            )
            checkpoint.save_batch(bid, df)
            log.debug("pubmed batch %s (%d/%d) saved: %d genes", bid, i + 1, n_batches, len(ids))
            prog.add(len(ids), requests=len(jobs))
    log.info(
        "pubmed: %d of %d batches requested, %d from checkpoints", todo, n_batches, n_batches - todo
    )
    saved = checkpoint.load_all()
    if saved is None:
        saved = pl.DataFrame(
            schema={"gene_id": pl.Utf8, "pubmed_names": pl.Utf8} | {c: pl.Int64 for c in columns}
        )
    out = genes.select("gene_id").join(
        saved.select("gene_id", *columns, "pubmed_names").unique("gene_id", keep="last"),
        on="gene_id",
        how="left",
    )
    missing = out.filter(pl.col("pubmed_total").is_null()).height
    if missing:
        raise RuntimeError(f"pubmed counts: {missing} genes have no checkpointed result")
    return out.select("gene_id", *columns, "pubmed_names")
