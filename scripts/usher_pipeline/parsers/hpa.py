"""Human Protein Atlas subcellular locations (any release) and the HPA 2022 cilia flag table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_tsv

# Reliability columns across releases: v17 has Validated, later releases have Enhanced.
_LEVEL_COLUMNS = ["Enhanced", "Validated", "Supported", "Approved", "Uncertain"]


def read_hpa_subcellular(path: str | Path, source: str = "hpa_subcellular") -> pl.DataFrame:
    """Long table: ensembl_gene, gene_name, reliability (gene level), location, level.

    ``level`` is the reliability column the location was listed under (Enhanced/Validated/
    Supported/Approved/Uncertain). Newer releases' "Main location"/"Additional location" carry the
    same locations and are not needed.
    """
    df = read_tsv(path, source, ["Gene", "Gene name", "Reliability"])
    levels = [c for c in _LEVEL_COLUMNS if c in df.columns]
    if not levels:
        raise SourceFormatError(
            source, str(path), f"no reliability-level columns ({_LEVEL_COLUMNS}) in header"
        )
    parts = []
    for level in levels:
        parts.append(
            df.select(
                pl.col("Gene").alias("ensembl_gene"),
                pl.col("Gene name").alias("gene_name"),
                pl.col("Reliability").alias("reliability"),
                pl.col(level).fill_null("").str.split(";").alias("location"),
                pl.lit(level).alias("level"),
            )
            .explode("location")
            .filter(pl.col("location").str.strip_chars() != "")
            .with_columns(pl.col("location").str.strip_chars())
        )
    return pl.concat(parts).unique()


def read_hpa_genes(path: str | Path, source: str = "hpa_subcellular") -> pl.DataFrame:
    """Genes HPA reports a subcellular location for: ensembl_gene, gene_name, reliability."""
    df = read_tsv(path, source, ["Gene", "Gene name", "Reliability"])
    return df.select(
        pl.col("Gene").alias("ensembl_gene"),
        pl.col("Gene name").alias("gene_name"),
        pl.col("Reliability").alias("reliability"),
    ).unique()


CILIA_FLAG_COLUMNS = ["Cilia", "Cilium", "Centrosome", "Flagella", "Flagellum"]


def read_hpa_cilia_flags(
    path: str | Path, source: str = "hpa_cilia_flags", max_rejected_fraction: float = 0.001
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """HPA 2022 cilia/centrosome flags per gene symbol: gene_name + boolean flags (YES/NO).

    Returns ``(flags, rejected)``. A row whose flag columns are not YES/NO is malformed (the
    distributed table has one row copied from another table); such rows are returned in
    ``rejected`` (gene_name, line, reason) so the caller can report them, and the gene's flags
    stay unknown. More than ``max_rejected_fraction`` malformed rows is an error.
    """
    df = read_tsv(path, source, ["Gene_name", *CILIA_FLAG_COLUMNS]).with_row_index("line", offset=2)
    ok = pl.all_horizontal([pl.col(c).is_in(["YES", "NO"]) for c in CILIA_FLAG_COLUMNS])
    rejected = df.filter(~ok).select(
        "gene_name" if "gene_name" in df.columns else pl.col("Gene_name").alias("gene_name"),
        pl.col("line").cast(pl.Int64),
        pl.lit("flag columns are not YES/NO").alias("reason"),
    )
    if df.height and rejected.height / df.height > max_rejected_fraction:
        raise SourceFormatError(
            source,
            str(path),
            f"{rejected.height} of {df.height} rows have flag values other than YES/NO "
            f"(first at line {rejected['line'][0]}: gene {rejected['gene_name'][0]!r})",
        )
    comment_cols = [f"{c}_comments" for c in CILIA_FLAG_COLUMNS if f"{c}_comments" in df.columns]
    flags = df.filter(ok).select(
        pl.col("Gene_name").alias("gene_name"),
        *[(pl.col(c) == "YES").alias(f"hpa_{c.lower()}") for c in CILIA_FLAG_COLUMNS],
        pl.concat_str(
            [pl.when(pl.col(c) == "NA").then(None).otherwise(pl.col(c)) for c in comment_cols],
            separator=" | ",
            ignore_nulls=True,
        ).alias("hpa_cilia_comments"),
    )
    return flags, rejected
