"""Mouse (MGI) and human (HPO) phenotype layers."""

from __future__ import annotations

import polars as pl

from ..parsers.ontology import Ontology
from . import noisy_or


def mouse_phenotype_layer(
    universe: pl.DataFrame, hmd: pl.DataFrame, mp_categories: list[dict]
) -> tuple[pl.DataFrame, dict]:
    """Mouse phenotypes of the human gene's mouse ortholog(s), by MP top-level term ID.

    A human gene with several mouse orthologs takes the union of their MP IDs (duplicates upstream
    cannot inflate counts). Score: noisy-OR of the weights of the configured MP categories hit.
    NULL when the gene has no mouse ortholog, or orthologs without any phenotype annotation
    ("not phenotyped" is unknown, not negative).
    """
    per_gene = hmd.group_by("ncbi_gene_id").agg(
        pl.col("mgi_id").unique().sort().alias("mgi_ids"),
        pl.col("mouse_symbol").unique().sort().alias("mouse_symbols"),
        pl.col("mp_ids")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .sort()
        .alias("mp_ids"),
    )
    out = universe.select("gene_id", "ncbi_gene_id").join(per_gene, on="ncbi_gene_id", how="left")
    phenotyped = pl.col("mp_ids").list.len().fill_null(0) > 0
    exprs = []
    comps = []
    for cat in mp_categories:
        flag = pl.col("mp_ids").list.contains(cat["mp_id"])
        exprs.append(pl.when(phenotyped).then(flag).otherwise(None).alias(f"mouse_{cat['key']}"))
        comps.append(pl.when(flag).then(float(cat["weight"])).otherwise(0.0))
    out = out.with_columns(
        pl.col("mgi_ids").is_not_null().alias("mouse_has_ortholog"),
        pl.when(phenotyped)
        .then(pl.col("mp_ids").list.len())
        .otherwise(None)
        .alias("mouse_n_mp_top_terms"),
        *exprs,
        pl.when(phenotyped).then(noisy_or(comps)).otherwise(None).alias("mouse_phenotype_score"),
    )
    stats = {
        "genes_with_ortholog": int(out["mouse_has_ortholog"].sum()),
        "genes_phenotyped": int(out["mouse_phenotype_score"].is_not_null().sum()),
        "hmd_rows": hmd.height,
        "hmd_genes_with_several_orthologs": int(
            hmd.group_by("ncbi_gene_id").len().filter(pl.col("len") > 1).height
        ),
    }
    return out.drop("ncbi_gene_id"), stats


def human_phenotype_layer(
    universe: pl.DataFrame, g2p: pl.DataFrame, hpo: Ontology, categories: list[dict]
) -> tuple[pl.DataFrame, dict]:
    """Human phenotypes from HPO gene annotations, each category a term and all its descendants.

    Score: noisy-OR of the weights of the categories with at least one annotated term.
    NULL when HPO has no annotation for the gene (no known Mendelian phenotype).
    Obsolete / alternative HPO IDs are resolved; unresolvable IDs are dropped and counted.
    """
    ann, dropped = hpo.resolve_column(g2p, "hpo_id")
    per_gene = ann.group_by("ncbi_gene_id").agg(
        pl.col("hpo_id").n_unique().alias("hpo_n_terms"),
        pl.col("disease_id").n_unique().alias("hpo_n_diseases"),
        pl.col("hpo_id").unique().alias("_terms"),
    )
    exprs = []
    comps = []
    for cat in categories:
        desc = sorted(hpo.descendants(cat["hpo_id"]))
        hit = pl.col("_terms").list.set_intersection(pl.lit(desc)).list.len() > 0
        exprs.append(hit.alias(f"hpo_{cat['key']}"))
        comps.append(pl.when(hit).then(float(cat["weight"])).otherwise(0.0))
    per_gene = per_gene.with_columns(*exprs).with_columns(
        noisy_or(comps).alias("human_phenotype_score")
    )
    out = universe.select("gene_id", "ncbi_gene_id").join(per_gene, on="ncbi_gene_id", how="left")
    stats = {
        "hpo_rows_obsolete_or_unknown": dropped,
        "genes_with_hpo": int(out["hpo_n_terms"].is_not_null().sum()),
    }
    return out.drop("ncbi_gene_id", "_terms"), stats
