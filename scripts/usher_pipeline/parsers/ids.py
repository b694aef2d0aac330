"""Identifier resources: MANE summary and HGNC (snapshot catalogue or the HGNC complete set)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_tsv, to_int


def read_mane(path: str | Path, source: str = "mane") -> pl.DataFrame:
    """MANE Select rows: ncbi_gene_id, ensembl_gene (unversioned), ensembl_gene_versioned, hgnc_id,
    symbol, mane_refseq_nuc, mane_ensembl_nuc."""
    cols = ["NCBI_GeneID", "Ensembl_Gene", "HGNC_ID", "symbol", "RefSeq_nuc", "Ensembl_nuc",
            "MANE_status"]  # fmt: skip
    df = read_tsv(path, source, cols)
    df = df.filter(pl.col("MANE_status") == "MANE Select").with_columns(
        pl.col("NCBI_GeneID").str.replace("GeneID:", "")
    )
    df = to_int(df, "NCBI_GeneID", source, path)
    out = df.select(
        pl.col("NCBI_GeneID").alias("ncbi_gene_id"),
        pl.col("Ensembl_Gene").str.replace(r"\.\d+$", "").alias("ensembl_gene"),
        pl.col("Ensembl_Gene").alias("ensembl_gene_versioned"),
        pl.col("HGNC_ID").alias("hgnc_id"),
        pl.col("symbol"),
        pl.col("RefSeq_nuc").alias("mane_refseq_nuc"),
        pl.col("Ensembl_nuc").alias("mane_ensembl_nuc"),
    )
    dup = out.filter(pl.col("ncbi_gene_id").is_duplicated())
    if dup.height:
        raise SourceFormatError(
            source, str(path), f"GeneID {dup['ncbi_gene_id'][0]} has more than one MANE Select"
        )
    return out


def _split_list(col: str) -> pl.Expr:
    return (
        pl.col(col)
        .fill_null("")
        .str.replace_all('"', "")
        .str.split("|")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )


def read_hgnc(path: str | Path, source: str = "hgnc") -> pl.DataFrame:
    """HGNC mapping: hgnc_id, symbol, uniprot_ids (list), ensembl_gene, ncbi_gene_id,
    prev_symbols (list), alias_symbols (list).

    Accepts the snapshot catalogue (hgnc_id, hgnc_symbol, uniprot_acc, ensembl_gene, ncbi_gene_id)
    and HGNC's hgnc_complete_set.txt (hgnc_id, symbol, uniprot_ids, ensembl_gene_id, entrez_id,
    prev_symbol, alias_symbol, locus_group).
    """
    df = read_tsv(path, source, ["hgnc_id"])
    if "hgnc_symbol" in df.columns:
        need = ["hgnc_symbol", "uniprot_acc", "ensembl_gene", "ncbi_gene_id"]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise SourceFormatError(source, str(path), f"missing column(s) {missing}")
        df = df.with_columns(pl.col("ncbi_gene_id").str.replace(r"\.0$", "").alias("ncbi_gene_id"))
        df = to_int(df, "ncbi_gene_id", source, path)
        return df.select(
            "hgnc_id",
            pl.col("hgnc_symbol").alias("symbol"),
            _split_list("uniprot_acc").alias("uniprot_ids"),
            pl.when(pl.col("ensembl_gene") == "")
            .then(None)
            .otherwise(pl.col("ensembl_gene"))
            .alias("ensembl_gene"),
            "ncbi_gene_id",
            pl.lit([], dtype=pl.List(pl.String)).alias("prev_symbols"),
            pl.lit([], dtype=pl.List(pl.String)).alias("alias_symbols"),
        )
    need = ["symbol", "uniprot_ids", "ensembl_gene_id", "entrez_id", "prev_symbol", "alias_symbol",
            "locus_group"]  # fmt: skip
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise SourceFormatError(source, str(path), f"missing column(s) {missing} (schema drift?)")
    df = df.filter(pl.col("locus_group") == "protein-coding gene")
    df = to_int(df, "entrez_id", source, path)
    return df.select(
        "hgnc_id",
        "symbol",
        _split_list("uniprot_ids").alias("uniprot_ids"),
        pl.when(pl.col("ensembl_gene_id") == "")
        .then(None)
        .otherwise(pl.col("ensembl_gene_id"))
        .alias("ensembl_gene"),
        pl.col("entrez_id").alias("ncbi_gene_id"),
        _split_list("prev_symbol").alias("prev_symbols"),
        _split_list("alias_symbol").alias("alias_symbols"),
    )
