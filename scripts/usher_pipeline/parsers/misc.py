"""s_het constraint table and curated gene sets."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_tsv


def read_shet(path: str | Path, source: str = "shet") -> pl.DataFrame:
    """Weghorn et al. 2019 s_het: ensembl_gene, symbol, s_het, s_het_lower95, s_het_upper95."""
    cols = ["Gene_symbol", "Gene_stable_ID", "mean_s_het", "s_het_lower95", "s_het_upper95"]
    df = read_tsv(path, source, cols)
    try:
        return df.select(
            pl.col("Gene_stable_ID").alias("ensembl_gene"),
            pl.col("Gene_symbol").alias("symbol"),
            pl.col("mean_s_het").cast(pl.Float64).alias("s_het"),
            pl.col("s_het_lower95").cast(pl.Float64),
            pl.col("s_het_upper95").cast(pl.Float64),
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"non-numeric s_het value ({exc})") from exc


_SYMBOL_COLUMNS = ("gene_symbol", "Associated Gene Name", "symbol", "Gene name")


def read_gene_set(path: str | Path, source: str) -> pl.DataFrame:
    """A curated gene list: symbol (+ ensembl_gene / ncbi_gene_id where the file has them).

    Rows are de-duplicated (the Usher list has one row per gene–disease pair).
    """
    df = read_tsv(path, source, [])
    sym = next((c for c in _SYMBOL_COLUMNS if c in df.columns), None)
    if sym is None:
        raise SourceFormatError(
            source, str(path), f"no gene symbol column (one of {_SYMBOL_COLUMNS}) in {df.columns}"
        )
    cols = [pl.col(sym).str.strip_chars().alias("symbol")]
    if "Ensembl Gene ID" in df.columns:
        cols.append(pl.col("Ensembl Gene ID").alias("ensembl_gene"))
    if "ncbi_gene_id" in df.columns:
        cols.append(pl.col("ncbi_gene_id").cast(pl.Int64, strict=False))
    out = df.select(cols).filter(pl.col("symbol") != "").unique(maintain_order=True)
    return out
