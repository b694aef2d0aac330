"""Checkpoint tables for fetches (live mode).

Key = source + release + normalized request (URL, parameters) + fetcher code version. A fetch whose
key is recorded, and whose stored file still has the recorded sha256, is served from disk with no
network access. Item-wise pulls (one request per gene or page) save results per batch, so a killed
pull resumes and loses at most one batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import polars as pl

from ._common import (
    atomic_path,
    canonical_json,
    count_rows,
    quote_ident,
    sha256_file,
    sha256_text,
    utc_now_iso,
    validate_column_names,
)
from .parquet import arrow_table
from .store import PipelineStore, _table_exists

FETCH_KEY_VERSION = "1"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default port and fragment, sort query parameters."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = urllib.parse.urlencode(sorted(urllib.parse.parse_qsl(parts.query, True)))
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _normalize_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _normalize_value(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))
        }
    if isinstance(value, (list, tuple)):
        return [_normalize_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_normalize_value(v) for v in value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def normalize_request(request: Mapping[str, Any]) -> str:
    """Canonical JSON of a request: keys sorted, ``url`` normalized, sets sorted.

    Secrets must not be part of the request (pass API keys outside it).
    """
    req = {str(k): v for k, v in dict(request).items()}
    if isinstance(req.get("url"), str):
        req["url"] = normalize_url(req["url"])
    return canonical_json(_normalize_value(req))


def fetch_key(source: str, release: str, request: Mapping[str, Any], fetcher_version: str) -> str:
    """sha256 key of one fetch: source + release + normalized request + fetcher code version."""
    basis = {
        "v": FETCH_KEY_VERSION,
        "source": str(source),
        "release": str(release),
        "request": normalize_request(request),
        "fetcher_version": str(fetcher_version),
    }
    return sha256_text(canonical_json(basis))


@dataclass(frozen=True)
class FetchResult:
    path: Path
    sha256: str
    size: int
    fetched_at: str
    from_cache: bool
    key: str
    row_count: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _safe_source(source: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(source))
    if not cleaned.strip("._"):
        raise ValueError(f"invalid source name {source!r}")
    return cleaned


class FetchCache:
    """Fetch checkpoints stored in the state database, files under ``<cache_dir>/<source>/``."""

    def __init__(
        self,
        store: PipelineStore,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        fetch_lock_timeout_s: float = 3600.0,
    ) -> None:
        self.store = store
        self.cache_dir = Path(cache_dir) if cache_dir else store.state_dir / "downloads"
        self.fetch_lock_timeout_s = fetch_lock_timeout_s

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], store: PipelineStore | None = None
    ) -> FetchCache:
        store = store or PipelineStore.from_config(config)
        cache_dir = (config.get("live") or {}).get("cache_dir")
        return cls(store, cache_dir)

    def _lookup(self, key: str) -> dict[str, Any] | None:
        with self.store._transaction("fetch_lookup", write=False) as con:
            rel = con.sql(
                "SELECT * FROM _fetch_checkpoints WHERE key = ? ORDER BY fetched_at DESC LIMIT 1",
                params=[key],
            )
            rows = rel.to_arrow_table().to_pylist()
        return rows[0] if rows else None

    def lookup(
        self, source: str, release: str, request: Mapping[str, Any], fetcher_version: str
    ) -> FetchResult | None:
        """The valid cached result of a fetch, or None (no record, file missing or changed)."""
        key = fetch_key(source, release, request, fetcher_version)
        return self._valid(key)

    def _valid(self, key: str) -> FetchResult | None:
        row = self._lookup(key)
        if row is None:
            return None
        path = Path(row["path"])
        if not path.is_file() or sha256_file(path) != row["sha256"]:
            return None
        self.store.refs.append({"direction": "fetch", "path": key, "sha256": row["sha256"]})
        return FetchResult(
            path=path,
            sha256=row["sha256"],
            size=int(row["size"]),
            fetched_at=row["fetched_at"],
            from_cache=True,
            key=key,
            row_count=row["row_count"],
            meta=json.loads(row["meta_json"] or "{}"),
        )

    def get_or_fetch(
        self,
        source: str,
        release: str,
        request: Mapping[str, Any],
        fetcher_version: str,
        fetch: Callable[[Path], Mapping[str, Any] | None],
        suffix: str = "",
    ) -> FetchResult:
        """Return the cached file for this key, or call ``fetch(tmp_path)`` and record it.

        ``fetch`` writes the download to the path it is given and may return a dict of metadata
        (``url``, ``etag``, ``last_modified``, ``row_count`` ...), kept in ``FetchResult.meta``.
        """
        key = fetch_key(source, release, request, fetcher_version)
        hit = self._valid(key)
        if hit is not None:
            return hit
        folder = self.cache_dir / _safe_source(source)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{key}{suffix}"
        # One download per key at a time, across processes; the loser re-checks the cache.
        klock = filelock.FileLock(
            str(folder / f"{key}.fetch.lock"),
            timeout=self.fetch_lock_timeout_s,
            thread_local=False,
            preserve_lock_file=True,
        )
        with klock:
            hit = self._valid(key)
            if hit is not None:
                return hit
            with atomic_path(final) as tmp:
                returned = fetch(tmp)
                meta = dict(returned) if isinstance(returned, Mapping) else {}
            digest = sha256_file(final)
            size = final.stat().st_size
            rows = meta.get("row_count")
            if rows is None:
                with contextlib.suppress(Exception):
                    rows = count_rows(final)
            fetched_at = utc_now_iso()
            with self.store._transaction(f"fetch_record:{source}") as con:
                con.execute("DELETE FROM _fetch_checkpoints WHERE key = ?", [key])
                con.execute(
                    "INSERT INTO _fetch_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        key,
                        str(source),
                        str(release),
                        normalize_request(request),
                        str(fetcher_version),
                        str(final),
                        digest,
                        size,
                        rows,
                        fetched_at,
                        canonical_json(meta),
                    ],
                )
        self.store.refs.append({"direction": "fetch", "path": key, "sha256": digest})
        return FetchResult(
            path=final,
            sha256=digest,
            size=size,
            fetched_at=fetched_at,
            from_cache=False,
            key=key,
            row_count=None if rows is None else int(rows),
            meta=meta,
        )

    def list(self) -> pl.DataFrame:
        return self.store.execute_query(
            "SELECT key, source, release, fetcher_version, path, sha256, size, row_count, "
            "fetched_at FROM _fetch_checkpoints ORDER BY source, fetched_at"
        )

    def invalidate(self, key_or_source: str, *, delete_files: bool = True) -> int:
        """Forget fetch checkpoints whose key starts with, or whose source equals, the argument.

        Returns how many records (fetches and batch sets) were removed.
        """
        if not key_or_source:
            raise ValueError("give a source name or a fetch key (at least 6 hex characters)")
        is_key = len(key_or_source) >= 6 and all(c in "0123456789abcdef" for c in key_or_source)
        # LIKE wildcards cannot occur in a hex prefix; a non-key never matches a key.
        pattern = key_or_source + "%" if is_key else "-"
        with self.store._transaction(f"fetch_invalidate:{key_or_source}") as con:
            rows = con.execute(
                "SELECT key, path FROM _fetch_checkpoints WHERE key LIKE ? OR source = ?",
                [pattern, key_or_source],
            ).fetchall()
            con.execute(
                "DELETE FROM _fetch_checkpoints WHERE key LIKE ? OR source = ?",
                [pattern, key_or_source],
            )
            batch_keys = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT key FROM _batch_done WHERE key LIKE ? OR key IN "
                    "(SELECT key FROM _batch_sets WHERE source = ?)",
                    [pattern, key_or_source],
                ).fetchall()
            ]
            for bkey in batch_keys:
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(_batch_table(bkey))}")
                con.execute("DELETE FROM _batch_done WHERE key = ?", [bkey])
                con.execute("DELETE FROM _batch_sets WHERE key = ?", [bkey])
        if delete_files:
            for _, path in rows:
                with contextlib.suppress(FileNotFoundError):
                    Path(path).unlink()
        return len(rows) + len(batch_keys)

    def batches(
        self, source: str, release: str, request: Mapping[str, Any], fetcher_version: str
    ) -> BatchCheckpoint:
        """Checkpoint for an item-wise pull; its key is built like a fetch key."""
        key = fetch_key(source, release, request, fetcher_version)
        return BatchCheckpoint(self.store, key, source=str(source), release=str(release))


def _batch_table(key: str) -> str:
    return f"_batch_{key[:32]}"


class BatchCheckpoint:
    """Rows of an item-wise pull, saved one batch per transaction.

    All rows live in one table with a ``batch_id`` column; ``_batch_done`` lists finished batches.
    A batch is visible only once its rows and its done row are committed together.
    """

    def __init__(self, store: PipelineStore, key: str, *, source: str = "", release: str = ""):
        self.store = store
        self.key = key
        self.source = source
        self.release = release
        self.table = _batch_table(key)
        store.refs.append({"direction": "batch", "path": key, "sha256": None})

    def done_batch_ids(self) -> set[str]:
        with self.store._transaction("batch_done_ids", write=False) as con:
            rows = con.execute(
                "SELECT batch_id FROM _batch_done WHERE key = ?", [self.key]
            ).fetchall()
        return {r[0] for r in rows}

    def save_batch(self, batch_id: str, df: pl.DataFrame) -> None:
        """Store one batch atomically (re-saving a batch id replaces it)."""
        if not isinstance(batch_id, str) or not batch_id:
            raise ValueError("batch_id must be a non-empty string")
        frame = df if isinstance(df, pl.DataFrame) else pl.DataFrame(df)
        if "batch_id" in frame.columns:
            raise ValueError("a batch may not have its own 'batch_id' column")
        validate_column_names(frame.columns)
        # Null-typed columns (all values missing in this batch) become strings.
        frame = frame.with_columns(
            [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t == pl.Null]
        )
        frame = frame.with_columns(
            pl.lit(batch_id).alias("batch_id"), pl.int_range(pl.len()).alias("_row")
        )
        arrow = arrow_table(frame)
        q = quote_ident(self.table)
        view = f"_b_{os.getpid()}"
        with self.store._transaction(f"batch_save:{self.source}") as con:
            con.register(view, arrow)
            try:
                if not _table_exists(con, self.table):
                    con.execute(f"CREATE TABLE {q} AS SELECT * FROM {quote_ident(view)} LIMIT 0")
                    con.execute(
                        "INSERT INTO _batch_sets VALUES (?, ?, ?, ?)",
                        [self.key, self.source, self.release, utc_now_iso()],
                    )
                con.execute(f"DELETE FROM {q} WHERE batch_id = ?", [batch_id])
                con.execute(f"INSERT INTO {q} BY NAME SELECT * FROM {quote_ident(view)}")
            finally:
                con.unregister(view)
            con.execute(
                "DELETE FROM _batch_done WHERE key = ? AND batch_id = ?", [self.key, batch_id]
            )
            seq = con.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM _batch_done WHERE key = ?", [self.key]
            ).fetchall()[0][0]
            con.execute(
                "INSERT INTO _batch_done VALUES (?, ?, ?, ?, ?)",
                [self.key, batch_id, frame.height, utc_now_iso(), seq],
            )

    def load_all(self, *, with_batch_id: bool = False) -> pl.DataFrame | None:
        """All rows of finished batches, in save order; None when nothing was saved."""
        q = quote_ident(self.table)
        with self.store._transaction("batch_load", write=False) as con:
            if not _table_exists(con, self.table):
                return None
            table = con.sql(
                f"SELECT t.* FROM {q} t JOIN _batch_done d ON d.key = ? AND d.batch_id = t.batch_id"
                " ORDER BY d.seq, t._row",
                params=[self.key],
            ).to_arrow_table()
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        if out.height == 0:
            return None
        out = out.drop("_row")
        return out if with_batch_id else out.drop("batch_id")

    def clear(self) -> None:
        with self.store._transaction("batch_clear") as con:
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(self.table)}")
            con.execute("DELETE FROM _batch_done WHERE key = ?", [self.key])
