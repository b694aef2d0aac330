"""UniProt REST: paginated TSV pull with per-page checkpoints, and the protein feature parser.

The pull uses ``/uniprotkb/search`` (``format=tsv``, ``size=<page size>``) and follows the
``Link: <...>; rel="next"`` header, which carries UniProt's cursor. Each page is saved as one
checkpoint batch, together with the URL of the next page, so a killed pull resumes at the first
page not saved (at most one page is requested again) and a finished pull sends no request.

TSV columns of the requested fields (UniProt's header names): ``Entry`` (accession),
``Gene Names`` (space separated, primary first), ``Length``, ``Coiled coil`` and
``Transmembrane`` (feature strings ``COILED 12..40; /evidence=...; COILED ...``), ``Pfam`` and
``InterPro`` (``PF00001;PF00002;``). An empty feature field of a present column means UniProt
annotates no such feature (count 0); an empty ``Length`` is NULL.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import requests

from ..errors import SourceFormatError
from .http import HttpClient
from .progress import Progress
from .sources import UNIPROT_FIELDS, UNIPROT_QUERY

log = logging.getLogger(__name__)

FETCHER_VERSION = "1"
FIELD_HEADERS = {
    "accession": "Entry",
    "gene_names": "Gene Names",
    "length": "Length",
    "ft_coiled": "Coiled coil",
    "ft_transmem": "Transmembrane",
    "xref_pfam": "Pfam",
    "xref_interpro": "InterPro",
}
REQUIRED_HEADERS = ("Entry", "Gene Names", "Length", "Coiled coil", "Transmembrane", "Pfam")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_PFAM = re.compile(r"PF\d{5}")
_IPR = re.compile(r"IPR\d{6}")


def next_link(link_header: str | None) -> str | None:
    """The URL of ``rel="next"`` in a ``Link`` header, if any."""
    if not link_header:
        return None
    for part in link_header.split(","):
        m = _LINK_NEXT.search(part)
        if m:
            return m.group(1)
    return None


def parse_uniprot_tsv(text: str, url: str = "uniprot") -> pl.DataFrame:
    """One UniProt TSV page/stream as strings, with the header validated."""
    if text.lstrip().lower().startswith(("<!doctype", "<html")):
        raise SourceFormatError("uniprot", url, "got an HTML page instead of TSV")
    header = text.split("\n", 1)[0].rstrip("\r").split("\t")
    missing = [h for h in REQUIRED_HEADERS if h not in header]
    if missing:
        raise SourceFormatError(
            "uniprot", url, f"missing column(s) {missing}; header has {header} (schema drift?)"
        )
    df = pl.read_csv(
        io.StringIO(text),
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    return df.with_columns(pl.all().fill_null(""))


def _count(feature: str, kind: str) -> pl.Expr:
    return pl.col(feature).fill_null("").str.count_matches(rf"(^|;\s*){kind}\s").cast(pl.Int64)


def uniprot_features(path_or_df: str | Path | pl.DataFrame) -> pl.DataFrame:
    """Per accession: gene_names, primary_gene, length, n_coiled_coil, n_transmembrane, pfam_ids,
    interpro_ids (lists). Accepts a UniProt TSV file or the DataFrame of raw TSV columns."""
    if isinstance(path_or_df, pl.DataFrame):
        raw = path_or_df
    else:
        from ..textio import open_text

        with open_text(path_or_df, source="uniprot") as fh:
            raw = parse_uniprot_tsv(fh.read(), str(path_or_df))
    missing = [h for h in REQUIRED_HEADERS if h not in raw.columns]
    if missing:
        raise SourceFormatError("uniprot", "table", f"missing column(s) {missing}")
    if "InterPro" not in raw.columns:
        raw = raw.with_columns(pl.lit(None, pl.Utf8).alias("InterPro"))
    raw = raw.with_columns(pl.col(c).cast(pl.Utf8) for c in raw.columns)
    out = raw.select(
        pl.col("Entry").str.strip_chars().alias("accession"),
        pl.col("Gene Names").fill_null("").str.strip_chars().alias("gene_names"),
        pl.col("Gene Names")
        .fill_null("")
        .str.strip_chars()
        .str.split(" ")
        .list.first()
        .replace("", None)
        .alias("primary_gene"),
        pl.col("Length")
        .str.strip_chars()
        .replace("", None)
        .cast(pl.Int64, strict=False)
        .alias("length"),
        _count("Coiled coil", "COILED").alias("n_coiled_coil"),
        _count("Transmembrane", "TRANSMEM").alias("n_transmembrane"),
        pl.col("Pfam")
        .fill_null("")
        .str.extract_all(_PFAM.pattern)
        .list.unique(maintain_order=True)
        .alias("pfam_ids"),
        pl.col("InterPro")
        .fill_null("")
        .str.extract_all(_IPR.pattern)
        .list.unique(maintain_order=True)
        .alias("interpro_ids"),
    )
    bad = out.filter(pl.col("accession").is_null() | (pl.col("accession") == ""))
    if bad.height:
        raise SourceFormatError("uniprot", "table", f"{bad.height} rows without an accession")
    return out.unique("accession", keep="first", maintain_order=True)


def first_page_url(
    base: str, page_size: int, query: str = UNIPROT_QUERY, fields: str = UNIPROT_FIELDS
) -> str:
    params = {"query": query, "fields": fields, "format": "tsv", "size": page_size}
    return f"{base.rstrip('/')}/uniprotkb/search?{urlencode(params)}"


def fetch_uniprot_pages(
    client: HttpClient,
    checkpoint: Any,
    base: str,
    page_size: int = 500,
    *,
    query: str = UNIPROT_QUERY,
    fields: str = UNIPROT_FIELDS,
    max_pages: int | None = None,
) -> pl.DataFrame:
    """Pull every page (resuming after the last saved page); return the raw TSV rows."""
    done = checkpoint.done_batch_ids()
    url: str | None = first_page_url(base, page_size, query, fields)
    page = 0
    if done:
        saved = checkpoint.load_all(with_batch_id=True)
        assert saved is not None
        last = max(done)
        page = int(last.split("-")[1]) + 1
        nxt = saved.filter(pl.col("batch_id") == last)["_next_url"].to_list()
        url = nxt[0] if nxt and nxt[0] else None
    prog: Progress | None = None
    while url is not None:
        if max_pages is not None and page >= max_pages:
            break
        resp: requests.Response = client.get(url, source="uniprot")
        df = parse_uniprot_tsv(resp.text, resp.url)
        nxt_url = next_link(resp.headers.get("Link"))
        df = df.with_columns(pl.lit(nxt_url or "", pl.Utf8).alias("_next_url"))
        checkpoint.save_batch(f"page-{page:06d}", df)
        if prog is None:
            total = resp.headers.get("X-Total-Results", "")
            prog = Progress("uniprot entries", int(total) if total.isdigit() else 0, unit="entries")
        prog.add(df.height)
        log.debug("uniprot page %d saved (%d rows)", page, df.height)
        url, page = nxt_url, page + 1
    saved = checkpoint.load_all()
    if saved is None:
        return pl.DataFrame(schema={h: pl.Utf8 for h in REQUIRED_HEADERS})
    return saved.drop("_next_url")
