"""Constraint layer: gnomAD v4.1 loss-of-function constraint, one transcript per gene.

The gnomAD v4.1 constraint TSV has one row per transcript (Ensembl ``ENST`` and RefSeq ``NM_``),
with ``gene``, ``gene_id``, ``transcript``, ``canonical`` and ``mane_select`` ("true"/"false")
and the metrics ``lof.oe_ci.upper`` (LOEUF) and ``lof.pLI`` ("NA" when not computed).

Transcript choice per gene: the MANE Select transcript; if the gene has none, the canonical
transcript; Ensembl rows before RefSeq rows. Genes join the universe on the unversioned Ensembl
gene ID, then (for genes not matched) on the symbol.

``constraint_score = 1 - min(LOEUF, 2) / 2`` (0-1; 1 = strongly LoF-intolerant); NULL when gnomAD
has no LOEUF for the gene. ``loeuf`` and ``pli`` are kept beside it.

How much weight constraint deserves: little. LOEUF and pLI measure selection against
*heterozygous* loss of function. Usher syndrome and most ciliopathies are autosomal recessive:
carriers are healthy, so the known Usher genes are mostly LoF-tolerant (USH2A, ADGRV1, CDH23,
PCDH15 and MYO7A have LOEUF far above the intolerant range). A high constraint score is therefore
not evidence for an Usher-like role, and a low one is not evidence against; it mainly flags
dominant / haploinsufficient disease genes. Use it as a minor feature (we recommend a weight of at
most 0.05 of the total, or as a tie-breaker) and never as a filter.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from ..textio import open_text
from .settings import GNOMAD_REQUIRED as REQUIRED

SOURCE = "gnomad_constraint"
LOEUF_CAP = 2.0


def read_gnomad_constraint(path: str | Path) -> pl.DataFrame:
    """Transcript rows: gene, gene_id, transcript, canonical, mane_select, loeuf, pli."""
    with open_text(path, source=SOURCE) as fh:
        text = fh.read()
    header = text.split("\n", 1)[0].rstrip("\r").split("\t")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SourceFormatError(SOURCE, str(path), f"missing column(s) {missing} (schema drift?)")
    df = pl.read_csv(
        text.encode(),
        separator="\t",
        quote_char=None,
        infer_schema=False,
        columns=list(REQUIRED),
        null_values=["NA", ""],
    )

    def flag(c: str) -> pl.Expr:
        return pl.col(c).str.to_lowercase().is_in(["true", "1"]).fill_null(False).alias(c)

    out = df.select(
        pl.col("gene"),
        pl.col("gene_id"),
        pl.col("transcript"),
        flag("canonical"),
        flag("mane_select"),
        pl.col("lof.oe_ci.upper").cast(pl.Float64, strict=False).alias("loeuf"),
        pl.col("lof.pLI").cast(pl.Float64, strict=False).alias("pli"),
    )
    bad = df.filter(
        pl.col("lof.oe_ci.upper").is_not_null()
        & pl.col("lof.oe_ci.upper").cast(pl.Float64, strict=False).is_null()
    )
    if bad.height:
        raise SourceFormatError(
            SOURCE, str(path), f"non-numeric LOEUF values, e.g. {bad['lof.oe_ci.upper'][0]!r}"
        )
    return out


def choose_transcripts(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per gene (key: gene_id, else gene symbol): MANE Select, else canonical."""
    ranked = rows.filter(pl.col("mane_select") | pl.col("canonical")).with_columns(
        pl.when(pl.col("mane_select")).then(0).otherwise(1).alias("_rank"),
        pl.col("transcript").str.starts_with("ENST").not_().cast(pl.Int8).alias("_refseq"),
        pl.coalesce(pl.col("gene_id"), pl.col("gene")).alias("_key"),
    )
    return (
        ranked.sort("_key", "_rank", "_refseq", "transcript")
        .unique("_key", keep="first", maintain_order=True)
        .drop("_rank", "_refseq", "_key")
    )


def gnomad_constraint(universe: pl.DataFrame, path: str | Path) -> pl.DataFrame:
    """gene_id, gnomad_transcript, gnomad_mane_select, loeuf, pli, constraint_score."""
    chosen = choose_transcripts(read_gnomad_constraint(path))
    ens = (
        chosen.filter(pl.col("gene_id").str.starts_with("ENSG"))
        .with_columns(pl.col("gene_id").str.replace(r"\.\d+$", "").alias("ensembl_gene"))
        .unique("ensembl_gene", keep="first", maintain_order=True)
    )
    base = universe.select("gene_id", "symbol", "ensembl_gene").unique(
        "gene_id", maintain_order=True
    )
    cols = ["transcript", "mane_select", "loeuf", "pli"]
    by_ens = base.join(ens.select("ensembl_gene", *cols), on="ensembl_gene", how="left")
    by_sym = (
        chosen.sort(pl.col("transcript").str.starts_with("ENST"), descending=True)
        .unique("gene", keep="first", maintain_order=True)
        .select(pl.col("gene").alias("symbol"), *[pl.col(c).alias(f"{c}_s") for c in cols])
    )
    merged = by_ens.join(by_sym, on="symbol", how="left").with_columns(
        [
            pl.when(pl.col("transcript").is_null())
            .then(pl.col(f"{c}_s"))
            .otherwise(pl.col(c))
            .alias(c)
            for c in cols
        ]
    )
    score = (1.0 - pl.col("loeuf").clip(0.0, LOEUF_CAP) / LOEUF_CAP).alias("constraint_score")
    return merged.select(
        "gene_id",
        pl.col("transcript").alias("gnomad_transcript"),
        pl.col("mane_select").alias("gnomad_mane_select"),
        "loeuf",
        "pli",
        score,
    )
