"""Parsers of the sensory-cilia sources: the Human Protein Atlas v25 cilia atlas (cilium /
basal body / transition zone / centrosome locations) and the Scheffer et al. 2015 inner-ear
hair-cell RNA-seq (GSE60019: expression matrix and sample design). Each checks its layout and
fails naming the source, file and field."""

from __future__ import annotations

import io
import math
from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_text, read_tsv

HPA_V25_COLUMNS = (
    "Cilium compartment(s)",
    "Gene",
    "Ensembl",
    "Subcellular location",
    "Subcellular main location",
    "Subcellular additional location",
    "Reliability (IF)",
)


def _split(col: str) -> pl.Expr:
    """'A; B' -> ['A', 'B'] (empty or missing -> [])."""
    return (
        pl.col(col)
        .fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
    )


def read_hpa_v25_cilia(path: str | Path, source: str = "hpa_v25_cilia") -> pl.DataFrame:
    """HPA v25.1 cilia atlas (CSV, one row per gene): ensembl_gene, symbol, compartments (list of
    the file's 'Cilium compartment(s)'), locations / main_locations / additional_locations (lists)
    and reliability ('Reliability (IF)'). A row without gene, Ensembl ID, compartment or
    reliability, or a gene listed twice, is an error naming the file."""
    text = read_text(path, source)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"malformed CSV ({exc})") from exc
    missing = [c for c in HPA_V25_COLUMNS if c not in df.columns]
    if missing:
        raise SourceFormatError(
            source, str(path), f"missing column(s) {missing}; found {df.columns[:12]}"
        )
    for col in ("Gene", "Ensembl", "Cilium compartment(s)", "Reliability (IF)"):
        n = df[col].fill_null("").str.strip_chars().eq("").sum()
        if n:
            raise SourceFormatError(source, str(path), f"{n} row(s) with no value in '{col}'")
    dup = df.filter(pl.col("Ensembl").is_duplicated())["Ensembl"].unique().sort().to_list()
    if dup:
        raise SourceFormatError(source, str(path), f"Ensembl gene(s) listed twice: {dup[:5]}")
    return df.select(
        pl.col("Ensembl").str.strip_chars().alias("ensembl_gene"),
        pl.col("Gene").str.strip_chars().alias("symbol"),
        _split("Cilium compartment(s)").alias("compartments"),
        _split("Subcellular location").alias("locations"),
        _split("Subcellular main location").alias("main_locations"),
        _split("Subcellular additional location").alias("additional_locations"),
        pl.col("Reliability (IF)").str.strip_chars().alias("reliability"),
    ).sort("ensembl_gene")


DESIGN_COLUMNS = ("sample", "organism_part", "cell_type", "time_point")
HAIR_CELL = "sensory_hair_cell"
SURROUNDING_CELL = "surrounding_cell"


def read_scheffer_design(path: str | Path, source: str = "scheffer_design") -> pl.DataFrame:
    """GSE60019 sample design: sample, organism_part, cell_type, time_point (one row per GSM).
    cell_type must be sensory_hair_cell or surrounding_cell."""
    df = read_tsv(path, source, DESIGN_COLUMNS)
    for col in DESIGN_COLUMNS:
        n = df[col].fill_null("").eq("").sum()
        if n:
            raise SourceFormatError(source, str(path), f"{n} row(s) with no value in '{col}'")
    bad = df.filter(~pl.col("cell_type").is_in([HAIR_CELL, SURROUNDING_CELL]))
    if bad.height:
        raise SourceFormatError(
            source,
            str(path),
            f"cell_type {bad['cell_type'][0]!r} of sample {bad['sample'][0]} is neither "
            f"{HAIR_CELL} nor {SURROUNDING_CELL}",
        )
    if df["sample"].is_duplicated().any():
        raise SourceFormatError(source, str(path), "a sample is listed twice")
    return df.select(*DESIGN_COLUMNS)


def read_scheffer_cpm(path: str | Path, source: str = "scheffer_cpm") -> pl.DataFrame:
    """GSE60019 expression matrix: 'gene' (mouse symbol) and one Float64 CPM column per GSM
    sample. Non-numeric, negative or missing values and duplicate symbols are errors."""
    df = read_tsv(path, source, ["gene"])
    samples = [c for c in df.columns if c != "gene"]
    if not samples:
        raise SourceFormatError(source, str(path), "no sample columns besides 'gene'")
    try:
        df = df.with_columns(pl.col(samples).cast(pl.Float64))
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"non-numeric CPM value ({exc})") from exc
    for col in samples:
        vals = df[col]
        if vals.null_count() or vals.is_nan().any() or (vals < 0).any():
            raise SourceFormatError(
                source, str(path), f"column '{col}' has a missing, NaN or negative CPM value"
            )
        if not all(math.isfinite(v) for v in (vals.min(), vals.max())):
            raise SourceFormatError(source, str(path), f"column '{col}' has an infinite value")
    if df["gene"].null_count() or df["gene"].is_duplicated().any():
        raise SourceFormatError(source, str(path), "empty or duplicate gene symbol in 'gene'")
    return df
