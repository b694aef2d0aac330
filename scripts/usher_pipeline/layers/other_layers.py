"""Literature, protein-feature, constraint and expression layers."""

from __future__ import annotations

import math

import polars as pl

from . import noisy_or

CONTEXT_COLUMNS = ("pubmed_cilia", "pubmed_sensory", "pubmed_photoreceptor")


def literature_layer(
    universe: pl.DataFrame,
    gene2pubmed: pl.DataFrame,
    context_counts: pl.DataFrame | None,
    ref_context: int,
    temporal_pmid_cutoff: int | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Publication counts (study bias) and, where available, cilia-context counts (evidence).

    ``pubmed_before_cutoff`` counts the links to PMIDs below ``temporal_pmid_cutoff`` (PMIDs are
    assigned in time order, so this is the literature of an earlier date; the temporal holdout
    uses it as the fame of 2013). ``pubmed_total`` counts gene2pubmed links; a gene without links has 0 publications (explicit
    zero, never NaN/NULL: gene2pubmed lists every curated link, so absence means none).
    ``literature_score`` = log1p(cilia + sensory + photoreceptor context hits) / log1p(ref_context)
    capped at 1, from E-utilities queries in live mode; NULL in snapshot mode, which has no
    context-specific counts.
    """
    cutoff = temporal_pmid_cutoff if temporal_pmid_cutoff is not None else 0
    totals = gene2pubmed.group_by("ncbi_gene_id").agg(
        pl.col("pmid").n_unique().alias("pubmed_total"),
        pl.col("pmid").filter(pl.col("pmid") < cutoff).n_unique().alias("pubmed_before_cutoff"),
    )
    out = universe.select("gene_id", "ncbi_gene_id").join(totals, on="ncbi_gene_id", how="left")
    out = out.with_columns(
        pl.col("pubmed_total").fill_null(0).cast(pl.Int64),
        pl.when(pl.lit(temporal_pmid_cutoff is not None))
        .then(pl.col("pubmed_before_cutoff").fill_null(0).cast(pl.Int64))
        .otherwise(None)
        .alias("pubmed_before_cutoff"),
    ).with_columns(pl.col("pubmed_total").cast(pl.Float64).log1p().alias("pubmed_total_log1p"))
    if context_counts is not None:
        ctx = context_counts.select("gene_id", *CONTEXT_COLUMNS, "pubmed_query_total")
        out = out.join(ctx, on="gene_id", how="left")
        hits = sum(pl.col(c).cast(pl.Float64) for c in CONTEXT_COLUMNS)
        out = out.with_columns(
            (hits.log1p() / math.log1p(ref_context)).clip(0.0, 1.0).alias("literature_score")
        )
    else:
        out = out.with_columns(
            *[pl.lit(None, dtype=pl.Int64).alias(c) for c in CONTEXT_COLUMNS],
            pl.lit(None, dtype=pl.Int64).alias("pubmed_query_total"),
            pl.lit(None, dtype=pl.Float64).alias("literature_score"),
        )
    stats = {
        "genes_with_zero_publications": int((out["pubmed_total"] == 0).sum()),
        "median_publications": float(out["pubmed_total"].median() or 0),
    }
    return out.drop("ncbi_gene_id"), stats


def protein_features_layer(
    universe: pl.DataFrame,
    pfam: pl.DataFrame | None,
    prosite: pl.DataFrame | None,
    uniprot: pl.DataFrame | None,
    domains: list[dict],
    coiled_coil_weight: float,
) -> tuple[pl.DataFrame, dict]:
    """Domains typical of cilia and Usher complexes (PDZ, cadherin, myosin motor, MyTH4, FERM,
    TPR/WD40 repeats of IFT and BBSome subunits, …) from Pfam and PROSITE.

    Each configured domain has Pfam and/or PROSITE IDs and a weight; score = noisy-OR of the weights
    of the domain families present (+ coiled coil from UniProt in live mode). NULL when no source
    lists the gene at all; a gene listed with no domain ('-') scores 0.
    ``pfam``/``prosite``: ncbi_gene_id, xref. ``uniprot``: gene_id, pfam_ids, n_coiled_coil,
    n_transmembrane, protein_length (live mode).
    """
    base = universe.select("gene_id", "ncbi_gene_id")
    ids = []
    if pfam is not None:
        ids.append(pfam.join(base, on="ncbi_gene_id").select("gene_id", "xref"))
    if prosite is not None:
        ids.append(prosite.join(base, on="ncbi_gene_id").select("gene_id", "xref"))
    if uniprot is not None:
        ids.append(uniprot.select("gene_id", pl.col("pfam_ids").alias("xref")).explode("xref"))
    if ids:
        all_ids = pl.concat(ids)
        per_gene = all_ids.group_by("gene_id").agg(
            pl.col("xref").drop_nulls().unique().sort().alias("domain_ids")
        )
    else:
        per_gene = pl.DataFrame(schema={"gene_id": pl.String, "domain_ids": pl.List(pl.String)})
    out = base.join(per_gene, on="gene_id", how="left")
    if uniprot is not None:
        out = out.join(
            uniprot.select("gene_id", "protein_length", "n_coiled_coil", "n_transmembrane"),
            on="gene_id",
            how="left",
        )
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("protein_length"),
            pl.lit(None, dtype=pl.Int64).alias("n_coiled_coil"),
            pl.lit(None, dtype=pl.Int64).alias("n_transmembrane"),
        )
    comps = []
    labels = []
    for dom in domains:
        hit = pl.col("domain_ids").list.set_intersection(pl.lit(list(dom["ids"]))).list.len() > 0
        comps.append(pl.when(hit).then(float(dom["weight"])).otherwise(0.0))
        labels.append(pl.when(hit).then(pl.lit(dom["label"])).otherwise(None))
    comps.append(
        pl.when(pl.col("n_coiled_coil").fill_null(0) > 0).then(coiled_coil_weight).otherwise(0.0)
    )
    families = (
        pl.concat_list(labels).list.drop_nulls() if labels else pl.lit([], dtype=pl.List(pl.String))
    )
    out = out.with_columns(
        families.alias("cilia_domain_families"),
        pl.when(pl.col("domain_ids").is_not_null() | pl.col("n_coiled_coil").is_not_null())
        .then(noisy_or(comps))
        .otherwise(None)
        .alias("protein_features_score"),
    ).with_columns(
        pl.when(pl.col("domain_ids").is_null())
        .then(None)
        .otherwise(pl.col("cilia_domain_families"))
        .alias("cilia_domain_families")
    )
    stats = {
        "genes_with_domain_data": int(out["domain_ids"].is_not_null().sum()),
        "genes_with_cilia_domain": int(
            (out["cilia_domain_families"].list.len().fill_null(0) > 0).sum()
        ),
    }
    return out.drop("ncbi_gene_id"), stats


def constraint_layer(
    universe: pl.DataFrame,
    shet: pl.DataFrame | None,
    gnomad: pl.DataFrame | None,
    shet_scale: float,
) -> tuple[pl.DataFrame, dict]:
    """Loss-of-function constraint. Snapshot: s_het (Weghorn 2019) by Ensembl gene,
    score = 1 - exp(-s_het / shet_scale). Live: gnomAD v4.1 LOEUF/pLI (``gnomad``: gene_id, loeuf,
    pli, gnomad_transcript, constraint_score) takes precedence where present.

    Usher genes are recessive (heterozygous LoF is tolerated), so constraint gets a small weight in
    the composite; see config ``scoring.weights.constraint``. An Ensembl ID on several s_het rows
    is ambiguous and left NULL (counted). NULL when the gene has no constraint estimate.
    """
    out = universe.select("gene_id", "ensembl_gene")
    n_dup = 0
    n_alt = 0
    if shet is not None:
        dups = shet.filter(pl.col("ensembl_gene").is_duplicated())["ensembl_gene"].unique()
        n_dup = dups.len()
        clean = shet.filter(~pl.col("ensembl_gene").is_in(dups.to_list())).select(
            "ensembl_gene", "s_het", "s_het_lower95", "s_het_upper95"
        )
        primary = universe.select("gene_id", "ensembl_gene").join(clean, on="ensembl_gene")
        # Genes whose primary Ensembl ID is absent: try their other IDs (older sources may key a
        # gene by a retired ID); a row claimed by two genes is ambiguous and left NULL.
        if "ensembl_ids" in universe.columns:
            alt = (
                universe.join(primary.select("gene_id"), on="gene_id", how="anti")
                .select("gene_id", pl.col("ensembl_ids").alias("alt_id"))
                .explode("alt_id")
                .join(clean.rename({"ensembl_gene": "alt_id"}), on="alt_id")
                .filter(~pl.col("alt_id").is_in(primary["ensembl_gene"].to_list()))
            )
            alt = alt.filter(
                ~pl.col("alt_id").is_duplicated() & ~pl.col("gene_id").is_duplicated()
            ).drop("alt_id")
            n_alt = alt.height
            primary = pl.concat([primary.drop("ensembl_gene"), alt], how="vertical_relaxed")
        else:
            primary = primary.drop("ensembl_gene")
        out = out.join(primary, on="gene_id", how="left")
    else:
        out = out.with_columns(
            *[
                pl.lit(None, dtype=pl.Float64).alias(c)
                for c in ("s_het", "s_het_lower95", "s_het_upper95")
            ]  # fmt: skip
        )
    shet_score = 1.0 - (-pl.col("s_het") / shet_scale).exp()
    if gnomad is not None:
        out = out.join(
            gnomad.select(
                "gene_id",
                "gnomad_transcript",
                "loeuf",
                "pli",
                pl.col("constraint_score").alias("_gnomad_score"),
            ),  # fmt: skip
            on="gene_id",
            how="left",
        ).with_columns(pl.coalesce("_gnomad_score", shet_score).alias("constraint_score"))
        out = out.drop("_gnomad_score")
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.String).alias("gnomad_transcript"),
            pl.lit(None, dtype=pl.Float64).alias("loeuf"),
            pl.lit(None, dtype=pl.Float64).alias("pli"),
            shet_score.alias("constraint_score"),
        )
    stats = {
        "genes_with_constraint": int(out["constraint_score"].is_not_null().sum()),
        "shet_ambiguous_ensembl_ids": int(n_dup),
        "shet_matched_by_alternative_ensembl_id": int(n_alt),
    }
    return out.drop("ensembl_gene"), stats


EXPRESSION_COLUMNS = {
    "hpa_retina_ntpm": pl.Float64,
    "hpa_max_ntpm": pl.Float64,
    "hpa_retina_specificity": pl.Float64,
    "gtex_max_tpm": pl.Float64,
    "expression_score": pl.Float64,
}


def expression_layer_unknown(universe: pl.DataFrame) -> pl.DataFrame:
    """Snapshot mode has no tissue expression source: every value is NULL (unknown), never 0."""
    return universe.select("gene_id").with_columns(
        *[pl.lit(None, dtype=t).alias(c) for c, t in EXPRESSION_COLUMNS.items()]
    )
