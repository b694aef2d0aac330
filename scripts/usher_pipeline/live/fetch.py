"""Entry points of the live fetch rules: whole-file sources and the item-wise pulls.

Every pull goes through the state layer's checkpoint tables (``FetchCache``): a whole file is
downloaded, validated (:mod:`.validate`) and only then committed to the cache; a rerun with the
same source key, release label, URL and fetcher version is served from the cache with zero
requests. Item-wise pulls save one checkpoint batch per gene batch / UniProt page.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..parsers.ncbi import read_gene2pubmed
from ..persistence import FetchCache, PipelineStore
from .http import HttpClient, ncbi_api_key
from .literature import FETCHER_VERSION as PUBMED_FETCHER_VERSION
from .literature import EutilsClient, pubmed_counts
from .pubmed_bulk import FETCHER_VERSION as BULK_FETCHER_VERSION
from .pubmed_bulk import (
    EutilsHistoryClient,
    context_pmids,
    gene_context_counts,
)
from .settings import literature_settings, pubmed_contexts
from .sources import (
    UNIPROT_FIELDS,
    UNIPROT_QUERY,
    eutils_base,
    get_spec,
    live_config,
    source_release,
    source_url,
    uniprot_base,
)
from .uniprot import FETCHER_VERSION as UNIPROT_FETCHER_VERSION
from .uniprot import fetch_uniprot_pages
from .validate import validate_file

log = logging.getLogger(__name__)


@dataclass
class FetchOutcome:
    """Provenance of one fetched source (for ``RuleRun.add_source``)."""

    key: str
    release: str
    url: str
    path: Path
    sha256: str
    size: int
    retrieved_at: str
    from_cache: bool
    etag: str | None = None
    last_modified: str | None = None

    @property
    def validators(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["etag"] = self.etag
        if self.last_modified:
            out["last_modified"] = self.last_modified
        return out


def _open_cache(config: Mapping[str, Any]) -> FetchCache:
    return FetchCache.from_config(config, PipelineStore.from_config(config))


def link_or_copy(src: Path, dest: Path) -> None:
    """Place ``src`` at ``dest`` atomically (hard link when possible, else copy)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fetch_to(
    key: str,
    config: Mapping[str, Any],
    dest: str | Path,
    *,
    client: HttpClient | None = None,
    cache: FetchCache | None = None,
) -> FetchOutcome:
    """Fetch live source ``key`` (through the fetch cache) and place it at ``dest``."""
    spec = get_spec(key)
    url = source_url(key, config)
    release = source_release(key, config)
    own_client = client is None
    http = client or HttpClient.from_config(config)
    fc = cache or _open_cache(config)

    def fetch(tmp: Path) -> dict[str, Any]:
        log.info("fetching %s from %s", key, url)
        info = http.download(url, tmp, source=key, validate=lambda p: validate_file(spec, p, url))
        return info.as_metadata()

    try:
        result = fc.get_or_fetch(key, release, {"url": url}, spec.fetcher_version, fetch)
    finally:
        if own_client:
            http.close()
    link_or_copy(result.path, Path(dest))
    meta = dict(result.meta or {})
    log.info(
        "%s: %s (%d bytes, sha256 %s)",
        key,
        "from cache" if result.from_cache else "downloaded",
        result.size,
        result.sha256[:12],
    )
    return FetchOutcome(
        key=key,
        release=release,
        url=str(meta.get("url") or url),
        path=Path(dest),
        sha256=result.sha256,
        size=result.size,
        retrieved_at=str(meta.get("retrieved_at") or result.fetched_at),
        from_cache=result.from_cache,
        etag=meta.get("etag"),
        last_modified=meta.get("last_modified"),
    )


def pubmed_release(config: Mapping[str, Any]) -> str:
    live = live_config(config)
    return str((live.get("sources") or {}).get("pubmed", {}).get("release") or "current")


