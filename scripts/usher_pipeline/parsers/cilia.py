"""Parsers of the cilia-specific evidence sources: the STRING network (text mining removed), the
CilioGenics compendium of ciliary high-throughput studies, human retina single-cell markers, the
Nevers 2017 phylogenetic profiles and Reactome pathways (GMT). Each checks its layout and fails
naming the source and file."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_text, read_tsv, to_int

STRING_COLUMNS = ("entrez_1", "entrez_2", "combined_score")


def _require_values(df: pl.DataFrame, cols: tuple[str, ...], source: str, path: str | Path) -> None:
    """Fail on an empty value in a column that every row must fill (a cut or shifted row)."""
    for col in cols:
        n = df[col].null_count()
        if n:
            raise SourceFormatError(source, str(path), f"{n} row(s) with no value in '{col}'")


def read_string_edges(path: str | Path, source: str = "string_network") -> pl.DataFrame:
    """STRING edges between NCBI GeneIDs: ncbi_gene_id_1, ncbi_gene_id_2, combined_score (0-1000).

    Undirected; every channel except text mining went into ``combined_score`` upstream. Self edges
    are dropped; a pair listed in both directions is kept once (the larger score).
    """
    df = read_tsv(path, source, STRING_COLUMNS)
    for col in STRING_COLUMNS:
        df = to_int(df, col, source, path)
    _require_values(df, STRING_COLUMNS, source, path)
    bad = df.filter((pl.col("combined_score") < 0) | (pl.col("combined_score") > 1000))
    if bad.height:
        raise SourceFormatError(
            source, str(path), f"combined_score {bad['combined_score'][0]} outside 0-1000"
        )
    a, b = pl.col("entrez_1"), pl.col("entrez_2")
    return (
        df.filter(a != b)
        .select(
            pl.min_horizontal(a, b).alias("ncbi_gene_id_1"),
            pl.max_horizontal(a, b).alias("ncbi_gene_id_2"),
            pl.col("combined_score"),
        )
        .group_by("ncbi_gene_id_1", "ncbi_gene_id_2")
        .agg(pl.col("combined_score").max())
        .sort("ncbi_gene_id_1", "ncbi_gene_id_2")
    )


HT_STUDY_COLUMNS = ("study", "study_number", "year", "pmid", "species", "title")


def read_ht_studies(path: str | Path, source: str = "ht_studies") -> pl.DataFrame:
    """The study list (CilioGenics Table S10): study, study_number, year, pmid, species, title."""
    df = read_tsv(path, source, HT_STUDY_COLUMNS)
    df = to_int(df, "study_number", source, path)
    _require_values(df, ("study", "study_number"), source, path)
    df = df.with_columns(
        pl.col("study").str.strip_chars(),
        pl.col("species").str.strip_chars().str.replace_all(r"\s+", " "),
        pl.col("year").str.strip_chars().cast(pl.Int64, strict=False),
        pl.col("pmid").str.strip_chars(),
    )
    if df["study_number"].is_duplicated().any():
        dup = df.filter(pl.col("study_number").is_duplicated())["study_number"][0]
        raise SourceFormatError(source, str(path), f"study_number {dup} listed twice")
    return df.select(*HT_STUDY_COLUMNS)


def read_ht_study_genes(path: str | Path, source: str = "ht_study_genes") -> pl.DataFrame:
    """Gene-study rows ``Gene_name|Publication|Pub_number``: symbol, publication, pub_number.

    Rows whose gene name is ``NA`` (no ortholog reported) are dropped; duplicates are kept once.
    """
    text = read_text(path, source)
    lines = text.splitlines()
    header = lines[0].strip().split("|")
    want = ["Gene_name", "Publication", "Pub_number"]
    if header != want:
        raise SourceFormatError(source, str(path), f"header {header}, expected {want}")
    try:
        df = pl.read_csv(
            io.StringIO("\n".join(lines[1:]) + "\n"),
            separator="|",
            has_header=False,
            new_columns=want,
            schema={c: pl.String for c in want},
            quote_char=None,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"malformed rows ({exc})") from exc
    df = to_int(df, "Pub_number", source, path)
    _require_values(df, ("Publication", "Pub_number"), source, path)
    return (
        df.filter(
            pl.col("Gene_name").is_not_null() & (pl.col("Gene_name").str.strip_chars() != "NA")
        )
        .select(
            pl.col("Gene_name").str.strip_chars().alias("symbol"),
            pl.col("Publication").str.strip_chars().alias("publication"),
            pl.col("Pub_number").alias("pub_number"),
        )
        .unique()
        .sort("pub_number", "symbol")
    )


def _ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _surname_key(study: str) -> str:
    """The first word of a study's name ('Muller et al.' -> 'muller', 'GO CC Cilium' -> 'go')."""
    words = re.findall(r"[a-z][a-z\-]*", _ascii_lower(study))
    return words[0] if words else ""


