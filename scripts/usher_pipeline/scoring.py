"""Integration: NULL-aware weighted composite with shrinkage toward a prior, evidence counts, tiers.

For gene g with sub-scores s_i (only layers with data, i.e. non-NULL) and weights w_i:

    score(g) = (sum_i w_i * s_i + k * m) / (sum_i w_i + k)

with prior mean m and prior strength k (a pseudo-weight). A gene with one strong layer is pulled
toward m by the full k, while a gene with several supporting layers has a larger denominator and
keeps more of its evidence: one layer at 1.0 (w = 1, k = 1, m = 0) scores 0.5; three layers at 0.8
(w = 1 each) score 0.6. Missing layers neither reward nor punish beyond the shrinkage itself.

``contrib_<layer>`` = w_i * s_i / (sum_i w_i + k): the layer's share of the score (they sum to
score - k*m/(sum w + k)). ``evidence_count`` = layers with s_i >= evidence_min_score.
Ranks are by score, ties broken by gene_id, so ranking is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

SCORED_LAYERS = (
    "localization",
    "mouse_phenotype",
    "human_phenotype",
    "protein_features",
    "expression",
    "literature",
    "constraint",
    "network",
    "ht_studies",
    "phylogeny",
    "ciliary_function",
    "cilia_atlas",
    "inner_ear",
)


def composite_scores(
    subscores: pl.DataFrame,
    weights: Mapping[str, float],
    prior_mean: float,
    prior_strength: float,
    evidence_min_score: float,
    evidence_layers: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Add score, weight_available, layers_available, evidence_count and contrib_<layer> columns.

    ``subscores`` has gene_id and ``<layer>_score`` for each weighted layer.
    """
    layers = [layer for layer in SCORED_LAYERS if weights.get(layer, 0.0) > 0]
    missing = [f"{layer}_score" for layer in layers if f"{layer}_score" not in subscores.columns]
    if missing:
        raise KeyError(f"sub-score columns missing: {missing}")
    num = pl.lit(prior_strength * prior_mean)
    den = pl.lit(prior_strength)
    for layer in layers:
        s = pl.col(f"{layer}_score")
        num = num + pl.when(s.is_not_null()).then(s * weights[layer]).otherwise(0.0)
        den = den + pl.when(s.is_not_null()).then(weights[layer]).otherwise(0.0)
    out = subscores.with_columns(
        (num / den).alias("score"),
        (den - prior_strength).alias("weight_available"),
        pl.sum_horizontal([pl.col(f"{layer}_score").is_not_null() for layer in layers])
        .cast(pl.Int32)
        .alias("layers_available"),
        pl.sum_horizontal(
            [
                (pl.col(f"{layer}_score") >= evidence_min_score).fill_null(False)
                for layer in layers
                if evidence_layers is None or layer in evidence_layers
            ]
        )
        .cast(pl.Int32)
        .alias("evidence_count"),
        *[
            (pl.col(f"{layer}_score").fill_null(0.0) * weights[layer] / den).alias(
                f"contrib_{layer}"
            )
            for layer in layers
        ],
    )
    return out


def tier_thresholds(scoring: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The tier thresholds the run used: ``scoring.learned.tiers`` for the learned model (the
    default method), ``scoring.tiers`` for the weighted composite."""
    method = scoring.get("method", "learned")
    if method == "learned":
        learned = (scoring.get("learned") or {}).get("tiers")
        if learned:
            return dict(learned)
    return dict(scoring["tiers"])


def assign_tiers(df: pl.DataFrame, tiers: Mapping[str, Mapping[str, float]]) -> pl.DataFrame:
    """HIGH / MEDIUM by score and evidence-count thresholds; everything else LOW."""
    high, med = tiers["HIGH"], tiers["MEDIUM"]
    return df.with_columns(
        pl.when(
            (pl.col("score") >= high["min_score"])
            & (pl.col("evidence_count") >= high["min_evidence"])
        )  # fmt: skip
        .then(pl.lit("HIGH"))
        .when(
            (pl.col("score") >= med["min_score"])
            & (pl.col("evidence_count") >= med["min_evidence"])
        )  # fmt: skip
        .then(pl.lit("MEDIUM"))
        .otherwise(pl.lit("LOW"))
        .alias("tier")
    )


def rank(df: pl.DataFrame, column: str = "rank", score: str = "score") -> pl.DataFrame:
    """Deterministic 1-based rank by score (desc), ties by gene_id (asc)."""
    ordered = df.sort([score, "gene_id"], descending=[True, False], nulls_last=True)
    return ordered.with_row_index(column, offset=1).with_columns(pl.col(column).cast(pl.Int64))


def score_genes(subscores: pl.DataFrame, scoring: Mapping) -> pl.DataFrame:
    """Composite score, tiers and rank among all genes (``rank_all``), from the scoring config."""
    df = composite_scores(
        subscores,
        scoring["weights"],
        scoring["prior"]["mean"],
        scoring["prior"]["strength"],
        scoring["evidence_min_score"],
        scoring.get("evidence_layers"),
    )
    df = assign_tiers(df, scoring["tiers"])
    return rank(df, "rank_all")


def summarize_evidence(
    df: pl.DataFrame, weights: Mapping[str, float], min_score: float
) -> pl.DataFrame:
    """Human-readable evidence summary and gaps per gene.

    evidence_summary: layers at or above ``min_score`` with their sub-score, strongest first.
    evidence_gaps: layers with no data for the gene (unknown).
    """
    layers = [layer for layer in SCORED_LAYERS if weights.get(layer, 0.0) > 0]
    pieces = [
        pl.when(pl.col(f"{layer}_score") >= min_score)
        .then(pl.format("{} {}", pl.lit(layer), pl.col(f"{layer}_score").round(2)))
        .otherwise(None)
        for layer in layers
    ]
    gaps = [
        pl.when(pl.col(f"{layer}_score").is_null()).then(pl.lit(layer)).otherwise(None)
        for layer in layers
    ]
    return df.with_columns(
        pl.concat_list(pieces).list.drop_nulls().list.join("; ").alias("evidence_summary"),
        pl.concat_list(gaps).list.drop_nulls().list.join(", ").alias("evidence_gaps"),
    )
