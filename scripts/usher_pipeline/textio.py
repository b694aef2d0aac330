"""Open upstream text files whatever their compression (plain, gzip, single-member zip)."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import SourceFormatError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


@contextmanager
def open_text(path: str | Path, source: str = "file") -> Iterator[IO[str]]:
    """Open ``path`` for reading text, detecting gzip or zip by magic bytes, not by extension."""
    p = Path(path)
    if not p.exists():
        raise SourceFormatError(source, str(p), "file not found")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        with gzip.open(p, "rt", encoding="utf-8", newline="") as fh:
            yield fh
    elif magic == ZIP_MAGIC:
        with zipfile.ZipFile(p) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise SourceFormatError(
                    source, str(p), f"zip archive has {len(members)} files, expected 1"
                )
            with zf.open(members[0]) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8", newline="")
    else:
        with open(p, encoding="utf-8", newline="") as fh:
            yield fh
