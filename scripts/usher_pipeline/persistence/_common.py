"""Shared helpers of the state layer: identifiers, hashing, canonical forms, atomic file writes."""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

# Table names: a plain SQL identifier. Leading underscore is reserved for the store's own tables.
_TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_INTERNAL_TABLE_RE = re.compile(r"^_[A-Za-z0-9_]{1,62}$")
_CHUNK = 1 << 20


class InvalidNameError(ValueError):
    """A table or column name that the store refuses (possible SQL injection or reserved name)."""


def validate_table_name(name: object, *, internal: bool = False) -> str:
    """Return ``name`` if it is an acceptable table name, else raise InvalidNameError."""
    if not isinstance(name, str):
        raise InvalidNameError(f"table name must be a string, got {type(name).__name__}")
    if _TABLE_RE.match(name):
        return name
    if internal and _INTERNAL_TABLE_RE.match(name):
        return name
    raise InvalidNameError(
        f"invalid table name {name!r}: use letters, digits and '_' (max 63, starting with a letter)"
    )


def validate_column_names(columns: list[str]) -> None:
    """Column names may be any non-empty text without control characters or double quotes."""
    seen: set[str] = set()
    for col in columns:
        if not isinstance(col, str) or not col:
            raise InvalidNameError(f"invalid column name {col!r}: must be a non-empty string")
        if len(col) > 255 or '"' in col or any(ord(ch) < 32 or ord(ch) == 127 for ch in col):
            raise InvalidNameError(
                f"invalid column name {col!r}: no control characters or double quotes, max 255"
            )
        if col.lower() in seen:
            raise InvalidNameError(f"duplicate column name {col!r} (case-insensitive)")
        seen.add(col.lower())


def quote_ident(name: str) -> str:
    """Quote an already validated identifier for DuckDB."""
    if '"' in name or "\x00" in name:
        raise InvalidNameError(f"cannot quote identifier {name!r}")
    return f'"{name}"'


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def utc_now_iso() -> str:
    """ISO-8601 UTC timestamp with microseconds and a trailing 'Z'."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace, non-JSON values stringified)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_dir(path: str | os.PathLike[str]) -> str:
    """Hash of a directory listing: every file's relative path and sha256, in sorted order."""
    root = Path(path)
    h = hashlib.sha256()
    for sub in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = sub.relative_to(root).as_posix()
        h.update(f"{rel}\t{sha256_file(sub)}\n".encode())
    return h.hexdigest()


def count_rows(path: str | os.PathLike[str]) -> int | None:
    """Row count of a Parquet or delimited text file (header excluded); None for other files."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(p).metadata.num_rows)
    text_ext = (".tsv", ".csv", ".tsv.gz", ".csv.gz")
    if name.endswith(text_ext):
        opener = gzip.open if name.endswith(".gz") else open
        lines = 0
        last = b"\n"
        with opener(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - 1, 0)
    return None


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """sha256, size, row count (if tabular) and kind of a file or directory."""
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file()]
        return {
            "path": str(path),
            "kind": "directory",
            "sha256": sha256_dir(p),
            "size": sum(f.stat().st_size for f in files),
            "rows": None,
            "n_files": len(files),
        }
    return {
        "path": str(path),
        "kind": "file",
        "sha256": sha256_file(p),
        "size": p.stat().st_size,
        "rows": count_rows(p),
    }


def tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling path; on success fsync + ``os.replace`` it onto ``path``."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file {tmp}")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def to_polars(df: Any) -> pl.DataFrame:
    """Accept polars, pandas or pyarrow tables; return a polars DataFrame."""
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(df, pd.DataFrame):
        if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
            df = df.reset_index()
        return pl.from_pandas(df)
    import pyarrow as pa

    if isinstance(df, pa.Table):
        out = pl.from_arrow(df)
        assert isinstance(out, pl.DataFrame)
        return out
    raise TypeError(f"expected a polars/pandas/pyarrow table, got {type(df).__name__}")


def _canonical_column(name: str, s: pl.Series) -> pl.Expr:
    """Expression turning one column into unambiguous text: 'N' for null, else '<len>:<text>'."""
    col = pl.col(name)
    dtype = s.dtype
    if dtype == pl.Null:
        return pl.lit("N")
    if isinstance(dtype, pl.List) and dtype.inner == pl.String:
        # Native (no per-value Python): '<count>[' + each element length-prefixed ('N' = null) +
        # ']'. Every list column of the workflow is a list of strings.
        elem = pl.element()
        enc = (
            pl.when(elem.is_null())
            .then(pl.lit("N"))
            .otherwise(pl.concat_str([elem.str.len_bytes().cast(pl.String), pl.lit(":"), elem]))
        )
        col = pl.concat_str(
            [col.list.len().cast(pl.String), pl.lit("["), col.list.eval(enc).list.join(""),
             pl.lit("]")]
        )  # fmt: skip
    elif dtype.is_nested() or dtype == pl.Object:
        encoded = pl.Series(
            name,
            [None if v is None else canonical_json(v) for v in s.to_list()],
            dtype=pl.String,
        )
        col = pl.lit(encoded)
    elif dtype == pl.Binary:
        col = col.bin.encode("hex")
    elif dtype.is_float():
        # -0.0 == 0.0 and a single NaN spelling.
        col = pl.when(col.is_nan()).then(pl.lit("NaN")).otherwise((col + 0.0).cast(pl.String))
    else:
        col = col.cast(pl.String)
    return (
        pl.when(col.is_null())
        .then(pl.lit("N"))
        .otherwise(pl.concat_str([col.str.len_bytes().cast(pl.String), pl.lit(":"), col]))
    )


def content_hash(df: Any) -> str:
    """sha256 of a table in canonical form, independent of row order and column order.

    Columns are sorted by name; each row becomes a length-prefixed text record; the records are
    sorted (a multiset: duplicate rows count) and hashed after a header of names and types.
    """
    frame = to_polars(df)
    names = sorted(frame.columns)
    h = hashlib.sha256()
    header = [[n, str(frame.schema[n])] for n in names]
    h.update(canonical_json({"columns": header, "rows": frame.height}).encode())
    if frame.height == 0 or not names:
        return h.hexdigest()
    exprs = [_canonical_column(n, frame.get_column(n)) for n in names]
    rows = frame.select(pl.concat_str(exprs, separator="\x1f").alias("r")).get_column("r").sort()
    step = 50_000
    for start in range(0, rows.len(), step):
        part = rows.slice(start, step)
        h.update(("\x1e".join(part.to_list()) + "\x1e").encode("utf-8"))
    return h.hexdigest()


def dataset_version(content_sha256: str) -> str:
    """The short dataset version derived from a content hash."""
    return content_sha256[:16]
