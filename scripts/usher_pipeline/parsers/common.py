"""Shared reading helpers: header validation and robust TSV loading."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from ..textio import open_text


def read_text(path: str | Path, source: str) -> str:
    """Read a whole (possibly compressed) text file; truncation and HTML pages are errors."""
    try:
        with open_text(path, source) as fh:
            text = fh.read()
    except (EOFError, zlib.error, OSError, UnicodeDecodeError) as exc:
        raise SourceFormatError(source, str(path), f"unreadable or truncated file ({exc})") from exc
    head = text.lstrip()[:200].lower()
    if head.startswith("<!doctype html") or head.startswith("<html"):
        raise SourceFormatError(source, str(path), "got an HTML page instead of the data file")
    if not text.strip():
        raise SourceFormatError(source, str(path), "file is empty")
    return text


def _line_end(text: str, start: int) -> int:
    """Where the line of ``text`` that begins at ``start`` ends (after its line break), with the
    line breaks of ``str.splitlines``."""
    newline = text.find("\n", start)
    chunk = text[start : len(text) if newline < 0 else newline + 1]
    return start + len(chunk.splitlines(keepends=True)[0]) if chunk else start


def read_tsv(
    path: str | Path,
    source: str,
    required: Sequence[str],
    *,
    header: Sequence[str] | None = None,
    skip_comment_lines: str | None = None,
    strip_hash: bool = True,
) -> pl.DataFrame:
    """Read a tab-separated file as all-string columns and check ``required`` columns exist.

    ``header``: column names for a file without a header line. ``skip_comment_lines``: drop leading
    lines starting with this prefix (e.g. '#' metadata lines of phenotype.hpoa). ``strip_hash``: a
    header line starting with '#' (NCBI style '#tax_id') is a header, its '#' removed.
    """
    text = read_text(path, source)
    # The leading lines are cut off by position (str.splitlines' line ends), not by splitting
    # and joining the whole file again.
    start = 0
    if skip_comment_lines:
        while start < len(text) and text.startswith(skip_comment_lines, start):
            start = _line_end(text, start)
    if header is None:
        if start >= len(text):
            raise SourceFormatError(source, str(path), "no header line")
        end = _line_end(text, start)
        first = text[start:end].rstrip("\r\n")
        if strip_hash and first.startswith("#"):
            first = first[1:]
        cols = first.split("\t")
        start = end
    else:
        cols = list(header)
    missing = [c for c in required if c not in cols]
    if missing:
        raise SourceFormatError(
            source,
            str(path),
            f"missing column(s) {missing}; found {cols[:20]} (schema drift in a new release?)",
        )
    if len(set(cols)) != len(cols):
        raise SourceFormatError(source, str(path), f"duplicate column names in header {cols}")
    data = text[start:]
    if not data or data.isspace():
        return pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in cols})
    try:
        df = pl.read_csv(
            io.StringIO(data),
            separator="\t",
            has_header=False,
            new_columns=cols,
            schema={c: pl.String for c in cols},
            quote_char=None,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"malformed rows ({exc})") from exc
    return df


def to_int(df: pl.DataFrame, col: str, source: str, path: str | Path) -> pl.DataFrame:
    """Cast a column to Int64, failing with the offending value named."""
    casted = df[col].str.strip_chars().cast(pl.Int64, strict=False)
    bad = df.filter(casted.is_null() & df[col].is_not_null() & (df[col] != ""))
    if bad.height:
        raise SourceFormatError(
            source, str(path), f"column '{col}' has non-integer value {bad[col][0]!r}"
        )
    return df.with_columns(casted.alias(col))


def dash_to_null(expr: pl.Expr) -> pl.Expr:
    """NCBI writes '-' for empty fields."""
    return pl.when(expr.is_in(["-", ""])).then(None).otherwise(expr)
