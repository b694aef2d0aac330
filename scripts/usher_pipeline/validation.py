"""Validation run on every execution: positive/negative control ranks, cross-validated recall of
the cilia gold standard, study-bias correlation and top-N stability under weight changes.

No evidence layer and no weight is fitted on known genes, so a held-out fold is never used to
build anything. Cross-validation still matters: in each fold the training genes are treated as
known (excluded from the candidates) and the held-out genes as unknown, and recall measures how
well the candidate list surfaces unseen cilia genes. If a future change fits anything on known
genes, it must take the training fold only (``cv_recall`` passes it the training set).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

import polars as pl

from .errors import ValidationGateError
from .scoring import composite_scores, rank


def percentiles(ranked: pl.DataFrame, genes: Sequence[str]) -> pl.DataFrame:
    """Rank percentile (1 = top, 0 = bottom) of the given genes among all ranked genes."""
    n = ranked.height
    return ranked.filter(pl.col("gene_id").is_in(list(genes))).select(
        "gene_id",
        "rank_all",
        (1.0 - (pl.col("rank_all") - 1) / max(n - 1, 1)).alias("percentile"),
    )


def make_folds(genes: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """Deterministic k-fold split of sorted gene IDs."""
    order = sorted(genes)
    random.Random(seed).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


def cv_recall(
    scored: pl.DataFrame,
    gold: Sequence[str],
    other_known: Sequence[str],
    k: int,
    seed: int,
    top_fraction: float,
    rescore: Callable[[pl.DataFrame, list[str]], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """k-fold recall of held-out gold-standard genes within the top fraction of candidates.

    In fold f the candidates are all genes except the training gold genes and ``other_known``;
    recall = |held-out ∩ top K| / |held-out|, K = ceil(top_fraction × candidates). ``rescore``
    (optional) recomputes scores from the training genes only. The expected recall of a random
    ranking is K / candidates (reported as ``random_recall``).
    """
    folds = make_folds(gold, k, seed)
    rows = []
    for i, held in enumerate(folds):
        training = sorted(set(gold) - set(held))
        table = rescore(scored, training) if rescore else scored
        cands = table.filter(~pl.col("gene_id").is_in(training + list(other_known)))
        cands = rank(cands.drop("rank_all", strict=False), "cv_rank")
        top_k = max(1, int(-(-cands.height * top_fraction // 1)))
        top = set(cands.filter(pl.col("cv_rank") <= top_k)["gene_id"].to_list())
        held_in = [g for g in held if g in set(cands["gene_id"].to_list())]
        hits = sum(1 for g in held_in if g in top)
        rows.append(
            {
                "fold": i,
                "held_out": len(held_in),
                "hits": hits,
                "top_k": top_k,
                "candidates": cands.height,
                "recall": hits / len(held_in) if held_in else 0.0,
                "random_recall": top_k / cands.height if cands.height else 0.0,
            }
        )
    return pl.DataFrame(rows)


def spearman(x: pl.Series, y: pl.Series) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    df = pl.DataFrame({"x": x, "y": y}).drop_nulls()
    if df.height < 3:
        return float("nan")
    r = df.select(pl.col("x").rank("average"), pl.col("y").rank("average"))
    return float(r.select(pl.corr("x", "y")).item())


def top_n_stability(
    subscores: pl.DataFrame,
    scoring: Mapping,
    exclude: Sequence[str],
    top_n: int,
    change: float,
) -> pl.DataFrame:
    """Overlap of the top-N candidates when each layer weight is scaled by 1 ± change.

    Returns one row per perturbation: layer, factor, overlap = |top ∩ top'| / N.
    """

    def top(weights: Mapping[str, float]) -> set[str]:
        df = composite_scores(
            subscores,
            weights,
            scoring["prior"]["mean"],
            scoring["prior"]["strength"],
            scoring["evidence_min_score"],
            scoring.get("evidence_layers"),
        ).filter(~pl.col("gene_id").is_in(list(exclude)))
        return set(rank(df, "r").filter(pl.col("r") <= top_n)["gene_id"].to_list())

    base_w = dict(scoring["weights"])
    base = top(base_w)
    rows = []
    for layer, w in sorted(base_w.items()):
        if w <= 0:
            continue
        for factor in (1.0 - change, 1.0 + change):
            pert = dict(base_w)
            pert[layer] = w * factor
            other = top(pert)
            rows.append(
                {"layer": layer, "factor": factor, "overlap": len(base & other) / max(len(base), 1)}
            )
    return pl.DataFrame(rows)


def check_gates(metrics: Mapping[str, float], gates: Mapping[str, float]) -> list[str]:
    """Return a message for every failed gate (empty list = all passed)."""
    checks = [
        ("usher_median_percentile", ">=", "min_usher_median_percentile"),
        ("cilia_gold_median_percentile", ">=", "min_cilia_gold_median_percentile"),
        ("housekeeping_median_percentile", "<=", "max_housekeeping_median_percentile"),
        ("cv_recall_mean", ">=", "min_cv_recall"),
        ("abs_spearman_publications", "<=", "max_abs_spearman_publications"),
        ("top_n_stability_min", ">=", "min_top_n_stability"),
    ]
    failed = []
    for metric, op, gate in checks:
        if gate not in gates:
            continue
        value = metrics.get(metric)
        if value is None or value != value:  # None or NaN
            failed.append(f"{metric} could not be computed (gate {gate} = {gates[gate]})")
            continue
        ok = value >= gates[gate] if op == ">=" else value <= gates[gate]
        if not ok:
            failed.append(f"{metric} = {value:.4f}, gate {gate} requires {op} {gates[gate]}")
    return failed


def raise_on_failed(failed: list[str]) -> None:
    if failed:
        raise ValidationGateError(
            "validation gate(s) failed:\n  "
            + "\n  ".join(failed)
            + "\n(thresholds: config validation.gates; metrics stored in the state DB table "
            "'validation_metrics')"
        )