def bulk_request(config: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint key's request of the bulk pull (contexts, date range, slice limit)."""
    lit = literature_settings(config)
    return {
        "url": f"{eutils_base(config)}/esearch.fcgi",
        "method": "bulk-history",
        "contexts": pubmed_contexts(config),
        "date_range": lit["date_range"],
        "max_ids_per_slice": lit["max_ids_per_slice"],
    }


def pull_pubmed_bulk(
    config: Mapping[str, Any],
    universe: pl.DataFrame,
    gene2pubmed: str | Path,
    *,
    client: HttpClient | None = None,
    cache: FetchCache | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Per-gene context counts by the bulk method (see :mod:`.pubmed_bulk`); (table, stats).

    ``gene2pubmed`` is the live gene2pubmed download (``results/live/raw/gene2pubmed``), read
    with the snapshot's parser.
    """
    live = live_config(config)
    lit = literature_settings(config)
    contexts = pubmed_contexts(config)
    http = client or HttpClient.from_config(config)
    fc = cache or _open_cache(config)
    checkpoint = fc.batches(
        "pubmed", pubmed_release(config), bulk_request(config), BULK_FETCHER_VERSION
    )
    eutils = EutilsHistoryClient(
        http, eutils_base(config), api_key=ncbi_api_key(config), email=live.get("ncbi_email")
    )
    try:
        sets, stats = context_pmids(
            eutils,
            checkpoint,
            contexts,
            date_range=(lit["date_range"][0], lit["date_range"][1]),
            max_ids=lit["max_ids_per_slice"],
        )
    finally:
        if client is None:
            http.close()
    links = read_gene2pubmed(gene2pubmed)
    stats["links"] = lit["links"]
    stats["link_rows"] = links.height
    return gene_context_counts(universe, links, sets), stats


def pull_pubmed_counts(
    config: Mapping[str, Any],
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    *,
    client: HttpClient | None = None,
    cache: FetchCache | None = None,
) -> pl.DataFrame:
    """Per-gene PubMed counts for ``universe`` with batch checkpoints (see :mod:`.literature`)."""
    live = live_config(config)
    contexts = pubmed_contexts(config)
    batch_size = int(live.get("batch_size", 200))
    base = eutils_base(config)
    release = pubmed_release(config)
    http = client or HttpClient.from_config(config)
    fc = cache or _open_cache(config)
    request = {"url": f"{base}/esearch.fcgi", "contexts": contexts, "batch_size": batch_size}
    checkpoint = fc.batches("pubmed", release, request, PUBMED_FETCHER_VERSION)
    eutils = EutilsClient(http, base, api_key=ncbi_api_key(config), email=live.get("ncbi_email"))
    try:
        return pubmed_counts(
            universe,
            aliases,
            eutils,
            checkpoint,
            contexts,
            batch_size,
            workers=int(live.get("workers", 4)),
        )
    finally:
        if client is None:
            http.close()


def pull_uniprot(
    config: Mapping[str, Any],
    *,
    client: HttpClient | None = None,
    cache: FetchCache | None = None,
) -> pl.DataFrame:
    """All reviewed human UniProt entries (raw TSV columns), one checkpoint batch per page."""
    live = live_config(config)
    page_size = int(live.get("uniprot_page_size", 500))
    base = uniprot_base(config)
    release = str((live.get("sources") or {}).get("uniprot", {}).get("release") or "current")
    http = client or HttpClient.from_config(config)
    fc = cache or _open_cache(config)
    request = {
        "url": f"{base}/uniprotkb/search",
        "query": UNIPROT_QUERY,
        "fields": UNIPROT_FIELDS,
        "size": page_size,
    }
    checkpoint = fc.batches("uniprot", release, request, UNIPROT_FETCHER_VERSION)
    try:
        return fetch_uniprot_pages(http, checkpoint, base, page_size)
    finally:
        if client is None:
            http.close()
