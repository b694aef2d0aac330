"""GO-based layers: annotation depth (a study-bias covariate) and ciliary localization.

Annotation depth is deliberately NOT evidence for candidacy: well-studied genes have more GO terms,
so using it would rank by fame. It is kept as a covariate (reported, used to check study bias) with
weight 0 in the composite score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from ..parsers.ontology import Ontology
from . import noisy_or

EXPERIMENTAL_CODES = frozenset(
    {"EXP", "IDA", "IPI", "IMP", "IGI", "IEP", "HTP", "HDA", "HMP", "HGI", "HEP"}
)
NO_DATA_CODES = frozenset({"ND"})


def resolve_go_ids(gene2go: pl.DataFrame, onto: Ontology) -> tuple[pl.DataFrame, int]:
    """Map annotated GO IDs to current terms (alt_id / replaced_by); drop obsolete or unknown IDs.

    Returns the resolved annotations (go_id replaced, evidence_class added) and the number of
    annotation rows dropped because their term is obsolete or absent from this GO release.
    """
    current, dropped = onto.resolve_column(gene2go, "go_id")
    resolved = current.with_columns(
        pl.when(pl.col("evidence").is_in(list(EXPERIMENTAL_CODES)))
        .then(pl.lit("experimental"))
        .when(pl.col("evidence").is_in(list(NO_DATA_CODES)))
        .then(pl.lit("no_data"))
        .otherwise(pl.lit("computational"))
        .alias("evidence_class")
    )
    return resolved, dropped


def annotation_layer(
    universe: pl.DataFrame, gene2go: pl.DataFrame, onto: Ontology, ref_terms: int
) -> tuple[pl.DataFrame, dict]:
    """Per gene: distinct GO terms (all / experimental / computational / per namespace) and a
    0–1 depth score log1p(n)/log1p(ref_terms), capped at 1. Genes without gene2go rows: NULL.
    Obsolete / unknown GO IDs are resolved through alt_id/replaced_by or dropped (counted)."""
    resolved, dropped = resolve_go_ids(gene2go, onto)
    ns = pl.DataFrame(
        {
            "go_id": list(onto.terms),
            "namespace": [t.get("namespace") for t in onto.terms.values()],
        }
    )
    annotated = resolved.join(ns, on="go_id", how="left")
    informative = pl.col("evidence_class") != "no_data"
    agg = annotated.group_by("ncbi_gene_id").agg(
        pl.col("go_id").filter(informative).n_unique().alias("go_n_terms"),
        pl.col("go_id")
        .filter(pl.col("evidence_class") == "experimental")
        .n_unique()
        .alias("go_n_experimental"),
        pl.col("go_id")
        .filter(pl.col("evidence_class") == "computational")
        .n_unique()
        .alias("go_n_computational"),
        *[
            pl.col("go_id")
            .filter(informative & (pl.col("namespace") == n))
            .n_unique()
            .alias(f"go_n_{n.lower()}")
            for n in ("BP", "CC", "MF")
        ],
    )
    denom = math.log1p(ref_terms)
    agg = agg.with_columns(
        (pl.col("go_n_terms").cast(pl.Float64).log1p() / denom)
        .clip(0.0, 1.0)
        .alias("annotation_score")
    )
    out = universe.select("gene_id", "ncbi_gene_id").join(agg, on="ncbi_gene_id", how="left")
    stats = {"go_rows_obsolete_or_unknown": dropped,
             "genes_with_go": int(out["go_n_terms"].is_not_null().sum())}  # fmt: skip
    return out.drop("ncbi_gene_id"), stats


def compartment_terms(onto: Ontology, compartments: list[dict]) -> pl.DataFrame:
    """Expand each configured GO CC compartment to its subtree (is_a + part_of descendants).

    Returns go_id, label, weight (a term under several compartments keeps every row)."""
    rows = []
    for comp in compartments:
        for term in sorted(onto.descendants(comp["go_id"])):
            rows.append((term, comp["label"], float(comp["weight"])))
    return pl.DataFrame(rows, schema=["go_id", "label", "weight"], orient="row")


def localization_layer(
    universe: pl.DataFrame,
    gene2go: pl.DataFrame,
    onto: Ontology,
    compartments: list[dict],
    hpa_locations: pl.DataFrame,
    hpa_genes: pl.DataFrame,
    hpa_flags: pl.DataFrame | None,
    weights: dict,
    hpa_superseded: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Ciliary localization evidence from GO CC subtrees (experimental vs computational evidence)
    and the Human Protein Atlas. Returns (per-gene table keyed by gene_id, stats).

    Score: noisy-OR of components, each in [0, 1]:
      GO experimental hit: max compartment weight × ``go_experimental``;
      GO computational hit: max compartment weight × ``go_computational``;
      HPA subcellular (centrosome / ciliary locations listed in ``hpa_locations``): reliability
      (Enhanced/Validated 1, Supported 0.75, Approved 0.5, Uncertain 0.25) × ``hpa_location``;
      HPA cilia flag (Cilia/Cilium/Flagella/Flagellum): ``hpa_cilia_flag``;
      HPA centrosome flag: ``hpa_centrosome_flag``.
    A gene no source covers (no GO annotation, not in either HPA table) is NULL; a gene covered
    but without any ciliary hit scores 0.

    ``hpa_superseded``: gene IDs the HPA v25 cilia atlas lists (its own layer, ``cilia_atlas``).
    For them the HPA v17 location and HPA 2022 flags stay as raw values but do not count in the
    score (``hpa_superseded_by_v25``), so HPA evidence is not counted twice; the older HPA
    evidence counts only where v25 says nothing about the gene.
    """
    resolved, dropped = resolve_go_ids(gene2go, onto)
    informative = resolved.filter(pl.col("evidence_class") != "no_data")
    terms = compartment_terms(onto, compartments)
    hits = informative.join(terms, on="go_id")

    def agg(cls: str, tag: str) -> pl.DataFrame:
        sub = hits.filter(pl.col("evidence_class") == cls)
        return sub.group_by("ncbi_gene_id").agg(
            pl.col("label").unique().sort().alias(f"loc_go_{tag}_compartments"),
            pl.col("weight").max().alias(f"loc_go_{tag}_weight"),
        )

    go = (
        informative.select("ncbi_gene_id")
        .unique()
        .join(agg("experimental", "exp"), on="ncbi_gene_id", how="left")
        .join(agg("computational", "com"), on="ncbi_gene_id", how="left")
        .with_columns(pl.lit(True).alias("go_annotated"))
    )
    level_rank = {"Enhanced": 1.0, "Validated": 1.0, "Supported": 0.75, "Approved": 0.5,
                  "Uncertain": 0.25}  # fmt: skip
    ciliary = (
        hpa_locations.filter(pl.col("location").is_in(weights["hpa_locations"]))
        .with_columns(
            pl.col("level")
            .replace_strict(level_rank, default=0.0, return_dtype=pl.Float64)
            .alias("conf")
        )
        .group_by("ensembl_gene")
        .agg(
            pl.col("location").unique().sort().alias("hpa_ciliary_locations"),
            pl.col("conf").max().alias("hpa_location_confidence"),
        )
    )
    hpa = (
        hpa_genes.select("ensembl_gene")
        .unique()
        .join(ciliary, on="ensembl_gene", how="left")
        .with_columns(pl.lit(True).alias("hpa_subcellular_covered"))
    )
    out = universe.select("gene_id", "ncbi_gene_id", "ensembl_gene", "symbol")
    out = out.join(go, on="ncbi_gene_id", how="left").join(hpa, on="ensembl_gene", how="left")
    if hpa_flags is not None:
        # The distributed YES/NO flags are a text search for "cilia" in any HPA comment, including
        # expression in ciliated cell types ("Ciliated cells (cell body)", "Endometrial ciliated
        # cells"). They are kept raw; only comments naming ciliary structures or cilium-function
        # clusters (``hpa_cilia_comment_pattern``) count as localization evidence.
        pattern = weights["hpa_cilia_comment_pattern"]
        flags = hpa_flags.select(
            pl.col("gene_name").alias("symbol"),
            (
                pl.col("hpa_cilia")
                | pl.col("hpa_cilium")
                | pl.col("hpa_flagella")
                | pl.col("hpa_flagellum")
            ).alias("hpa_cilia_flag_raw"),  # fmt: skip
            pl.col("hpa_cilia_comments")
            .fill_null("")
            .str.contains(pattern)
            .alias("hpa_cilia_flag"),
            pl.col("hpa_centrosome").alias("hpa_centrosome_flag"),
        ).unique(subset="symbol", keep="any")
        dup_syms = hpa_flags.filter(pl.col("gene_name").is_duplicated())["gene_name"].unique()
        flags = flags.filter(~pl.col("symbol").is_in(dup_syms.to_list()))
        out = out.join(flags, on="symbol", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.Boolean).alias("hpa_cilia_flag_raw"),
            pl.lit(None, dtype=pl.Boolean).alias("hpa_cilia_flag"),
            pl.lit(None, dtype=pl.Boolean).alias("hpa_centrosome_flag"),
        )
    w = weights
    out = out.with_columns(
        pl.col("gene_id").is_in(list(hpa_superseded or [])).alias("hpa_superseded_by_v25")
    )
    old_hpa = pl.when(pl.col("hpa_superseded_by_v25")).then(None).otherwise(pl.lit(1.0))
    comps = [
        pl.col("loc_go_exp_weight") * w["go_experimental"],
        pl.col("loc_go_com_weight") * w["go_computational"],
        pl.col("hpa_location_confidence") * w["hpa_location"] * old_hpa,
        pl.col("hpa_cilia_flag").cast(pl.Float64) * w["hpa_cilia_flag"] * old_hpa,
        pl.col("hpa_centrosome_flag").cast(pl.Float64) * w["hpa_centrosome_flag"] * old_hpa,
    ]
    covered = (
        pl.col("go_annotated").fill_null(False)
        | pl.col("hpa_subcellular_covered").fill_null(False)
        | pl.col("hpa_cilia_flag").is_not_null()
    )
    out = out.with_columns(
        pl.col("go_annotated").fill_null(False),
        pl.col("hpa_subcellular_covered").fill_null(False),
    ).with_columns(
        pl.when(covered).then(noisy_or(comps)).otherwise(None).alias("localization_score")
    )
    stats = {
        "go_rows_obsolete_or_unknown": dropped,
        "genes_with_go_experimental_hit": int(out["loc_go_exp_weight"].is_not_null().sum()),
        "genes_with_go_computational_hit": int(out["loc_go_com_weight"].is_not_null().sum()),
        "genes_with_hpa_ciliary_location": int(out["hpa_location_confidence"].is_not_null().sum()),
        "genes_with_hpa_cilia_flag": int(out["hpa_cilia_flag"].fill_null(False).sum()),
        "genes_hpa_superseded_by_v25": int(out["hpa_superseded_by_v25"].sum()),
        # per configured HPA location: universe genes HPA places there (0 for the cilium
        # compartments in releases before HPA added them, e.g. the snapshot's v17)
        "genes_per_hpa_location": {
            loc: int(out["hpa_ciliary_locations"].list.contains(loc).fill_null(False).sum())
            for loc in weights["hpa_locations"]
        },
    }
    return out.drop("ncbi_gene_id", "ensembl_gene", "symbol"), stats