def link_study_numbers(gene_pubs: pl.DataFrame, studies: pl.DataFrame) -> pl.DataFrame:
    """Map the gene table's (publication, pub_number) to the study list's study_number.

    The two files number two studies differently (Breslow 2018: 25 in the gene table, 58 in the
    study list; Blacque SAGE 2005: 56 vs 59), and their names are written differently ('Hannah
    Müller et al.' vs 'Muller et al.'). A gene-table entry keeps its number when the study list's
    name under that number shares its first word (accents folded); otherwise it is matched by that
    word to the one study whose number the gene table does not use. Anything else is an error.
    Returns publication, pub_number, study_number.
    """
    pubs = gene_pubs.select("publication", "pub_number").unique().sort("pub_number")
    by_number = {r["study_number"]: r["study"] for r in studies.iter_rows(named=True)}
    used = set(pubs["pub_number"].to_list())
    rows = []
    for pub, num in pubs.iter_rows():
        name = _ascii_lower(pub)
        same = by_number.get(num)
        if same is not None and re.search(rf"\b{re.escape(_surname_key(same))}", name):
            rows.append((pub, num, num))
            continue
        options = [
            n
            for n, s in by_number.items()
            if n not in used and re.search(rf"\b{re.escape(_surname_key(s))}", name)
        ]
        if len(options) != 1:
            raise SourceFormatError(
                "ht_study_genes",
                f"publication '{pub}' (number {num})",
                f"cannot be linked to one study of the study list (candidates: {options})",
            )
        rows.append((pub, num, options[0]))
    return pl.DataFrame(
        rows,
        schema={"publication": pl.String, "pub_number": pl.Int64, "study_number": pl.Int64},
        orient="row",
    )


RETINA_COLUMNS = ("gene", "avg_log2FC", "pct.1", "pct.2", "p_val_adj", "cluster", "gene_name")


def read_retina_markers(path: str | Path, source: str = "retina_scrna_markers") -> pl.DataFrame:
    """Seurat FindAllMarkers table: ensembl_gene, symbol, cell_type, avg_log2fc, pct_in, pct_out,
    p_val_adj (one row per gene and cell type where the gene is a marker).

    The upstream Ensembl column went through R's make.unique: a gene's second and later rows carry
    a digit suffix (ENSG000000756241); it is cut off. Symbols 'NA' or empty become null.
    """
    text = read_text(path, source)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"malformed CSV ({exc})") from exc
    missing = [c for c in RETINA_COLUMNS if c not in df.columns]
    if missing:
        raise SourceFormatError(source, str(path), f"missing column(s) {missing}")
    try:
        out = df.select(
            pl.col("gene").str.replace(r"^(ENSG\d{11})\d+$", "$1").alias("ensembl_gene"),
            pl.when(pl.col("gene_name").is_in(["NA", ""]))
            .then(None)
            .otherwise(pl.col("gene_name"))
            .alias("symbol"),
            pl.col("cluster").alias("cell_type"),
            pl.col("avg_log2FC").cast(pl.Float64).alias("avg_log2fc"),
            pl.col("pct.1").cast(pl.Float64).alias("pct_in"),
            pl.col("pct.2").cast(pl.Float64).alias("pct_out"),
            pl.col("p_val_adj").cast(pl.Float64).alias("p_val_adj"),
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"non-numeric marker value ({exc})") from exc
    _require_values(
        out,
        ("ensembl_gene", "cell_type", "avg_log2fc", "pct_in", "pct_out", "p_val_adj"),
        source,
        path,
    )
    return out


def read_nevers(path: str | Path, source: str = "nevers_phylogeny") -> tuple[pl.DataFrame, dict]:
    """Nevers 2017 phylogenetic profiles.

    Returns (profiles: symbol, species_idx list[int]) and the species groups
    {'species': [100 names], 'ciliated': set of indices, 'non_ciliated': ..., 'partial': ...}.
    The JSON's first gene entry is its column header ('Gene Name') and is skipped.
    """
    text = read_text(path, source)
    try:
        data = json.loads(text)
        groups = data["organism_groups"]
        species = list(groups["all_organisms_list"])
        genes = data["genes"]
        if not isinstance(genes, dict):
            raise TypeError(f"'genes' is a {type(genes).__name__}, not an object")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceFormatError(source, str(path), f"unexpected JSON layout ({exc})") from exc
    index = {name: i for i, name in enumerate(species)}
    sets = {}
    for key, group in (
        ("ciliated", "ciliated_organisms"),
        ("non_ciliated", "non_ciliated_organisms"),
        ("partial", "partial_ciliated_organisms"),
    ):
        if group not in groups:
            raise SourceFormatError(source, str(path), f"organism_groups has no '{group}'")
        names = groups[group]
        unknown = [n for n in names if n not in index]
        if unknown:
            raise SourceFormatError(source, str(path), f"{group} lists unknown species {unknown}")
        sets[key] = {index[n] for n in names}
    rows = []
    for key, entry in genes.items():
        symbol = entry.get("g", key) if isinstance(entry, dict) else None
        idx = entry.get("s") if isinstance(entry, dict) else None
        if symbol is None or not isinstance(idx, list):
            raise SourceFormatError(source, str(path), f"gene entry {key!r} has no 'g'/'s'")
        if symbol == "Gene Name":
            continue
        bad = [i for i in idx if not isinstance(i, int) or not 0 <= i < len(species)]
        if bad:
            raise SourceFormatError(source, str(path), f"gene {symbol}: species index {bad[0]}")
        rows.append((symbol, sorted(set(idx))))
    profiles = pl.DataFrame(
        rows, schema={"symbol": pl.String, "species_idx": pl.List(pl.Int64)}, orient="row"
    )
    return profiles, {"species": species, **sets}


def read_reactome_gmt(path: str | Path, source: str = "reactome_gmt") -> pl.DataFrame:
    """Reactome GMT: pathway, pathway_id, symbol (one row per pathway member)."""
    text = read_text(path, source)
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 2 or not parts[1].startswith("R-"):
            raise SourceFormatError(source, f"{path}:{n}", "not a GMT line (name, R- ID, genes)")
        name = parts[0].replace("-", " ")
        for sym in parts[2:]:
            if sym:
                rows.append((name, parts[1], sym))
    return pl.DataFrame(
        rows,
        schema={"pathway": pl.String, "pathway_id": pl.String, "symbol": pl.String},
        orient="row",
    ).unique(maintain_order=True)
