"""Download-time checks: run on the temp file BEFORE it is committed to the fetch cache.

Each check raises :class:`~usher_pipeline.errors.SourceFormatError` naming the source and URL:

* HTML sniffing: an error / maintenance / login page served with status 200 instead of data.
* Compression integrity: a gzip file is decompressed to the end (a truncated member raises
  ``EOFError``, a corrupt one a CRC error); a zip file's central directory and member CRCs are
  checked.
* Layout: the header line (tab-separated; space-separated for STRING's ``ssv`` files) must hold
  the source's required columns (schema drift: a renamed column in a new release), or, for header-less ``.obo`` / ``.rpt`` files, the first data lines
  must match the source's signature.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..errors import SourceFormatError
from .sources import SourceSpec

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_HTML_RE = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.I)
_MAX_PREAMBLE_LINES = 500


def looks_like_html(head: bytes) -> bool:
    """True when the first bytes of a body are an HTML document."""
    return bool(_HTML_RE.match(head.lstrip(b"\xef\xbb\xbf")))


def _drain(fh: IO[bytes]) -> None:
    while fh.read(1 << 20):
        pass


def _check_gzip(path: Path, spec: SourceSpec, url: str) -> None:
    try:
        with gzip.open(path, "rb") as fh:
            _drain(fh)
    except EOFError as exc:
        raise SourceFormatError(spec.key, url, f"truncated gzip download ({exc})") from exc
    except (OSError, zlib.error) as exc:
        raise SourceFormatError(spec.key, url, f"corrupt gzip download ({exc})") from exc


def _check_zip(path: Path, spec: SourceSpec, url: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            members = [m for m in zf.namelist() if not m.endswith("/")]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise SourceFormatError(
            spec.key, url, f"corrupt or truncated zip download ({exc})"
        ) from exc
    if bad is not None:
        raise SourceFormatError(spec.key, url, f"zip member {bad!r} fails its CRC check")
    if len(members) != 1:
        raise SourceFormatError(spec.key, url, f"zip archive has {len(members)} files, expected 1")


def _open_lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic.startswith(GZIP_MAGIC):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            yield from fh
    elif magic == ZIP_MAGIC:
        with zipfile.ZipFile(path) as zf:
            member = [m for m in zf.namelist() if not m.endswith("/")][0]
            with zf.open(member) as raw:
                yield from io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    else:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            yield from fh


def read_header(lines: Iterator[str], spec: SourceSpec, url: str) -> list[str]:
    """The column names of a tab-separated file.

    Lines starting with ``#`` without a tab are comments (phenotype.hpoa preamble); a header
    line may itself start with ``#`` (NCBI ``#tax_id``, MANE ``#NCBI_GeneID``), which is dropped.
    """
    for n, line in enumerate(lines):
        if n >= _MAX_PREAMBLE_LINES:
            break
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("#") and "\t" not in text:
            continue
        return [c.strip() for c in text.lstrip("#").split("\t")]
    raise SourceFormatError(spec.key, url, "no header line found (empty file?)")


def check_columns(columns: list[str], spec: SourceSpec, url: str) -> None:
    """Raise when a required column is missing (names the missing and the found columns)."""
    missing = [c for c in spec.required_columns if c not in columns]
    if missing:
        shown = ", ".join(columns[:20]) + (" …" if len(columns) > 20 else "")
        raise SourceFormatError(
            spec.key,
            url,
            f"missing required column(s) {missing}; header has: {shown} "
            "(schema drift in a new release?)",
        )


def validate_file(spec: SourceSpec, path: str | Path, url: str) -> list[str]:
    """Run every check for ``spec`` on the downloaded file; return the header columns (or [])."""
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if not head:
        raise SourceFormatError(spec.key, url, "empty download")
    if looks_like_html(head):
        raise SourceFormatError(spec.key, url, "got an HTML page instead of the data file")
    if head.startswith(GZIP_MAGIC):
        _check_gzip(p, spec, url)
    elif head.startswith(ZIP_MAGIC):
        _check_zip(p, spec, url)
    elif spec.compression in ("gzip", "zip"):
        raise SourceFormatError(
            spec.key, url, f"expected a {spec.compression} file, got bytes {head[:16]!r}"
        )
    lines = _open_lines(p)
    try:
        first = next(iter(lines), "")
        # decompressed content may itself be an HTML page (a zipped error page)
        if looks_like_html(first.encode()):
            raise SourceFormatError(spec.key, url, "got an HTML page instead of the data file")
        columns: list[str] = []
        if spec.layout == "tsv":
            columns = read_header(_chain(first, lines), spec, url)
            check_columns(columns, spec, url)
        elif spec.layout == "ssv":
            columns = first.split()
            check_columns(columns, spec, url)
        elif spec.layout == "gct":
            columns = _gct_header(_chain(first, lines), spec, url)
            check_columns(columns, spec, url)
        elif spec.layout in ("obo", "signature"):
            _check_signature(_chain(first, lines), spec, url)
        else:  # pragma: no cover - registry consistency is tested
            raise ValueError(f"unknown layout {spec.layout!r}")
    finally:
        close = getattr(lines, "close", None)
        if close:
            close()
    return columns


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _gct_header(lines: Iterator[str], spec: SourceSpec, url: str) -> list[str]:
    version = next(lines, "").strip()
    dims = next(lines, "").split("\t")
    if (
        not version.startswith("#1.")
        or len(dims) < 2
        or not all(d.strip().isdigit() for d in dims[:2])
    ):
        raise SourceFormatError(
            spec.key,
            url,
            f"not a GCT file (first line {version!r}, expected '#1.2' and dimensions)",
        )
    header = next(lines, "")
    return [c.strip() for c in header.rstrip("\r\n").split("\t")]


def _check_signature(lines: Iterator[str], spec: SourceSpec, url: str) -> None:
    pattern = re.compile(spec.signature or ".")
    seen = []
    for n, line in enumerate(lines):
        if n >= spec.signature_lines:
            break
        text = line.rstrip("\r\n")
        seen.append(text)
        if pattern.search(text):
            return
    preview = " | ".join(s[:60] for s in seen[:3])
    raise SourceFormatError(
        spec.key,
        url,
        f"first {len(seen)} lines do not match the signature /{spec.signature}/: {preview!r}",
    )
