"""Expression layer: HPA consensus tissue nTPM (has retina) and GTEx v8 median TPM (no retina).

Only continuous TPM-type values are used (HPA ``nTPM``, GTEx median ``TPM``); HPA's ordinal
protein levels (Not detected / Low / Medium / High) are never mixed in. Every value is
log-transformed as ``x' = log2(1 + x)`` before any comparison.

Per gene (joined on the unversioned Ensembl gene ID):

* ``hpa_retina_ntpm``, ``hpa_max_ntpm``, ``hpa_max_tissue``, ``hpa_n_tissues`` - raw values.
* ``hpa_tau`` - tissue specificity over ALL HPA tissues (Yanai et al. 2005):
  ``tau = sum_i (1 - x'_i / max x') / (n - 1)``; 0 = ubiquitous, 1 = one tissue only.
  NULL when the gene has fewer than 2 tissues or is expressed nowhere.
* ``hpa_retina_rel = x'_retina / max x'`` - 1 when retina is the top tissue.
* ``gtex_max_tpm``, ``gtex_max_tissue``, ``gtex_tau`` - the same over GTEx tissues.
* ``expression_score`` (0-1)::

      retina_level = min(1, log2(1 + retina nTPM) / log2(1 + 100))
      specificity  = mean of the available hpa_tau, gtex_tau
      score        = 0.5 * retina_level + 0.3 * hpa_retina_rel + 0.2 * specificity

  Retina is only measured by HPA, so the score is NULL when HPA has no retina value for the gene
  (GTEx alone cannot say anything about the retina); the GTEx columns are still reported.
  A gene the sources do not list gets NULL everywhere - never 0.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from ..textio import open_text

RETINA_TISSUE = "retina"
RETINA_SATURATION_NTPM = 100.0
HPA_COLUMNS = ("Gene", "Gene name", "Tissue", "nTPM")


def _strip_version(col: str) -> pl.Expr:
    return pl.col(col).str.replace(r"\.\d+(_PAR_Y)?$", "").alias("ensembl_gene")


def read_hpa_rna_tissue(path: str | Path) -> pl.DataFrame:
    """HPA rna_tissue_consensus.tsv(.zip): ensembl_gene, hpa_symbol, tissue (lower case), ntpm."""
    with open_text(path, source="hpa_rna_tissue") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        missing = [c for c in HPA_COLUMNS if c not in header]
        if missing:
            raise SourceFormatError(
                "hpa_rna_tissue", str(path), f"missing column(s) {missing}; header has {header}"
            )
        body = fh.read()
    df = pl.read_csv(
        ("\t".join(header) + "\n" + body).encode(),
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    out = df.select(
        pl.col("Gene").alias("ensembl_gene"),
        pl.col("Gene name").alias("hpa_symbol"),
        pl.col("Tissue").str.strip_chars().str.to_lowercase().alias("tissue"),
        pl.col("nTPM").cast(pl.Float64, strict=False).alias("ntpm"),
    )
    bad = df.filter(
        pl.col("nTPM").is_not_null() & pl.col("nTPM").cast(pl.Float64, strict=False).is_null()
    )
    if bad.height:
        raise SourceFormatError(
            "hpa_rna_tissue",
            str(path),
            f"{bad.height} non-numeric nTPM values, e.g. {bad['nTPM'][0]!r}",
        )
    return out.filter(pl.col("ntpm").is_not_null())


def read_gtex_median_gct(path: str | Path) -> pl.DataFrame:
    """GTEx gene median TPM GCT (``#1.2``, dims, header Name/Description/tissues...), long form:
    ensembl_gene (unversioned), tissue, tpm. PAR_Y duplicates keep the larger value."""
    with open_text(path, source="gtex_median") as fh:
        version = fh.readline().strip()
        dims = fh.readline().strip().split("\t")
        if not version.startswith("#1.") or len(dims) < 2:
            raise SourceFormatError("gtex_median", str(path), f"not a GCT file ({version!r})")
        header = fh.readline().rstrip("\r\n").split("\t")
        if header[:2] != ["Name", "Description"] or len(header) < 3:
            raise SourceFormatError(
                "gtex_median", str(path), f"GCT header must start Name, Description: {header[:4]}"
            )
        body = fh.read()
    df = pl.read_csv(
        ("\t".join(header) + "\n" + body).encode(),
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    n_rows, n_cols = int(dims[0]), int(dims[1])
    if df.height != n_rows or len(header) - 2 != n_cols:
        raise SourceFormatError(
            "gtex_median",
            str(path),
            f"GCT declares {n_rows} x {n_cols}, file has {df.height} x {len(header) - 2} "
            "(truncated?)",
        )
    tissues = header[2:]
    long = df.unpivot(index=["Name"], on=tissues, variable_name="tissue", value_name="tpm")
    return (
        long.select(
            _strip_version("Name"),
            pl.col("tissue"),
            pl.col("tpm").cast(pl.Float64, strict=True),
        )
        .group_by("ensembl_gene", "tissue")
        .agg(pl.col("tpm").max())
    )


def _tau_stats(long: pl.DataFrame, value: str, prefix: str) -> pl.DataFrame:
    """Per gene: max raw value, its tissue, tissue count and tau over log2(1+x)."""
    lg = long.with_columns(
        pl.col(value).clip(lower_bound=0).log1p().truediv(math.log(2)).alias("l")
    )
    agg = lg.group_by("ensembl_gene").agg(
        pl.col(value).max().alias(f"{prefix}_max"),
        pl.col("tissue").sort_by(value, descending=True).first().alias(f"{prefix}_max_tissue"),
        pl.len().alias(f"{prefix}_n_tissues"),
        pl.col("l").max().alias("_lmax"),
        pl.col("l").sum().alias("_lsum"),
    )
    n = pl.col(f"{prefix}_n_tissues")
    tau = (
        pl.when((n >= 2) & (pl.col("_lmax") > 0))
        .then((n - pl.col("_lsum") / pl.col("_lmax")) / (n - 1))
        .otherwise(None)
    )
    return agg.with_columns(tau.alias(f"{prefix}_tau")).drop("_lsum")


def expression_layer(
    universe: pl.DataFrame, hpa_tissue_path: Path | None, gtex_path: Path | None
) -> pl.DataFrame:
    """One row per universe gene; see the module docstring for columns and formula."""
    base = universe.select("gene_id", "ensembl_gene").unique("gene_id", maintain_order=True)
    out = base
    hpa_cols = [
        "hpa_retina_ntpm",
        "hpa_max_ntpm",
        "hpa_max_tissue",
        "hpa_n_tissues",
        "hpa_tau",
        "hpa_retina_rel",
    ]
    if hpa_tissue_path is not None:
        hpa = read_hpa_rna_tissue(hpa_tissue_path)
        if RETINA_TISSUE not in set(hpa["tissue"].unique().to_list()):
            raise SourceFormatError(
                "hpa_rna_tissue", str(hpa_tissue_path), "no 'retina' tissue in the file"
            )
        stats = _tau_stats(hpa, "ntpm", "hpa").rename({"hpa_max": "hpa_max_ntpm"})
        retina = (
            hpa.filter(pl.col("tissue") == RETINA_TISSUE)
            .group_by("ensembl_gene")
            .agg(pl.col("ntpm").max().alias("hpa_retina_ntpm"))
        )
        stats = stats.join(retina, on="ensembl_gene", how="left").with_columns(
            pl.when(pl.col("_lmax") > 0)
            .then(pl.col("hpa_retina_ntpm").log1p() / math.log(2) / pl.col("_lmax"))
            .when(pl.col("hpa_retina_ntpm").is_not_null())
            .then(0.0)
            .alias("hpa_retina_rel")
        )
        out = out.join(stats.select("ensembl_gene", *hpa_cols), on="ensembl_gene", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.Float64).alias(c)
            if c != "hpa_max_tissue"
            else pl.lit(None, pl.Utf8).alias(c)
            for c in hpa_cols
        )
    gtex_cols = ["gtex_max_tpm", "gtex_max_tissue", "gtex_n_tissues", "gtex_tau"]
    if gtex_path is not None:
        gtex = read_gtex_median_gct(gtex_path)
        gstats = _tau_stats(gtex, "tpm", "gtex").rename({"gtex_max": "gtex_max_tpm"})
        out = out.join(gstats.select("ensembl_gene", *gtex_cols), on="ensembl_gene", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.Float64).alias(c)
            if c != "gtex_max_tissue"
            else pl.lit(None, pl.Utf8).alias(c)
            for c in gtex_cols
        )
    level = (pl.col("hpa_retina_ntpm").log1p() / math.log1p(RETINA_SATURATION_NTPM)).clip(0.0, 1.0)
    spec = pl.mean_horizontal("hpa_tau", "gtex_tau")
    score = (0.5 * level + 0.3 * pl.col("hpa_retina_rel") + 0.2 * spec.fill_null(0.0)).clip(
        0.0, 1.0
    )
    out = out.with_columns(
        pl.when(pl.col("hpa_retina_ntpm").is_not_null())
        .then(score)
        .otherwise(None)
        .alias("expression_score")
    )
    return out.drop("ensembl_gene").select("gene_id", *hpa_cols, *gtex_cols, "expression_score")
