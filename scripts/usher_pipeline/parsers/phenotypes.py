"""HPO gene annotations and MGI human–mouse phenotype reports."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_text, read_tsv, to_int


def read_genes_to_phenotype(path: str | Path, source: str = "hpo_g2p") -> pl.DataFrame:
    """HPO genes_to_phenotype.txt: ncbi_gene_id, gene_symbol, hpo_id, disease_id."""
    df = read_tsv(path, source, ["ncbi_gene_id", "gene_symbol", "hpo_id", "disease_id"])
    df = to_int(df, "ncbi_gene_id", source, path)
    return df.select("ncbi_gene_id", "gene_symbol", "hpo_id", "disease_id").unique()


HMD_COLUMNS = ["human_symbol", "ncbi_gene_id", "mouse_symbol", "mgi_id", "mp_ids", "extra"]


def read_mgi_hmd(path: str | Path, source: str = "mgi_hmd") -> pl.DataFrame:
    """MGI HMD_HumanPhenotype.rpt (no header, 6 tab fields).

    Returns one row per human gene – mouse ortholog pair: ncbi_gene_id, human_symbol, mouse_symbol,
    mgi_id, mp_ids (list; empty list = ortholog without phenotype annotations).
    """
    text = read_text(path, source)
    first = text.split("\n", 1)[0].split("\t")
    if len(first) < 5 or not first[3].startswith("MGI:"):
        raise SourceFormatError(
            source,
            str(path),
            f"first row is not 'symbol, GeneID, mouse symbol, MGI:id, MP ids': {first}",
        )
    n_fields = len(first)
    header = HMD_COLUMNS[:n_fields] if n_fields <= 6 else HMD_COLUMNS + [
        f"extra{i}" for i in range(n_fields - 6)]  # fmt: skip
    df = read_tsv(path, source, HMD_COLUMNS[:5], header=header)
    df = to_int(df, "ncbi_gene_id", source, path)
    return df.select(
        "ncbi_gene_id",
        "human_symbol",
        "mouse_symbol",
        "mgi_id",
        pl.col("mp_ids")
        .fill_null("")
        .str.replace_all(" ", "")
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("mp_ids"),
    )


def read_mp_vocab(path: str | Path, source: str = "mgi_mp") -> pl.DataFrame:
    """MGI VOC_MammalianPhenotype.rpt (no header): mp_id, name."""
    df = read_tsv(path, source, ["mp_id", "name"], header=["mp_id", "name", "definition"])
    bad = df.filter(~pl.col("mp_id").str.starts_with("MP:"))
    if bad.height:
        raise SourceFormatError(source, str(path), f"unexpected term id {bad['mp_id'][0]!r}")
    return df.select("mp_id", "name")
