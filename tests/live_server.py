"""Loopback HTTP server that stands in for the live upstream sources in tests and benchmarks.

It serves the real files of the shared data folder (``../shared/data`` beside the clone, or
``$USHER_SHARED_DATA``) under their upstream paths and in their upstream layouts (plain text where
upstream is plain, gzip where gzip, a one-member zip for the HPA and Reactome downloads). Files
whose upstream layout differs from the shared copy are rebuilt from the shared values (each
builder's docstring says how): the GO obo, the HGNC complete set, STRING's detailed links and
protein info (from the shared STRING v12 table), and HPA's current subcellular download with the
cilia categories (from the shared HPA v25.1 cilia-atlas rows; the v17 table is served under
``/download/tsv/v17/``). It also emulates:

* the UniProt REST search endpoint (``/uniprotkb/search``): TSV pages with a
  ``Link: <...>; rel="next"`` header. Rows are real: HGNC's UniProt accession and symbol per gene,
  Pfam IDs from NCBI gene2pfam for that gene. Length, coiled coil, transmembrane and InterPro are
  not available offline and are served empty.
* E-utilities esearch (``/entrez/eutils/esearch.fcgi``, JSON). Counts are deterministic and come
  from the real gene2pubmed links: a quoted phrase matches a gene by NCBI symbol or synonym; the
  total is the number of PMIDs linked to the matched genes. The context clause is emulated: a PMID
  is "in context" when gene2pubmed also links it to a gene of a real reference set (cilia: the
  SYSCILIA gold standard; photoreceptor: the HPO Usher genes; sensory: both). Like PubMed, a
  quoted phrase that matches nothing is reported in ``errorlist.phrasesnotfound`` and ignored.
* the E-utilities history server for the bulk literature pull (``usehistory=y``): a context query
  alone returns its count, a ``WebEnv`` and a ``query_key``; ``term=#<query_key>`` with that
  ``WebEnv`` and ``mindate``/``maxdate`` returns the records of that publication-date slice, at most
  10,000 IDs (like PubMed, ``count`` stays the full slice count). By default a context's records
  are the PMIDs of the per-gene emulation above (in gene2pubmed, linked to a reference-set gene);
  :meth:`LiveServer.set_pubmed_context_sizes` replaces them with N fake IDs per context (benchmark
  sizes). Publication dates are a deterministic function of the PMID (:func:`pmid_pub_date`).

Every request is counted per path and logged with its query. Faults can be switched on per path
for the next N requests (or for all): ``429`` (with Retry-After), ``500``, ``stall`` (sleeps
longer than the client timeout), ``drop`` (closes the connection mid-body), ``truncate_gzip``
(a consistently truncated gzip body), ``html`` (an HTML error page with status 200),
``missing_column`` (a required header column renamed) and ``short_ids`` (a history-server slice
returns one ID fewer than its count), ``pause`` (sends half the body, sets
:attr:`LiveServer.paused`, waits ``stall_s``, then sends the rest: a client killed meanwhile dies
mid-download). ``latency_s`` delays every response.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import gzip
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import polars as pl


def shared_data_dir() -> Path:
    env = os.environ.get("USHER_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def _gunzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        return fh.read()


def _zip_one(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
    return buf.getvalue()


_NS = {"BP": "biological_process", "CC": "cellular_component", "MF": "molecular_function"}
_REL = {
    "part of": "part_of",
    "regulates": "regulates",
    "negatively regulates": "negatively_regulates",
    "positively regulates": "positively_regulates",
}


def build_go_basic_obo(data: Path) -> bytes:
    """go-basic.obo layout rebuilt from the real GO 2022-07-01 term and edge tables."""
    terms = pl.read_csv(data / "go_2022-07-01/go_terms.tsv.gz", separator="\t", quote_char=None)
    edges = pl.read_csv(data / "go_2022-07-01/go_edges.tsv.gz", separator="\t", quote_char=None)
    names = dict(zip(terms["go_id"], terms["name"], strict=True))
    by_child: dict[str, list[tuple[str, str]]] = {}
    for child, parent, rel in edges.select("child", "parent", "relationship").iter_rows():
        by_child.setdefault(child, []).append((parent, rel))
    out = [
        "format-version: 1.2",
        "data-version: releases/2022-07-01",
        "default-namespace: gene_ontology",
        "ontology: go",
        "",
    ]
    for go_id, name, ns in terms.select("go_id", "name", "namespace").iter_rows():
        out += ["[Term]", f"id: {go_id}", f"name: {name}", f"namespace: {_NS.get(ns, ns)}"]
        for parent, rel in by_child.get(go_id, []):
            tail = f"{parent} ! {names.get(parent, '')}"
            out.append(f"is_a: {tail}" if rel == "isa" else f"relationship: {_REL[rel]} {tail}")
        out.append("")
    return ("\n".join(out) + "\n").encode()


def build_hgnc_complete_set(data: Path) -> bytes:
    """hgnc_complete_set.txt layout from the real HGNC/UniProt/Ensembl/NCBI mapping (19,324 genes).

    Only the columns that mapping holds are filled; the others (name, aliases, ...) are empty.
    """
    df = pl.read_csv(
        data / "hgnc_uniprot_2026-06/hgnc_uniprot_ensembl_ncbi.tsv.gz",
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    out = pl.DataFrame(
        {
            "hgnc_id": df["hgnc_id"],
            "symbol": df["hgnc_symbol"],
            "name": [""] * df.height,
            "locus_group": ["protein-coding gene"] * df.height,
            "locus_type": ["gene with protein product"] * df.height,
            "status": ["Approved"] * df.height,
            "alias_symbol": [""] * df.height,
            "prev_symbol": [""] * df.height,
            "entrez_id": df["ncbi_gene_id"],
            "ensembl_gene_id": df["ensembl_gene"],
            "uniprot_ids": df["uniprot_acc"],
        }
    )
    buf = io.BytesIO()
    out.write_csv(buf, separator="\t", quote_style="never")
    return buf.getvalue()


# Channel pairs (direct, transferred) of the shared STRING table -> the detailed file's channel.
_STRING_DETAILED = {
    "neighborhood": ("neighborhood", "neighborhood_transferred"),
    "fusion": ("fusion",),
    "cooccurence": ("cooccurence",),
    "coexpression": ("coexpression", "coexpression_transferred"),
    "experimental": ("experiments", "experiments_transferred"),
    "database": ("database", "database_transferred"),
}
_STRING_PRIOR = 0.041


def _string_proteins(data: Path) -> pl.DataFrame:
    """GeneID -> stand-in STRING protein ID ``9606.<Ensembl gene>`` and the 2022 NCBI symbol.

    STRING names proteins by Ensembl protein IDs, which no offline file holds; the gene's real
    Ensembl gene ID (NCBI gene2ensembl, smallest when several; genes sharing one are left out)
    stands in for it. ``preferred_name`` is the gene's NCBI symbol of 2022 (the STRING v12 era).
    Only the genes of the shared STRING table are listed.
    """
    net = pl.read_csv(
        data / "string_v12/string_v12_human_entrez_no_textmining.tsv.gz",
        separator="\t",
        columns=["entrez_1", "entrez_2"],
    )
    in_string = pl.concat([net["entrez_1"], net["entrez_2"]]).unique().cast(pl.String)
    ens = (
        pl.read_csv(
            data / "ncbi_2022-09-12/gene2ensembl_human.gz",
            separator="\t",
            quote_char=None,
            infer_schema=False,
        )
        .group_by("GeneID")
        .agg(pl.col("Ensembl_gene_identifier").min().alias("ensembl"))
        .filter(~pl.col("ensembl").is_duplicated())
    )
    sym = (
        pl.read_csv(
            data / "ncbi_2022-09-12/gene_type_human.gz",
            separator="\t",
            quote_char=None,
            infer_schema=False,
        )
        .group_by("GeneID")
        .agg(pl.col("Symbol").first())
    )
    return (
        ens.join(sym, on="GeneID", how="inner")
        .filter(pl.col("GeneID").is_in(in_string.implode()))
        .select(
            pl.col("GeneID").cast(pl.Int64).alias("entrez"),
            ("9606." + pl.col("ensembl")).alias("protein"),
            pl.col("Symbol").alias("preferred_name"),
        )
        .sort("entrez")
    )


def build_string_links_detailed(data: Path) -> bytes:
    """``9606.protein.links.detailed.v12.0.txt.gz`` layout (space-separated, both directions)
    from the real STRING v12 table of the shared folder (text mining already removed there).

    Each detailed channel is its direct and transferred scores of the shared table combined by
    STRING's rule (prior 0.041 removed, 1 - prod(1 - s), prior added back, x 1000, floored);
    ``textmining`` is 0 because the shared copy has no text-mining channel, and
    ``combined_score`` is the shared table's score (without text mining). Edges with a gene that
    has no stand-in protein ID (see :func:`_string_proteins`) are left out.
    """
    df = pl.read_csv(data / "string_v12/string_v12_human_entrez_no_textmining.tsv.gz",
                     separator="\t", quote_char=None)  # fmt: skip
    prot = _string_proteins(data).select("entrez", "protein")
    cols = []
    for name, parts in _STRING_DETAILED.items():
        prod = pl.lit(1.0)
        for c in parts:
            sc = ((pl.col(c) / 1000.0 - _STRING_PRIOR) / (1 - _STRING_PRIOR)).clip(lower_bound=0)
            prod = prod * (1.0 - sc)
        tot = 1.0 - prod
        tot = tot + _STRING_PRIOR * (1.0 - tot)
        # a channel with no evidence stays 0 (the prior alone is not a score)
        val = pl.when(pl.sum_horizontal([pl.col(c) for c in parts]) == 0).then(0)
        cols.append(val.otherwise((tot * 1000 + 1e-9).floor()).cast(pl.Int64).alias(name))
    edges = (
        df.with_columns(cols)
        .join(prot.rename({"entrez": "entrez_1", "protein": "protein1"}), on="entrez_1")
        .join(prot.rename({"entrez": "entrez_2", "protein": "protein2"}), on="entrez_2")
    )
    keep = [*_STRING_DETAILED, "textmining", "combined_score"]
    edges = edges.with_columns(pl.lit(0).alias("textmining"))
    both = pl.concat(
        [
            edges.select("protein1", "protein2", *keep),
            edges.select(
                pl.col("protein2").alias("protein1"), pl.col("protein1").alias("protein2"), *keep
            ),
        ]
    ).sort("protein1", "protein2")
    buf = io.BytesIO()
    both.write_csv(buf, separator=" ", quote_style="never")
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)


def build_string_protein_info(data: Path) -> bytes:
    """``9606.protein.info.v12.0.txt.gz`` layout: ``#string_protein_id``, ``preferred_name``,
    ``protein_size``, ``annotation`` for the proteins of :func:`_string_proteins`. Protein size
    and annotation are not available offline and are served empty."""
    prot = _string_proteins(data).sort("protein")
    lines = ["#string_protein_id\tpreferred_name\tprotein_size\tannotation"]
    lines += [f"{p}\t{n}\t\t" for p, n in prot.select("protein", "preferred_name").iter_rows()]
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6, mtime=0)


HPA_CURRENT_COLUMNS = ("Gene", "Gene name", "Reliability", "Main location", "Additional location",
                       "Extracellular location", "Enhanced", "Supported", "Approved", "Uncertain",
                       "Single-cell variation intensity", "Single-cell variation spatial",
                       "Cell cycle dependency", "GO id")  # fmt: skip


def build_hpa_subcellular_current(data: Path) -> bytes:
    """``subcellular_location.tsv`` in the current HPA layout (with the cilia categories) from the
    real HPA v25.1 rows of the shared folder's cilia-atlas file: the 1,237 genes HPA v25.1 places
    at a cilium compartment or the centrosome / centriolar satellites.

    Gene, name, gene-level reliability (``Reliability (IF)``), main and additional locations are
    HPA's; all of a gene's locations are listed under its reliability column (the file gives only
    the gene-level reliability). ``Extracellular location``, the single-cell variation and cell
    cycle columns and ``GO id`` are not in that file and are served empty. Genes outside this
    file are absent, as they are (unknown) in the shared data.
    """
    df = pl.read_csv(data / "hpa_v25_cilia/ciliary_proteins_hpa_v25.1.csv.gz",
                     infer_schema=False)  # fmt: skip
    rows = ["\t".join(HPA_CURRENT_COLUMNS)]

    def semi(v: str | None) -> str:
        return ";".join(x.strip() for x in (v or "").split(";") if x.strip())

    for r in df.sort("Ensembl").iter_rows(named=True):
        level = r["Reliability (IF)"] or ""
        locs = semi(r["Subcellular location"])
        cells = {c: "" for c in HPA_CURRENT_COLUMNS}
        cells.update(
            {
                "Gene": r["Ensembl"],
                "Gene name": r["Gene"],
                "Reliability": level,
                "Main location": semi(r["Subcellular main location"]),
                "Additional location": semi(r["Subcellular additional location"]),
            }
        )
        if level in ("Enhanced", "Supported", "Approved", "Uncertain"):
            cells[level] = locs
        rows.append("\t".join(cells[c] for c in HPA_CURRENT_COLUMNS))
    return ("\n".join(rows) + "\n").encode()


# path -> (builder(data_dir) -> bytes, content type)
def default_routes() -> dict[str, tuple[Callable[[Path], bytes], str]]:
    def raw(rel: str) -> Callable[[Path], bytes]:
        return lambda d: (d / rel).read_bytes()

    def gunz(rel: str) -> Callable[[Path], bytes]:
        return lambda d: _gunzip(d / rel)

    gz, txt = "application/x-gzip", "text/plain"
    return {
        "/gene/DATA/GENE_INFO/Mammalia/Homo_sapiens.gene_info.gz": (
            raw("ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz"),
            gz,
        ),
        "/gene/DATA/gene2go.gz": (raw("ncbi_2022-09-12/gene2go_human.gz"), gz),
        "/gene/DATA/gene2pubmed.gz": (raw("ncbi_2022-09-12/gene2pubmed_human.gz"), gz),
        "/gene/DATA/gene2ensembl.gz": (raw("ncbi_2022-09-12/gene2ensembl_human.gz"), gz),
        "/refseq/MANE/MANE_human/release_1.4/MANE.GRCh38.v1.4.summary.txt.gz": (
            raw("mane_v1.4/MANE.GRCh38.v1.4.summary.txt.gz"),
            gz,
        ),
        "/obo/go/go-basic.obo": (build_go_basic_obo, txt),
        "/obo/hp.obo": (gunz("hpo_2025-01-16/hp.obo.gz"), txt),
        "/hpo/genes_to_phenotype.txt": (gunz("hpo_2025-01-16/genes_to_phenotype.txt.gz"), txt),
        "/hpo/phenotype.hpoa": (gunz("hpo_2025-01-16/phenotype.hpoa.gz"), txt),
        "/downloads/reports/HMD_HumanPhenotype.rpt": (
            gunz("mgi_2024-12/HMD_HumanPhenotype.rpt.gz"),
            txt,
        ),
        "/downloads/reports/VOC_MammalianPhenotype.rpt": (
            gunz("mgi_2024-12/VOC_MammalianPhenotype_2015.rpt.gz"),
            txt,
        ),
        "/download/tsv/subcellular_location.tsv.zip": (
            lambda d: _zip_one("subcellular_location.tsv", build_hpa_subcellular_current(d)),
            "application/zip",
        ),
        "/download/tsv/v17/subcellular_location.tsv.zip": (
            lambda d: _zip_one(
                "subcellular_location.tsv", _gunzip(d / "hpa/subcellular_location_v17.tsv.gz")
            ),
            "application/zip",
        ),
        "/download/protein.links.detailed.v12.0/9606.protein.links.detailed.v12.0.txt.gz": (
            build_string_links_detailed,
            gz,
        ),
        "/download/protein.info.v12.0/9606.protein.info.v12.0.txt.gz": (
            build_string_protein_info,
            gz,
        ),
        "/download/current/ReactomePathways.gmt.zip": (
            lambda d: _zip_one(
                "ReactomePathways.gmt", _gunzip(d / "reactome_2021/ReactomePathways.gmt.gz")
            ),
            "application/zip",
        ),
        "/hgnc/tsv/tsv/hgnc_complete_set.txt": (build_hgnc_complete_set, txt),
    }


# source key -> server path (the live sources with offline data)
SOURCE_PATHS = {
    "gene_info": "/gene/DATA/GENE_INFO/Mammalia/Homo_sapiens.gene_info.gz",
    "gene2go": "/gene/DATA/gene2go.gz",
    "gene2pubmed": "/gene/DATA/gene2pubmed.gz",
    "gene2ensembl": "/gene/DATA/gene2ensembl.gz",
    "mane": "/refseq/MANE/MANE_human/release_1.4/MANE.GRCh38.v1.4.summary.txt.gz",
    "go_obo": "/obo/go/go-basic.obo",
    "hpo_obo": "/obo/hp.obo",
    "hpo_g2p": "/hpo/genes_to_phenotype.txt",
    "hpo_hpoa": "/hpo/phenotype.hpoa",
    "mgi_hmd": "/downloads/reports/HMD_HumanPhenotype.rpt",
    "mgi_mp": "/downloads/reports/VOC_MammalianPhenotype.rpt",
    "hpa_subcellular": "/download/tsv/subcellular_location.tsv.zip",
    "hgnc": "/hgnc/tsv/tsv/hgnc_complete_set.txt",
    "string_links": "/download/protein.links.detailed.v12.0/9606.protein.links.detailed.v12.0.txt.gz",
    "string_info": "/download/protein.info.v12.0/9606.protein.info.v12.0.txt.gz",
    "reactome_gmt": "/download/current/ReactomePathways.gmt.zip",
}

ESEARCH_PATH = "/entrez/eutils/esearch.fcgi"

UNIPROT_HEADERS = {
    "accession": "Entry",
    "gene_names": "Gene Names",
    "length": "Length",
    "ft_coiled": "Coiled coil",
    "ft_transmem": "Transmembrane",
    "xref_pfam": "Pfam",
    "xref_interpro": "InterPro",
}


@dataclass
class Fault:
    kind: str
    times: int | None = None  # None: every request
    retry_after: float | None = 1.0
    stall_s: float = 5.0
    column: str | None = None


def context_key(clause: str) -> str:
    """Which emulated context a PubMed context clause is (by its leading terms)."""
    ctx = clause.lower()
    if "photoreceptor" in ctx:
        return "photoreceptor"
    if "hearing" in ctx or "sensory" in ctx:
        return "sensory"
    return "cilia"


_EPOCH = dt.date(1940, 1, 1).toordinal()
_SPAN_DAYS = dt.date(2026, 12, 31).toordinal() - _EPOCH
MAX_PMID = 41_000_000


def pmid_pub_date(pmid: int) -> dt.date:
    """Fake but deterministic publication date: PMIDs grow with time (faster in recent years),
    with up to ~1 year of jitter, between 1940 and 2026."""
    frac = min(max(pmid, 0), MAX_PMID) / MAX_PMID
    jitter = int.from_bytes(hashlib.blake2b(str(pmid).encode(), digest_size=4).digest()) % 365
    day = int(math.sqrt(frac) * (_SPAN_DAYS - 365)) + jitter
    return dt.date.fromordinal(_EPOCH + day)


class _PubmedHistory:
    """History-server emulation: per context the records sorted by publication date."""

    def __init__(self, sets: dict[str, set[int]]) -> None:
        self.days: dict[str, list[int]] = {}
        self.pmids: dict[str, list[int]] = {}
        for ctx, ids in sets.items():
            pairs = sorted((pmid_pub_date(p).toordinal(), p) for p in ids)
            self.days[ctx] = [d for d, _ in pairs]
            self.pmids[ctx] = [p for _, p in pairs]
        self.envs: dict[str, dict[str, str]] = {}
        self._n = itertools.count(1)

    def open(self, term: str) -> dict[str, Any]:
        ctx = context_key(term)
        env = f"MCID_{next(self._n):08d}"
        self.envs[env] = {"1": ctx}
        n = len(self.pmids[ctx])
        return {
            "count": str(n),
            "retmax": "0",
            "retstart": "0",
            "idlist": [],
            "webenv": env,
            "querykey": "1",
            "querytranslation": term,
        }

    def slice(self, params: dict[str, str], short: bool) -> dict[str, Any]:
        env, qk = params.get("WebEnv", ""), params.get("term", "").lstrip("#")
        if env not in self.envs or qk not in self.envs[env]:
            return {"ERROR": "Unable to obtain query #" + qk}
        ctx = self.envs[env][qk]
        lo = dt.date(*map(int, params["mindate"].split("/"))).toordinal()
        hi = dt.date(*map(int, params["maxdate"].split("/"))).toordinal()
        days = self.days[ctx]
        i, j = bisect.bisect_left(days, lo), bisect.bisect_right(days, hi)
        retmax = min(int(params.get("retmax", "20")), 10_000)
        ids = sorted(self.pmids[ctx][i:j], reverse=True)[:retmax]
        if short and ids:
            ids = ids[:-1]
        return {
            "count": str(j - i),
            "retmax": str(len(ids)),
            "retstart": "0",
            "idlist": [str(p) for p in ids],
            "webenv": env,
            "querykey": qk,
        }


class _EsearchIndex:
    """gene2pubmed-backed emulation of PubMed counts (see module docstring)."""

    def __init__(self, data: Path) -> None:
        info = pl.read_csv(
            data / "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
            separator="\t",
            quote_char=None,
            infer_schema=False,
        ).rename({"#tax_id": "tax_id"})
        g2p = pl.read_csv(
            data / "ncbi_2022-09-12/gene2pubmed_human.gz",
            separator="\t",
            quote_char=None,
            schema_overrides={"GeneID": pl.Int64, "PubMed_ID": pl.Int64},
        )
        self.pmids: dict[int, set[int]] = {}
        for gid, pmids in g2p.group_by("GeneID").agg(pl.col("PubMed_ID")).iter_rows():
            self.pmids[gid] = set(pmids)
        self.names: dict[str, set[int]] = {}
        for gid, sym, syn in info.select("GeneID", "Symbol", "Synonyms").iter_rows():
            for name in [sym, *(syn or "-").split("|")]:
                if name and name != "-":
                    self.names.setdefault(name.upper(), set()).add(int(gid))
        scgs = pl.read_csv(data / "gene_sets/scgs_v2_symbols.tsv", separator="\t")
        usher = pl.read_csv(data / "gene_sets/usher_genes_hpo_2025-01-16.tsv", separator="\t")
        cilia = self._pmid_genes(scgs["gene_symbol"].to_list())
        photo = self._pmid_genes(usher["gene_symbol"].to_list())
        sensory = {p: cilia.get(p, set()) | photo.get(p, set()) for p in set(cilia) | set(photo)}
        # context -> PMID -> reference-set genes linked to it
        self.context = {"cilia": cilia, "photoreceptor": photo, "sensory": sensory}
        self.all_pmids = set(g2p["PubMed_ID"].to_list())

    def _pmid_genes(self, symbols: list[str]) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for s in symbols:
            for gid in self.names.get(str(s).upper(), ()):
                for pmid in self.pmids.get(gid, ()):
                    out.setdefault(pmid, set()).add(gid)
        return out

    def search(self, term: str) -> dict[str, Any]:
        clauses = re.split(r"\)\s+AND\s+\(", term.strip(), maxsplit=1)
        phrases = re.findall(r'"([^"]+)"\[tiab\]', clauses[0])
        found: set[int] = set()
        matched: set[int] = set()
        not_found = []
        for phrase in phrases:
            gids = self.names.get(phrase.upper())
            if not gids:
                not_found.append(phrase)
                continue
            for gid in gids:
                matched.add(gid)
                found |= self.pmids.get(gid, set())
        if phrases and len(not_found) == len(phrases):
            found = set(self.all_pmids)  # PubMed drops unmatched phrases: the rest matches "all"
        if len(clauses) > 1:
            key = context_key(clauses[1])
            # in context: linked to a reference-set gene other than the queried gene(s)
            ref = self.context[key]
            found = {p for p in found if ref.get(p, set()) - matched}
        result: dict[str, Any] = {
            "count": str(len(found)),
            "retmax": "0",
            "retstart": "0",
            "idlist": [],
            "translationset": [],
            "querytranslation": term,
        }
        if not_found:
            result["errorlist"] = {"phrasesnotfound": not_found, "fieldsnotfound": []}
            result["warninglist"] = {
                "phrasesignored": [],
                "quotedphrasesnotfound": not_found,
                "outputmessages": ["Quoted phrase not found."],
            }
        return {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}


class LiveServer:
    """Threaded loopback server; use as a context manager."""

    def __init__(self, data_dir: Path | None = None, latency_s: float = 0.0) -> None:
        self.data_dir = data_dir or shared_data_dir()
        self.latency_s = latency_s
        self.routes = default_routes()
        self.extra: dict[str, tuple[bytes, str]] = {}
        self.faults: dict[str, Fault] = {}
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, int]] = []
        self.status_counts: Counter[int] = Counter()
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._esearch: _EsearchIndex | None = None
        self._uniprot: list[tuple[str, ...]] | None = None
        self._history: _PubmedHistory | None = None
        self._context_sets: dict[str, set[int]] | None = None
        self.esearch_rate_limit: float | None = None  # emulate NCBI's 429 above this rate
        self._recent: list[float] = []
        self.httpd: ThreadingHTTPServer | None = None
        self.paused = threading.Event()  # set while a ``pause`` fault holds a body half-sent

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1:``port`` (0: a free port the kernel picks)."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- configuration -------------------------------------------------------------------------
    def set_pubmed_context_sizes(self, sizes: dict[str, int], seed: int = 20261201) -> None:
        """Replace the context record sets with ``sizes[context]`` fake PMIDs each."""
        rng = random.Random(seed)
        self._context_sets = {c: set(rng.sample(range(1, MAX_PMID), n)) for c, n in sizes.items()}
        with self._build_lock:
            self._history = None

    def pubmed_context_sets(self) -> dict[str, set[int]]:
        """The PMID set each emulated context query matches."""
        if self._context_sets is None:
            idx = self._esearch_index()
            self._context_sets = {c: set(m) for c, m in idx.context.items()}
        return self._context_sets

    def _history_server(self) -> _PubmedHistory:
        sets = self.pubmed_context_sets()
        with self._build_lock:
            if self._history is None:
                self._history = _PubmedHistory(sets)
            return self._history

    def add_file(self, path: str, data: bytes, content_type: str = "text/plain") -> None:
        self.extra[path] = (data, content_type)

    def set_fault(self, path: str, kind: str, times: int | None = None, **kw: Any) -> None:
        self.faults[path] = Fault(kind, times, **kw)

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()
            self.status_counts.clear()

    def live_config(self, tmp: Path, **live: Any) -> dict[str, Any]:
        """A pipeline config whose live sources all point at this server."""
        sources = {k: {"url": self.url(p)} for k, p in SOURCE_PATHS.items()}
        for path in self.extra:
            for key in ("hpa_rna_tissue", "gtex_median", "gnomad_constraint"):
                if path.endswith("/" + key):
                    sources[key] = {"url": self.url(path)}
        base: dict[str, Any] = {
            "cache_dir": str(tmp / "downloads"),
            "ncbi_api_key_env": "USHER_TEST_NO_SUCH_KEY",
            "rate_limits": {"127.0.0.1": 200, "default": 200},
            "timeout_s": 5,
            "connect_timeout_s": 2,
            "max_retries": 3,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.2,
            "batch_size": 20,
            "eutils_base": self.url("/entrez/eutils"),
            "uniprot_base": self.base_url,
            "sources": sources,
        }
        base.update(live)
        return {
            "mode": "live",
            "results_dir": str(tmp / "results"),
            "state": {"db": str(tmp / "state" / "usher.duckdb"), "lock_timeout_s": 60},
            "live": base,
        }

    # -- request handling ----------------------------------------------------------------------
    def _body_for(self, path: str) -> tuple[bytes, str] | None:
        if path in self.extra:
            return self.extra[path]
        if path not in self.routes:
            return None
        with self._build_lock:
            if path not in self._cache:
                builder, _ = self.routes[path]
                self._cache[path] = builder(self.data_dir)
        return self._cache[path], self.routes[path][1]

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(path)
            if fault is None:
                return None
            if fault.times is not None:
                if fault.times <= 0:
                    return None
                fault.times -= 1
            return fault

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        with self._lock:
            self.counts[path] += 1
            now = time.monotonic()
            over = False
            if self.esearch_rate_limit and path.endswith("esearch.fcgi"):
                self._recent = [t for t in self._recent if now - t < 1.0]
                self._recent.append(now)
                over = len(self._recent) > self.esearch_rate_limit
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._take_fault(path)
        h.usher_request = (path, query)  # type: ignore[attr-defined]
        self._respond(h, path, query, fault, over)

    def _record(self, h: BaseHTTPRequestHandler, status: int) -> None:
        """Log the request's status before its first byte is sent: a client that has the
        response (and the test that waits for it) always finds it counted."""
        path, query = h.usher_request  # type: ignore[attr-defined]
        with self._lock:
            self.log.append((path, query, status))
            self.status_counts[status] += 1

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
        declared_length: int | None = None,
    ) -> int:
        self._record(h, status)
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header(
                "Content-Length", str(len(body) if declared_length is None else declared_length)
            )
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        return status

    def _respond(
        self, h: BaseHTTPRequestHandler, path: str, query: str, fault: Fault | None, over: bool
    ) -> int:
        if over:
            return self._send(
                h,
                429,
                b'{"error":"API rate limit exceeded"}',
                "application/json",
                {"Retry-After": "1"},
            )
        if fault is not None:
            if fault.kind in ("429", "500"):
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                return self._send(h, int(fault.kind), b"busy\n", "text/plain", headers)
            if fault.kind == "stall":
                time.sleep(fault.stall_s)
            if fault.kind == "html":
                page = (
                    b"<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>"
                    b"<body><h1>Maintenance</h1><p>Please try again later.</p></body></html>\n"
                )
                return self._send(h, 200, page, "text/html; charset=utf-8")
        if path.endswith("/esearch.fcgi"):
            short = fault is not None and fault.kind == "short_ids"
            return self._esearch_response(h, query, short)
        if path == "/uniprotkb/search":
            return self._uniprot_response(h, query)
        found = self._body_for(path)
        if found is None:
            return self._send(h, 404, b"not found\n", "text/plain")
        body, ctype = found
        headers = {
            "ETag": f'"{len(body):x}-{hash(body[:4096]) & 0xFFFFFFFF:x}"',
            "Last-Modified": "Mon, 11 May 2026 00:00:00 GMT",
        }
        if fault is not None:
            if fault.kind == "drop":
                cut = body[: max(1, len(body) // 2)]
                status = self._send(h, 200, cut, ctype, headers, declared_length=len(body))
                h.close_connection = True
                return status
            if fault.kind == "pause":
                return self._send_paused(h, body, ctype, headers, fault.stall_s)
            if fault.kind == "truncate_gzip":
                body = body[: max(1, len(body) * 2 // 3)]
            if fault.kind == "missing_column":
                ck = f"{path}#renamed:{fault.column}"
                with self._build_lock:
                    if ck not in self._cache:
                        self._cache[ck] = _rename_column(body, fault.column or "")
                body = self._cache[ck]
        return self._send(h, 200, body, ctype, headers)

    def _send_paused(
        self,
        h: BaseHTTPRequestHandler,
        body: bytes,
        ctype: str,
        headers: dict[str, str],
        pause_s: float,
    ) -> int:
        half = max(1, len(body) // 2)
        self._record(h, 200)
        try:
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body[:half])
            h.wfile.flush()
            self.paused.set()
            time.sleep(pause_s)
            h.wfile.write(body[half:])
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        return 200

    def _esearch_response(self, h: BaseHTTPRequestHandler, query: str, short: bool = False) -> int:
        params = parse_qs(query)
        term = params.get("term", [""])[0]
        if params.get("retmode", [""])[0] != "json" or params.get("db", [""])[0] != "pubmed":
            return self._send(h, 400, b"retmode=json and db=pubmed expected\n", "text/plain")
        if params.get("usehistory", [""])[0] == "y":
            flat = {k: v[0] for k, v in params.items()}
            hist = self._history_server()
            with self._lock:
                if term.startswith("#"):
                    res = hist.slice(flat, short)
                else:
                    res = hist.open(term)
            body = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": res}
            return self._send(h, 200, json.dumps(body).encode(), "application/json; charset=UTF-8")
        payload = json.dumps(self._esearch_index().search(term)).encode()
        return self._send(h, 200, payload, "application/json; charset=UTF-8")

    def _esearch_index(self) -> _EsearchIndex:
        with self._build_lock:
            if self._esearch is None:
                self._esearch = _EsearchIndex(self.data_dir)
            return self._esearch

    def _uniprot_rows(self) -> list[tuple[str, ...]]:
        with self._build_lock:
            if self._uniprot is None:
                d = self.data_dir
                m = pl.read_csv(
                    d / "hgnc_uniprot_2026-06/hgnc_uniprot_ensembl_ncbi.tsv.gz",
                    separator="\t",
                    quote_char=None,
                    infer_schema=False,
                ).filter(pl.col("uniprot_acc").is_not_null() & (pl.col("uniprot_acc") != ""))
                pf = pl.read_csv(
                    d / "ncbi_2022-09-12/gene2pfam_human.gz",
                    separator="\t",
                    quote_char=None,
                    infer_schema=False,
                )
                pfam = {
                    g: sorted(set(ids))
                    for g, ids in pf.group_by("GeneID").agg(pl.col("Pfam_ID")).iter_rows()
                }
                rows = []
                for acc, sym, gid in m.select(
                    "uniprot_acc", "hgnc_symbol", "ncbi_gene_id"
                ).iter_rows():
                    ids = pfam.get(gid, [])
                    rows.append((acc, sym, "", "", "", "".join(f"{p};" for p in ids), ""))
                rows.sort()
                self._uniprot = rows
        return self._uniprot

    def _uniprot_response(self, h: BaseHTTPRequestHandler, query: str) -> int:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        fields = params.get("fields", "accession").split(",")
        unknown = [f for f in fields if f not in UNIPROT_HEADERS]
        if unknown or params.get("format") != "tsv":
            msg = json.dumps({"messages": [f"Invalid fields parameter value {unknown}"]})
            return self._send(h, 400, msg.encode(), "application/json")
        size = int(params.get("size", "25"))
        cursor = params.get("cursor")
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        rows = self._uniprot_rows()
        limit = int(params["limit_total"]) if "limit_total" in params else len(rows)
        rows = rows[:limit]
        page = rows[start : start + size]
        idx = [list(UNIPROT_HEADERS).index(f) for f in fields]
        lines = ["\t".join(UNIPROT_HEADERS[f] for f in fields)]
        lines += ["\t".join(r[i] for i in idx) for r in page]
        headers = {"X-Total-Results": str(len(rows))}
        if start + size < len(rows):
            nxt = dict(params)
            nxt["cursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            headers["Link"] = f'<{self.base_url}/uniprotkb/search?{urlencode(nxt)}>; rel="next"'
        body = ("\n".join(lines) + "\n").encode()
        return self._send(h, 200, body, "text/plain; format=tsv", headers)


def _rename_column(body: bytes, column: str) -> bytes:
    """Rename header column ``column`` (schema drift) in a plain, gzip or zip TSV body."""

    def rename(text: bytes) -> bytes:
        lines = text.split(b"\n")
        for i, line in enumerate(lines[:200]):
            cells = line.split(b"\t")
            stripped = [c.lstrip(b"#") for c in cells]
            if column.encode() in stripped:
                j = stripped.index(column.encode())
                cells[j] = cells[j] + b"_RENAMED"
                lines[i] = b"\t".join(cells)
                break
        return b"\n".join(lines)

    if body[:2] == b"\x1f\x8b":
        return gzip.compress(rename(gzip.decompress(body)), compresslevel=1, mtime=0)
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            name = zf.namelist()[0]
            return _zip_one(name, rename(zf.read(name)))
    return rename(body)
