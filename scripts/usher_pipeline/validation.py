"""Validation run on every execution: positive/negative control ranks, cross-validated recall of
the cilia gold standard, study-bias correlation, stability, a temporal holdout (SYSCILIA v1 → v2)
and the gates that stop a run.

The learned model and the seeded layers (network, studies) learn from the known genes, so every
known gene is scored out of fold (``model.learned_scores``). Recall is measured with the model's
own folds (``cv_recall_by_fold``): in fold f the held-out gold genes are those of fold f, scored by
a model that never saw their labels, and the other folds' gold genes are set aside as known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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


def _fold_recall(
    scored: pl.DataFrame,
    fold: int,
    held: Sequence[str],
    training: Sequence[str],
    other_known: Sequence[str],
    top_fraction: float,
) -> dict:
    """One fold's recall row: candidates = every gene but ``training`` and ``other_known``;
    hits = held-out genes among the top ``top_fraction`` of them."""
    cands = scored.filter(~pl.col("gene_id").is_in(list(training) + list(other_known)))
    cands = rank(cands.drop("rank_all", strict=False), "cv_rank")
    top_k = max(1, int(-(-cands.height * top_fraction // 1)))
    top = set(cands.filter(pl.col("cv_rank") <= top_k)["gene_id"].to_list())
    present = set(cands["gene_id"].to_list())
    held_in = [g for g in held if g in present]
    hits = sum(1 for g in held_in if g in top)
    return {
        "fold": fold,
        "held_out": len(held_in),
        "hits": hits,
        "top_k": top_k,
        "candidates": cands.height,
        "recall": hits / len(held_in) if held_in else 0.0,
        "random_recall": top_k / cands.height if cands.height else 0.0,
    }


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
        ("temporal_auroc", ">=", "min_temporal_auroc"),
        ("temporal_top_hits", ">=", "min_temporal_top_hits"),
        ("single_layer_in_top_n", "<=", "max_single_layer_in_top_n"),
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


NOT_APPLICABLE = "not applicable: gene_subset run (validation.subset_gates)"


def gates_apply(gene_subset: bool, subset_gates: str | None) -> bool:
    """Whether the validation gates are enforced. They are written for the genome-wide universe:
    on a gene subset they are reported as not applicable unless ``validation.subset_gates`` is
    ``apply`` (the fixture config, whose gates are written for its 52 genes)."""
    return not gene_subset or (subset_gates or "not_applicable") == "apply"


def withdraw_published(paths: Sequence[str | Path]) -> list[str]:
    """Remove a published candidate list (and its provenance sidecars) left by an earlier run, so
    that no candidate list stays in results/ when the gates failed. Returns the removed paths."""
    removed = []
    for path in paths:
        for p in (Path(path), Path(str(path) + ".provenance.json")):
            if p.exists():
                p.unlink()
                removed.append(str(p))
    return removed


def assert_publishable(summary: Mapping, where: str | Path) -> None:
    """Refuse to publish candidates from a validation summary that records failed gates."""
    if summary.get("failed"):
        raise ValidationGateError(
            f"{where}: validation gate(s) failed, candidates not published:\n  "
            + "\n  ".join(summary["failed"])
        )


def raise_on_failed(failed: list[str]) -> None:
    if failed:
        raise ValidationGateError(
            "validation gate(s) failed:\n  "
            + "\n  ".join(failed)
            + "\n(thresholds: config validation.gates; metrics stored in the state DB table "
            "'validation_metrics')"
        )


def cv_recall_by_fold(
    scored: pl.DataFrame, gold: Sequence[str], other_known: Sequence[str], top_fraction: float
) -> pl.DataFrame:
    """Recall of held-out gold-standard genes in the top fraction of candidates, with the model's
    own folds (``cv_fold``): in fold f the held-out genes are the gold genes of fold f (scored by a
    model that never saw them), the candidates are every gene except the gold genes of the other
    folds and ``other_known``."""
    fold_of = dict(zip(scored["gene_id"].to_list(), scored["cv_fold"].to_list(), strict=True))
    k = max(fold_of.values()) + 1
    rows = []
    for f in range(k):
        held = [g for g in gold if fold_of.get(g) == f]
        training = [g for g in gold if fold_of.get(g) != f]
        rows.append(_fold_recall(scored, f, held, training, other_known, top_fraction))
    return pl.DataFrame(rows)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney, average ranks for ties)."""
    df = pl.DataFrame({"s": list(scores), "y": list(labels)})
    r = df.with_columns(pl.col("s").rank("average").alias("r"))
    n_pos = int(r["y"].sum())
    n_neg = r.height - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    sum_pos = float(r.filter("y")["r"].sum())
    return (sum_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


TEMPORAL_ADDED = pl.col("is_cilia_gold_standard") & ~pl.col("is_scgs_v1")
TEMPORAL_BACKGROUND = ~(
    pl.col("is_cilia_gold_standard") | pl.col("is_scgs_v1") | pl.col("is_usher")
)


def temporal_scored(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    method: str,
    period_fame: bool = True,
) -> pl.DataFrame:
    """Every gene scored as a 2013 screen would have: seeded and trained with SYSCILIA v1 only,
    every seeded feature recomputed from v1 (out of fold). With ``period_fame`` the publication
    counts are those of 2013 (``pubmed_before_cutoff``, links to PMIDs before the v1 paper), for the
    model's fame covariate and strata: a 2013 screen could not know the publications that made the
    v2 genes famous after 2013 (they are what made them known)."""
    from .layers.cilia_layers import assign_folds, out_of_fold
    from .model import score_table, seeded_features

    v1 = table.filter(pl.col("is_scgs_v1"))["gene_id"].to_list()
    base = table.drop("score", "rank_all", "rank", "tier", strict=False).drop(
        [c for c in table.columns if c.startswith("contrib_")]
    )
    if period_fame and "pubmed_before_cutoff" in base.columns:
        if base["pubmed_before_cutoff"].null_count() == 0:
            base = base.with_columns(pl.col("pubmed_before_cutoff").alias("pubmed_total"))
    cfg = dict(scoring)
    cfg["method"] = method
    if method == "weighted":
        gene_ids = base["gene_id"].to_list()
        folds = assign_folds(gene_ids, folds_cfg["folds"], folds_cfg["seed"])
        for name, fn in seeded_features(base, layer_params).items():
            vals = out_of_fold(fn, gene_ids, v1, folds)
            base = base.with_columns(pl.Series(f"{name}_score", vals).fill_nan(None))
    scored, _ = score_table(base, cfg, folds_cfg, layer_params, positives=v1)
    return scored


def temporal_holdout(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    method: str,
    top_n: int,
    period_fame: bool = True,
) -> dict[str, float]:
    """Discovery as it happened (``temporal_scored``): how well the genes SYSCILIA v2 (2021) added
    are recovered. AUROC of those genes against the background (genes in neither version nor
    Usher), the same AUROC within publication strata (of the period with ``period_fame``), and
    their number among the top ``top_n`` genes once the v1 genes are set aside."""
    scored = temporal_scored(table, scoring, folds_cfg, layer_params, method, period_fame)
    ev = scored.filter(TEMPORAL_ADDED | TEMPORAL_BACKGROUND).with_columns(
        TEMPORAL_ADDED.alias("target")
    )
    # (``scored`` carries the period-appropriate pubmed_total used above)
    rest = rank(scored.filter(~pl.col("is_scgs_v1")).drop("rank_all"), "r")
    hits = rest.filter((pl.col("r") <= top_n) & TEMPORAL_ADDED).height
    return {
        "auroc": auroc(ev["score"].to_list(), ev["target"].to_list()),
        "auroc_within_fame_strata": stratified_auroc(ev, "score", "target", 10),
        "top_hits": float(hits),
        "targets": float(ev["target"].sum()),
        "v1_seeds": float(len(scored.filter(pl.col("is_scgs_v1")))),
    }


def temporal_target_percentiles(scored: pl.DataFrame) -> pl.DataFrame:
    """Per gene SYSCILIA v2 added: its score percentile among those genes and the background
    (``temporal_scored`` output), with the period publication count it was scored with."""
    ev = scored.filter(TEMPORAL_ADDED | TEMPORAL_BACKGROUND)
    return (
        ev.with_columns((pl.col("score").rank("average") / ev.height).alias("percentile"))
        .filter(TEMPORAL_ADDED)
        .select("gene_id", "symbol", "percentile", "pubmed_total")
    )


def refit_stability(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    exclude: Sequence[str],
    top_n: int,
) -> pl.DataFrame:
    """Stability of the learned ranking: overlap of the top-N candidates when the model is refitted
    with another fold split (seed + 1); one row per refit."""
    from .model import score_table

    def top(seed: int) -> set[str]:
        base = table.drop("score", "rank_all", "rank", "tier", strict=False).drop(
            [c for c in table.columns if c.startswith("contrib_")]
        )
        scored, _ = score_table(base, scoring, {**folds_cfg, "seed": seed}, layer_params)
        cands = rank(scored.filter(~pl.col("gene_id").is_in(list(exclude))).drop("rank_all"), "r")
        return set(cands.filter(pl.col("r") <= top_n)["gene_id"].to_list())

    base_top = top(folds_cfg["seed"])
    rows = []
    for delta in (1,):
        other = top(folds_cfg["seed"] + delta)
        rows.append({"layer": f"fold seed +{delta}", "factor": 1.0,
                     "overlap": len(base_top & other) / max(len(base_top), 1)})  # fmt: skip
    return pl.DataFrame(rows)


def stratified_auroc(df: pl.DataFrame, score: str, target: str, n_strata: int) -> float:
    """AUROC of ``target`` against the rest within publication-count strata (quantile bins of
    log1p(pubmed_total), as ``model.fame_strata``), averaged with the number of targets per stratum
    as weights: how well a ranking separates targets from background genes studied as much."""
    from .model import fame_strata

    d = df.with_columns(pl.Series("_stratum", fame_strata(df, n_strata)))
    total = 0.0
    weight = 0
    for stratum in sorted(d["_stratum"].unique().to_list()):
        part = d.filter(pl.col("_stratum") == stratum)
        n_t = int(part[target].sum())
        if n_t == 0 or n_t == part.height:
            continue
        total += n_t * auroc(part[score].to_list(), part[target].to_list())
        weight += n_t
    return total / weight if weight else float("nan")


CONTROL_SETS = ("usher", "cilia_gold_standard", "housekeeping")


def ranking_readout(
    scored: pl.DataFrame, validation: Mapping
) -> tuple[dict[str, float | None], pl.DataFrame, pl.DataFrame]:
    """The metrics read off one scored ranking (``rank_all``, ``score``, ``cv_fold``,
    ``evidence_count``, ``pubmed_total`` and the gene-set flags): median rank percentile of each
    control set, cross-validated recall (the model's own folds), Spearman of score vs publications
    among non-known genes, single-layer genes in the top ``stability_top_n``, and AUROC of the
    known genes against CiliaCarta's negatives (when flagged). Returns (metrics, the control
    genes' ranks, recall per fold). Used by the ``validate`` rule and by ``ranking_metrics``."""
    flags = {
        "usher": pl.col("is_usher"),
        "cilia_gold_standard": pl.col("is_cilia_gold_standard"),
        "housekeeping": pl.col("is_housekeeping").fill_null(False),
    }
    genes = {name: scored.filter(flag)["gene_id"].to_list() for name, flag in flags.items()}
    controls = pl.concat(
        [percentiles(scored, genes[name]).with_columns(pl.lit(name).alias("control_set"))
         for name in CONTROL_SETS]
    ).join(scored.select("gene_id", "symbol"), on="gene_id")  # fmt: skip
    gold, usher = genes["cilia_gold_standard"], genes["usher"]
    folds = cv_recall_by_fold(scored, sorted(gold), sorted(set(usher) - set(gold)),
                              validation["recall_top_fraction"])  # fmt: skip
    nk = scored.filter(~pl.col("is_known")).sort("rank_all")
    rho = spearman(nk["score"], nk["pubmed_total"].cast(pl.Float64))
    median = {
        name: controls.filter(pl.col("control_set") == name)["percentile"].median()
        for name in CONTROL_SETS
    }
    metrics: dict[str, float | None] = {
        "usher_median_percentile": median["usher"],
        "cilia_gold_median_percentile": median["cilia_gold_standard"],
        "housekeeping_median_percentile": median["housekeeping"],
        "cv_recall_mean": float(folds["recall"].mean()) if folds.height else None,
        "cv_random_recall_mean": float(folds["random_recall"].mean()) if folds.height else None,
        "spearman_publications": rho,
        "abs_spearman_publications": abs(rho) if rho == rho else rho,
        "single_layer_in_top_n": float(
            nk.head(validation["stability_top_n"]).filter(pl.col("evidence_count") <= 1).height
        ),
    }
    if "is_ciliacarta_negative" in scored.columns:
        neg = scored.filter(pl.col("is_known") | pl.col("is_ciliacarta_negative").fill_null(False))
        a = auroc(neg["score"].to_list(), neg["is_known"].to_list())
        metrics["auroc_known_vs_ciliacarta_negatives"] = None if a != a else a  # NaN: no pairs
    return metrics, controls, folds


def ranking_metrics(
    table: pl.DataFrame,
    scoring: Mapping,
    validation: Mapping,
    layer_params: Mapping[str, Mapping],
    method: str,
) -> tuple[dict[str, float], pl.DataFrame]:
    """Every ranking metric of one integration method on an assembled table (``model.assemble_table``
    output): ``ranking_readout`` of its ranking, plus the temporal holdout (SYSCILIA v1 → v2) with
    2013 and with 2022 publication counts. Returns (metrics, scored table)."""
    from .model import score_table

    cfg = {**scoring, "method": method}
    fcfg = {"folds": validation["folds"], "seed": validation["seed"]}
    scored, _ = score_table(table, cfg, fcfg, layer_params)
    readout, _, _ = ranking_readout(scored, validation)
    temporal = temporal_holdout(table, scoring, fcfg, layer_params, method,
                                validation["temporal_top_n"])  # fmt: skip
    later = temporal_holdout(table, scoring, fcfg, layer_params, method,
                             validation["temporal_top_n"], period_fame=False)  # fmt: skip
    keep = ("usher_median_percentile", "cilia_gold_median_percentile",
            "housekeeping_median_percentile", "cv_recall_mean", "abs_spearman_publications",
            "single_layer_in_top_n")  # fmt: skip
    metrics = {
        **{k: readout[k] for k in keep},
        "temporal_auroc": temporal["auroc"],
        "temporal_auroc_within_fame_strata": temporal["auroc_within_fame_strata"],
        "temporal_top_hits": temporal["top_hits"],
        "temporal_auroc_with_2022_fame": later["auroc"],
        "temporal_top_hits_with_2022_fame": later["top_hits"],
        "auroc_known_vs_ciliacarta_negatives": readout["auroc_known_vs_ciliacarta_negatives"],
    }
    return {k: float(v) for k, v in metrics.items()}, scored
