"""Deterministic, atomic Parquet output.

Every file is zstd-compressed with a fixed row-group size, its rows in a stable order, and carries
only time-independent key-value metadata (``usher_pipeline.*``), so the same data written twice
gives byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ._common import atomic_path, content_hash, sha256_file, to_polars

ROW_GROUP_SIZE = 65_536
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9
METADATA_PREFIX = "usher_pipeline."


def _as_polars(df: Any) -> pl.DataFrame:
    return to_polars(df)


def write_parquet(
    df: Any,
    path: str | os.PathLike[str],
    *,
    sort_by: str | Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    content_sha256: str | None = None,
) -> str:
    """Write ``df`` (polars, pandas or pyarrow) to ``path`` atomically; return the file's sha256.

    Rows are sorted by ``sort_by`` (stable, nulls last) when given, else kept in the given order.
    ``metadata`` values are stored as strings under ``usher_pipeline.<key>``; the table's canonical
    content hash is always added as ``usher_pipeline.content_sha256`` (``content_sha256``: that
    hash when the caller already has it; it does not depend on row order). Never put timestamps in
    it.
    """
    frame = _as_polars(df)
    if sort_by:
        keys = [sort_by] if isinstance(sort_by, str) else list(sort_by)
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise KeyError(f"sort_by columns not in the table: {missing}")
        frame = frame.sort(keys, maintain_order=True, nulls_last=True)
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    chash = content_sha256 if content_sha256 is not None else content_hash(frame)
    kv: dict[str, str] = {f"{METADATA_PREFIX}content_sha256": chash}
    for key, value in (metadata or {}).items():
        full = key if key.startswith(METADATA_PREFIX) else f"{METADATA_PREFIX}{key}"
        kv[full] = value if isinstance(value, str) else str(value)
    table = table.replace_schema_metadata(dict(sorted(kv.items())))
    target = Path(path)
    with atomic_path(target) as tmp:
        pq.write_table(
            table,
            tmp,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            row_group_size=ROW_GROUP_SIZE,
            use_dictionary=True,
            write_statistics=True,
            data_page_size=1 << 20,
        )
    return sha256_file(target)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``usher_pipeline.*`` key-value metadata of a Parquet file."""
    meta = pq.ParquetFile(path).schema_arrow.metadata or {}
    out: dict[str, str] = {}
    for k, v in meta.items():
        key = k.decode()
        if key.startswith(METADATA_PREFIX):
            out[key] = v.decode()
    return out


def arrow_table(df: Any) -> pa.Table:
    """Arrow form used to hand a table to DuckDB (plain string/list types)."""
    return _as_polars(df).to_arrow(compat_level=pl.CompatLevel.oldest())
