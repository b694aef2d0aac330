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

import numpy as np
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
    from .summary import GATES

    checks = [(metric, op, key) for metric, (key, op, _) in GATES.items()]
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


def _weighted_auroc(
    pos: np.ndarray, neg_sorted: np.ndarray, w_pos: np.ndarray, w_neg_sorted: np.ndarray
) -> np.ndarray:
    """AUROC of positive scores ``pos`` against sorted negative scores, each gene counted with its
    integer weight (one row of weights per bootstrap replicate; ties count one half). Counted in
    integers, so the plain AUROC (all weights 1) is exact."""
    lo = np.searchsorted(neg_sorted, pos, side="left")
    hi = np.searchsorted(neg_sorted, pos, side="right")
    cum = np.zeros((w_neg_sorted.shape[0], w_neg_sorted.shape[1] + 1), dtype=np.int64)
    np.cumsum(w_neg_sorted, axis=1, out=cum[:, 1:])
    below = cum[:, lo]
    twice_wins = ((below + cum[:, hi]) * w_pos).sum(axis=1)  # 2·below + tied
    return twice_wins / (2.0 * w_pos.sum(axis=1) * w_neg_sorted.sum(axis=1))


def _resample_counts(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """``m`` bootstrap replicates of ``n`` items: how often each item is drawn (m × n)."""
    draws = rng.integers(0, n, size=(m, n)) + (np.arange(m) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=m * n).reshape(m, n).astype(np.int32)


def paired_auroc_difference(
    score_a: np.ndarray,
    score_b: np.ndarray,
    labels: np.ndarray,
    n_boot: int,
    seed: int,
    strata: np.ndarray | None = None,
) -> dict[str, float]:
    """AUROC(a) − AUROC(b) over the same genes, with a 95% interval from a paired, stratified
    bootstrap: each replicate redraws the positives and the negatives with replacement (the same
    draw for both rankings), so the interval says whether the difference is larger than the
    sampling noise of the gene sets. With ``strata`` (one label per gene) the AUROC is taken within
    each stratum and averaged with the stratum's positives as weights (``stratified_auroc``);
    strata without positives or negatives are left out. Returns diff, ci_low, ci_high, auroc_a,
    auroc_b."""
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    st = np.zeros(len(y), dtype=np.int64) if strata is None else np.asarray(strata)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    groups = [g for g in np.unique(st) if (y & (st == g)).any() and (~y & (st == g)).any()]
    if not groups:
        nan = float("nan")
        return {"diff": nan, "ci_low": nan, "ci_high": nan, "auroc_a": nan, "auroc_b": nan}
    pos_st, neg_st = st[y], st[~y]
    # per stratum: the positives' positions among all positives, the stratum's negatives in
    # score order for each ranking
    parts = []
    for g in groups:
        pi = np.flatnonzero(pos_st == g)
        ni = np.flatnonzero(neg_st == g)
        per = {}
        for name, s in (("a", a), ("b", b)):
            neg = s[~y][ni]
            order = np.argsort(neg, kind="stable")
            per[name] = (s[y][pi], neg[order], ni[order])
        parts.append((pi, per))

    def combined(w_pos: np.ndarray, w_neg: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for name in ("a", "b"):
            num = np.zeros(w_pos.shape[0])
            den = np.zeros(w_pos.shape[0])
            for pi, per in parts:
                p, n, ni = per[name]
                wp, wn = w_pos[:, pi], w_neg[:, ni]
                ok = (wp.sum(axis=1) > 0) & (wn.sum(axis=1) > 0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    auc = _weighted_auroc(p, n, wp, wn)
                num += np.where(ok, auc * wp.sum(axis=1), 0.0)
                den += np.where(ok, wp.sum(axis=1), 0.0)
            out[name] = num / den
        return out

    point = combined(np.ones((1, n_pos), dtype=np.int32), np.ones((1, n_neg), dtype=np.int32))
    rng = np.random.default_rng(seed)
    diffs = []
    done = 0
    while done < n_boot:
        m = min(200, n_boot - done)
        res = combined(_resample_counts(rng, n_pos, m), _resample_counts(rng, n_neg, m))
        diffs.append(res["a"] - res["b"])
        done += m
    d = np.concatenate(diffs)
    return {
        "diff": float(point["a"][0] - point["b"][0]),
        "ci_low": float(np.quantile(d, 0.025)),
        "ci_high": float(np.quantile(d, 0.975)),
        "auroc_a": float(point["a"][0]),
        "auroc_b": float(point["b"][0]),
    }


def median_interval(values: Sequence[float], n_boot: int, seed: int) -> tuple[float, float]:
    """95% bootstrap interval of the median of ``values`` (NaN, NaN when empty)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    meds = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    return float(np.quantile(meds, 0.025)), float(np.quantile(meds, 0.975))


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


def temporal_readout(scored: pl.DataFrame, top_n: int) -> dict[str, float]:
    """The temporal-holdout figures of one ``temporal_scored`` ranking: AUROC of the genes SYSCILIA
    v2 (2021) added against the background (genes in neither version nor Usher), the same AUROC
    within publication strata (the period counts ``scored`` carries), and their number among the
    top ``top_n`` genes once the v1 genes are set aside."""
    ev = scored.filter(TEMPORAL_ADDED | TEMPORAL_BACKGROUND).with_columns(
        TEMPORAL_ADDED.alias("target")
    )
    rest = rank(scored.filter(~pl.col("is_scgs_v1")).drop("rank_all"), "r")
    hits = rest.filter((pl.col("r") <= top_n) & TEMPORAL_ADDED).height
    return {
        "auroc": auroc(ev["score"].to_list(), ev["target"].to_list()),
        "auroc_within_fame_strata": stratified_auroc(ev, "score", "target", 10),
        "top_hits": float(hits),
        "targets": float(ev["target"].sum()),
        "v1_seeds": float(len(scored.filter(pl.col("is_scgs_v1")))),
    }


def temporal_holdout(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    method: str,
    top_n: int,
    period_fame: bool = True,
) -> dict[str, float]:
    """Discovery as it happened: ``temporal_readout`` of ``temporal_scored``."""
    scored = temporal_scored(table, scoring, folds_cfg, layer_params, method, period_fame)
    return temporal_readout(scored, top_n)


def temporal_auroc_difference(
    scored_a: pl.DataFrame, scored_b: pl.DataFrame, n_boot: int, seed: int
) -> dict[str, float]:
    """``paired_auroc_difference`` of two ``temporal_scored`` rankings on the temporal targets
    against the background (the genes of ``temporal_readout``'s AUROC), overall and within the
    publication strata of ``scored_a`` (keys prefixed ``within_fame_strata_``)."""
    from .model import fame_strata

    a = scored_a.filter(TEMPORAL_ADDED | TEMPORAL_BACKGROUND).select(
        "gene_id", "score", "pubmed_total", TEMPORAL_ADDED.alias("t")
    )
    b = scored_b.select("gene_id", pl.col("score").alias("score_b"))
    both = a.join(b, on="gene_id", how="left", maintain_order="left")
    if both["score_b"].null_count():
        raise ValueError("the two temporal rankings do not score the same genes")
    args = (both["score"].to_numpy(), both["score_b"].to_numpy(), both["t"].to_numpy())
    overall = paired_auroc_difference(*args, n_boot, seed)
    within = paired_auroc_difference(*args, n_boot, seed, strata=fame_strata(both, 10))
    return {**overall, **{f"within_fame_strata_{k}": v for k, v in within.items()}}


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


def housekeeping_shares(scored: pl.DataFrame, top_n: int) -> dict[str, float | None]:
    """Share of housekeeping genes among the top ``top_n`` candidates (non-known genes by
    ``rank_all``) and among the known genes, and their difference (top − known). About one known
    cilia gene in seven is itself a housekeeping gene, so an ideal ranking holds no more of them
    at the top than the known genes do; this replaces a median-percentile target of 0.5."""
    hk = pl.col("is_housekeeping").fill_null(False)
    top = scored.filter(~pl.col("is_known")).sort("rank_all").head(top_n)
    known = scored.filter(pl.col("is_known"))
    if not top.height or not known.height:
        return dict.fromkeys(("housekeeping_share_top", "housekeeping_share_known",
                              "housekeeping_share_top_minus_known"))  # fmt: skip
    a = float(top.select(hk.mean()).item())
    b = float(known.select(hk.mean()).item())
    return {"housekeeping_share_top": a, "housekeeping_share_known": b,
            "housekeeping_share_top_minus_known": a - b}  # fmt: skip


def ranking_readout(
    scored: pl.DataFrame, validation: Mapping
) -> tuple[dict[str, float | None], pl.DataFrame, pl.DataFrame]:
    """The metrics read off one scored ranking (``rank_all``, ``score``, ``cv_fold``,
    ``evidence_count``, ``pubmed_total`` and the gene-set flags): median rank percentile of each
    control set (and a 95% bootstrap interval of the housekeeping median: the negative control's
    gate is a median, and its sampling noise is what tells a miss from a tie), cross-validated
    recall (the model's own folds), Spearman of score vs publications
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
        **dict(
            zip(
                ("housekeeping_median_percentile_ci_low", "housekeeping_median_percentile_ci_high"),
                median_interval(
                    controls.filter(pl.col("control_set") == "housekeeping")["percentile"],
                    int(validation.get("bootstrap_resamples", 2000)),
                    int(validation.get("seed", 0)),
                ),
                strict=True,
            )
        ),
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
) -> tuple[dict[str, float], pl.DataFrame, pl.DataFrame]:
    """Every ranking metric of one integration method on an assembled table (``model.assemble_table``
    output): ``ranking_readout`` of its ranking, plus the temporal holdout (SYSCILIA v1 → v2) with
    2013 and with 2022 publication counts. Returns (metrics, scored table, the temporal holdout's
    scored table with 2013 counts: ``temporal_auroc_difference`` compares two methods on it)."""
    from .model import score_table

    cfg = {**scoring, "method": method}
    fcfg = {"folds": validation["folds"], "seed": validation["seed"]}
    scored, _ = score_table(table, cfg, fcfg, layer_params)
    readout, _, _ = ranking_readout(scored, validation)
    top_n = validation["temporal_top_n"]
    then = temporal_scored(table, scoring, fcfg, layer_params, method)
    temporal = temporal_readout(then, top_n)
    later = temporal_holdout(table, scoring, fcfg, layer_params, method, top_n, period_fame=False)
    keep = ("usher_median_percentile", "cilia_gold_median_percentile",
            "housekeeping_median_percentile", "housekeeping_median_percentile_ci_low",
            "housekeeping_median_percentile_ci_high", "cv_recall_mean",
            "abs_spearman_publications", "single_layer_in_top_n")  # fmt: skip
    metrics = {
        **{k: readout[k] for k in keep},
        "temporal_auroc": temporal["auroc"],
        "temporal_auroc_within_fame_strata": temporal["auroc_within_fame_strata"],
        "temporal_top_hits": temporal["top_hits"],
        "temporal_auroc_with_2022_fame": later["auroc"],
        "temporal_top_hits_with_2022_fame": later["top_hits"],
        "auroc_known_vs_ciliacarta_negatives": readout["auroc_known_vs_ciliacarta_negatives"],
    }
    return {k: float(v) for k, v in metrics.items()}, scored, then
