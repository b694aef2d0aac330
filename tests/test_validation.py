"""Validation metrics on small constructed rankings with hand-computed expectations."""

from __future__ import annotations

import math

import polars as pl
import pytest
from core_fixtures import config
from usher_pipeline.errors import ValidationGateError
from usher_pipeline.validation import (
    check_gates,
    cv_recall_by_fold,
    percentiles,
    raise_on_failed,
    ranking_readout,
    spearman,
    top_n_stability,
)

IDS = [f"HGNC:{i}" for i in range(1, 21)]


def ranked_frame() -> pl.DataFrame:
    """20 genes, HGNC:1 best ... HGNC:20 worst."""
    return pl.DataFrame(
        {"gene_id": IDS, "score": [1.0 - i / 20 for i in range(20)], "rank_all": range(1, 21)}
    )


def test_percentiles() -> None:
    ranked = ranked_frame().head(5)
    out = percentiles(ranked, ["HGNC:1", "HGNC:3", "HGNC:5", "HGNC:99"]).sort("rank_all")
    assert out["gene_id"].to_list() == ["HGNC:1", "HGNC:3", "HGNC:5"]
    assert out["percentile"].to_list() == pytest.approx([1.0, 0.5, 0.0])


def with_folds(frame: pl.DataFrame, folds: dict[str, int]) -> pl.DataFrame:
    return frame.with_columns(pl.col("gene_id").replace_strict(folds, default=0).alias("cv_fold"))


def test_cv_recall_by_fold_gold_at_the_top() -> None:
    gold = ["HGNC:1", "HGNC:2", "HGNC:3", "HGNC:4"]
    frame = with_folds(ranked_frame(), {"HGNC:1": 0, "HGNC:2": 1, "HGNC:3": 0, "HGNC:4": 1})
    out = cv_recall_by_fold(frame, gold, ["HGNC:5"], 0.1)
    # each fold: its 2 gold genes held out, the other fold's 2 + HGNC:5 set aside -> 17
    # candidates, K = ceil(1.7) = 2; the held-out genes are the two best candidates
    assert out["fold"].to_list() == [0, 1]
    assert out["held_out"].to_list() == [2, 2]
    assert out["candidates"].to_list() == [17, 17]
    assert out["top_k"].to_list() == [2, 2]
    assert out["hits"].to_list() == [2, 2]
    assert out["recall"].to_list() == [1.0, 1.0]
    assert out["random_recall"].to_list() == pytest.approx([2 / 17, 2 / 17])


def test_cv_recall_by_fold_uses_the_model_folds() -> None:
    """Held-out genes are the gold genes of each fold of ``cv_fold``, nothing else: moving one gold
    gene to another fold moves it between the held-out sets."""
    gold = ["HGNC:17", "HGNC:18", "HGNC:19", "HGNC:20"]
    folds = {"HGNC:17": 0, "HGNC:18": 1, "HGNC:19": 2, "HGNC:20": 3}
    out = cv_recall_by_fold(with_folds(ranked_frame(), folds), gold, [], 0.25)
    # 4 folds of one gene: 17 candidates, K = ceil(4.25) = 5, held-out gene ranks 14-17 -> miss
    assert out["held_out"].to_list() == [1, 1, 1, 1]
    assert out["hits"].to_list() == [0, 0, 0, 0]
    assert out["top_k"].to_list() == [5, 5, 5, 5]
    moved = cv_recall_by_fold(with_folds(ranked_frame(), {**folds, "HGNC:20": 0}), gold, [], 0.25)
    assert moved["held_out"].to_list() == [2, 1, 1]  # fold 3 is empty now: 3 folds
    assert moved["candidates"].to_list() == [18, 17, 17]


def test_spearman_hand_computed() -> None:
    x = pl.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    y = pl.Series([2.0, 1.0, 4.0, 3.0, 5.0])
    # sum d^2 = 4 -> rho = 1 - 6 * 4 / (5 * 24) = 0.8
    assert spearman(x, y) == pytest.approx(0.8)
    assert spearman(x, -y) == pytest.approx(-0.8)
    assert math.isnan(spearman(pl.Series([1.0, 2.0]), pl.Series([2.0, 1.0])))


def _subscores(rows: dict) -> pl.DataFrame:
    from usher_pipeline.scoring import SCORED_LAYERS

    n = len(rows["gene_id"])
    data = {"gene_id": rows["gene_id"]}
    for layer in SCORED_LAYERS:
        data[f"{layer}_score"] = pl.Series(rows.get(layer, [None] * n), dtype=pl.Float64)
    return pl.DataFrame(data)


def _scoring(weights: dict) -> dict:
    sc = dict(config()["scoring"])
    sc["weights"] = weights
    return sc


def test_top_n_stability_single_layer_is_stable() -> None:
    sub = _subscores({"gene_id": IDS[:5], "localization": [0.9, 0.1, 0.5, 0.7, 0.3]})
    out = top_n_stability(sub, _scoring({"localization": 1.0}), [], 2, 0.2)
    # one layer: w*s/(w+1) is monotone in s for any w -> same top 2
    assert out.to_dicts() == [
        {"layer": "localization", "factor": 0.8, "overlap": 1.0},
        {"layer": "localization", "factor": 1.2, "overlap": 1.0},
    ]


def test_top_n_stability_detects_a_rank_change() -> None:
    sub = _subscores({"gene_id": ["HGNC:1", "HGNC:2", "HGNC:3"],
                      "localization": [0.9, 0.5, 0.1], "mouse_phenotype": [None, 1.0, None]})  # fmt: skip
    out = top_n_stability(sub, _scoring({"localization": 1.0, "mouse_phenotype": 0.8}), [], 1, 0.2)
    # base: HGNC:1 0.9/2 = 0.45 < HGNC:2 (0.5 + 0.8)/2.8 = 0.464 -> top 1 = HGNC:2
    # localization x1.2: 1.08/2.2 = 0.491 > (0.6 + 0.8)/3.0 = 0.467 -> HGNC:1 (overlap 0)
    # localization x0.8: 0.72/1.8 = 0.4 < (0.4 + 0.8)/2.6 = 0.462 -> HGNC:2
    # mouse x0.8: 0.45 > (0.5 + 0.64)/2.64 = 0.432 -> HGNC:1 (overlap 0)
    # mouse x1.2: 0.45 < (0.5 + 0.96)/2.96 = 0.493 -> HGNC:2
    got = {(r["layer"], round(r["factor"], 1)): r["overlap"] for r in out.iter_rows(named=True)}
    assert got == {
        ("localization", 0.8): 1.0,
        ("localization", 1.2): 0.0,
        ("mouse_phenotype", 0.8): 0.0,
        ("mouse_phenotype", 1.2): 1.0,
    }
    # excluding HGNC:2 (a known gene) leaves HGNC:1 on top in every perturbation
    stable = top_n_stability(
        sub, _scoring({"localization": 1.0, "mouse_phenotype": 0.8}), ["HGNC:2"], 1, 0.2
    )
    assert stable["overlap"].to_list() == [1.0, 1.0, 1.0, 1.0]


def test_check_gates_messages_and_raise() -> None:
    gates = {"min_usher_median_percentile": 0.9, "min_cilia_gold_median_percentile": 0.8,
             "max_housekeeping_median_percentile": 0.7, "min_cv_recall": 0.3,
             "max_abs_spearman_publications": 0.5, "min_top_n_stability": 0.7,
             "min_temporal_auroc": 0.8, "min_temporal_top_hits": 120,
             "max_single_layer_in_top_n": 0}  # fmt: skip
    good = {"usher_median_percentile": 0.95, "cilia_gold_median_percentile": 0.8,
            "housekeeping_median_percentile": 0.7, "cv_recall_mean": 0.5,
            "abs_spearman_publications": 0.1, "top_n_stability_min": 0.9,
            "temporal_auroc": 0.85, "temporal_top_hits": 120.0,
            "single_layer_in_top_n": 0.0}  # fmt: skip
    assert check_gates(good, gates) == []
    raise_on_failed([])
    bad = {**good, "usher_median_percentile": 0.85, "abs_spearman_publications": 0.55,
           "cv_recall_mean": float("nan"), "temporal_top_hits": 119.0,
           "single_layer_in_top_n": 1.0}  # fmt: skip
    del bad["top_n_stability_min"]
    failed = check_gates(bad, gates)
    assert failed == [
        "usher_median_percentile = 0.8500, gate min_usher_median_percentile requires >= 0.9",
        "cv_recall_mean could not be computed (gate min_cv_recall = 0.3)",
        "abs_spearman_publications = 0.5500, gate max_abs_spearman_publications requires <= 0.5",
        "top_n_stability_min could not be computed (gate min_top_n_stability = 0.7)",
        "temporal_top_hits = 119.0000, gate min_temporal_top_hits requires >= 120",
        "single_layer_in_top_n = 1.0000, gate max_single_layer_in_top_n requires <= 0",
    ]
    # a gate not configured is not checked
    assert check_gates({}, {"min_cv_recall": 0.3}) == [
        "cv_recall_mean could not be computed (gate min_cv_recall = 0.3)"
    ]
    with pytest.raises(ValidationGateError) as exc:
        raise_on_failed(failed)
    assert "usher_median_percentile = 0.8500" in str(exc.value)
    assert "validation.gates" in str(exc.value)


def test_auroc_hand_computed_and_ties() -> None:
    from usher_pipeline.validation import auroc

    # positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 3 of 4
    assert auroc([0.9, 0.4, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.75)
    # a tie counts one half
    assert auroc([0.5, 0.5], [True, False]) == pytest.approx(0.5)
    assert auroc([1.0, 0.0], [True, True]) != auroc([1.0, 0.0], [True, True])  # NaN: one class


def test_stratified_auroc_compares_within_publication_strata() -> None:
    from usher_pipeline.validation import stratified_auroc

    # stratum by publications: targets beat their own stratum perfectly, but the low stratum's
    # target scores below the high stratum's background: pooled AUROC < 1, stratified = 1
    df = pl.DataFrame(
        {
            "pubmed_total": [0, 0, 0, 0, 1000, 1000, 1000, 1000],
            "score": [0.3, 0.1, 0.1, 0.1, 0.9, 0.5, 0.5, 0.5],
            "target": [True, False, False, False, True, False, False, False],
        }
    )
    from usher_pipeline.validation import auroc

    assert auroc(df["score"].to_list(), df["target"].to_list()) < 1.0
    assert stratified_auroc(df, "score", "target", 2) == pytest.approx(1.0)


def _temporal_table(n: int = 400, seed: int = 1) -> pl.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = [f"HGNC:{i}" for i in range(1, n + 1)]
    v1 = rng.random(n) < 0.08
    added = (~v1) & (rng.random(n) < 0.06)
    signal = np.where(v1 | added, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.6, n))
    pubs = rng.integers(0, 300, n)
    return pl.DataFrame(
        {
            "gene_id": ids,
            "symbol": ids,
            "localization_score": signal,
            "mouse_phenotype_score": rng.random(n),
            "pubmed_total": pubs,
            "pubmed_before_cutoff": pubs // 2,
            "go_n_terms": rng.integers(0, 50, n),
            "is_scgs_v1": v1,
            "is_cilia_gold_standard": v1 | added,
            "is_usher": [False] * n,
            "is_known": v1 | added,
        }
    )


def test_temporal_holdout_recovers_added_genes_from_v1_only() -> None:
    from usher_pipeline.validation import temporal_holdout

    t = _temporal_table()
    scoring = {**config()["scoring"], "weights": {"localization": 1.0, "mouse_phenotype": 1.0}}
    fcfg = {"folds": 3, "seed": 7}
    for method in ("learned", "weighted"):
        res = temporal_holdout(t, scoring, fcfg, {}, method, 50)
        assert res["targets"] == float(t.filter(~pl.col("is_scgs_v1") & "is_known").height)
        assert res["v1_seeds"] == float(t["is_scgs_v1"].sum())
        assert res["auroc"] > 0.8, (method, res)  # the informative layer carries the signal
    # the v2 labels only choose which genes are evaluated: the model never sees them, so hiding
    # them from is_known (as in a 2013 run) gives the same result
    hidden = t.with_columns(pl.col("is_scgs_v1").alias("is_known"))
    assert temporal_holdout(hidden, scoring, fcfg, {}, "learned", 50) == temporal_holdout(
        t, scoring, fcfg, {}, "learned", 50
    )


def test_temporal_holdout_period_fame_uses_the_earlier_publication_counts() -> None:
    from usher_pipeline.validation import temporal_holdout

    t = _temporal_table()
    scoring = {**config()["scoring"], "weights": {"localization": 1.0, "mouse_phenotype": 1.0}}
    fcfg = {"folds": 3, "seed": 7}
    # when the earlier counts equal today's, the period switch changes nothing
    same = t.with_columns(pl.col("pubmed_total").alias("pubmed_before_cutoff"))
    assert temporal_holdout(same, scoring, fcfg, {}, "learned", 50) == temporal_holdout(
        same, scoring, fcfg, {}, "learned", 50, period_fame=False
    )
    # earlier counts that differ change the fame strata, hence the learned scores
    shuffled = t.with_columns(pl.col("pubmed_total").reverse().alias("pubmed_before_cutoff"))
    assert temporal_holdout(shuffled, scoring, fcfg, {}, "learned", 50) != temporal_holdout(
        shuffled, scoring, fcfg, {}, "learned", 50, period_fame=False
    )


def test_ranking_readout_by_hand() -> None:
    """The metrics both the validate rule and bench_ranking read off one ranking."""
    ids = [f"HGNC:{i}" for i in range(1, 11)]
    frame = pl.DataFrame(
        {
            "gene_id": ids,
            "symbol": [f"G{i}" for i in range(1, 11)],
            "score": [1.0 - i / 10 for i in range(10)],
            "rank_all": list(range(1, 11)),
            "cv_fold": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
            "is_usher": [True] + [False] * 9,
            "is_cilia_gold_standard": [False, True, True] + [False] * 7,
            "is_known": [True, True, True] + [False] * 7,
            "is_housekeeping": [None, None, None, True, None, None, None, True, None, True],
            "is_ciliacarta_negative": [False] * 4 + [True, False, True, False, False, False],
            "evidence_count": [3, 3, 3, 1, 2, 0, 4, 1, 1, 0],
            "pubmed_total": [9, 8, 7, 1, 2, 3, 4, 5, 6, 7],
        }
    )
    m, controls, folds = ranking_readout(frame, {"recall_top_fraction": 0.2, "stability_top_n": 3})
    # percentile = 1 - (rank - 1) / 9: Usher rank 1 -> 1; gold ranks 2, 3 -> median 0.833;
    # housekeeping ranks 4, 8, 10 -> median rank 8 -> 0.222
    assert m["usher_median_percentile"] == pytest.approx(1.0)
    assert m["cilia_gold_median_percentile"] == pytest.approx((8 / 9 + 7 / 9) / 2)
    assert m["housekeeping_median_percentile"] == pytest.approx(2 / 9)
    # its bootstrap interval: a resample of the three percentiles {2/3, 2/9, 0} has median 0 (or
    # 2/3) when at least two of its three draws are 0 (or 2/3): probability 7/27 each, more than
    # 2.5%, so the 95% interval is [0, 2/3]
    assert m["housekeeping_median_percentile_ci_low"] == pytest.approx(0.0)
    assert m["housekeeping_median_percentile_ci_high"] == pytest.approx(2 / 3)
    assert sorted(controls["control_set"].unique().to_list()) == [
        "cilia_gold_standard", "housekeeping", "usher"]  # fmt: skip
    # top 3 candidates (non-known): ranks 4, 5, 6 with 1, 2, 0 layers -> two single-layer genes
    assert m["single_layer_in_top_n"] == 2.0
    # fold 0 holds gold gene 3 (rank 3); fold 1 gold gene 2 (rank 2): each is the best of its
    # fold's 8 candidates (9 genes minus the other fold's gold gene and the Usher gene) -> hit
    assert folds["held_out"].to_list() == [1, 1] and folds["hits"].to_list() == [1, 1]
    assert m["cv_recall_mean"] == 1.0
    # score falls as publications rise among the 7 non-known genes? pubs 1..7 at ranks 4..10
    assert m["spearman_publications"] == pytest.approx(-1.0)
    assert m["abs_spearman_publications"] == pytest.approx(1.0)
    # known genes (ranks 1-3) all above the two CiliaCarta negatives (ranks 5, 7)
    assert m["auroc_known_vs_ciliacarta_negatives"] == pytest.approx(1.0)
    none = frame.with_columns(pl.lit(False).alias("is_ciliacarta_negative"))
    assert ranking_readout(none, {"recall_top_fraction": 0.2, "stability_top_n": 3})[0][
        "auroc_known_vs_ciliacarta_negatives"] is None  # fmt: skip


def test_paired_auroc_difference_points_and_interval() -> None:
    """The point values are the plain AUROCs; the interval brackets a real difference, includes 0
    for a tie, and is exactly 0 for the same ranking."""
    import numpy as np
    from usher_pipeline.validation import auroc, paired_auroc_difference

    rng = np.random.default_rng(3)
    y = np.zeros(600, dtype=bool)
    y[:60] = True
    good = np.where(y, rng.normal(2.0, 1.0, 600), rng.normal(0.0, 1.0, 600))
    weak = np.where(y, rng.normal(0.5, 1.0, 600), rng.normal(0.0, 1.0, 600))
    res = paired_auroc_difference(good, weak, y, 500, 1)
    assert res["auroc_a"] == pytest.approx(auroc(good.tolist(), y.tolist()))
    assert res["auroc_b"] == pytest.approx(auroc(weak.tolist(), y.tolist()))
    assert res["diff"] == pytest.approx(res["auroc_a"] - res["auroc_b"])
    assert 0 < res["ci_low"] < res["diff"] < res["ci_high"]
    same = paired_auroc_difference(good, good, y, 200, 1)
    assert same["diff"] == same["ci_low"] == same["ci_high"] == 0.0
    # a relabelled copy of the same ranking quality: the interval straddles 0
    other = np.where(y, rng.normal(2.0, 1.0, 600), rng.normal(0.0, 1.0, 600))
    tie = paired_auroc_difference(good, other, y, 500, 1)
    assert tie["ci_low"] < 0 < tie["ci_high"]
    # deterministic for a seed
    assert paired_auroc_difference(good, weak, y, 300, 9) == paired_auroc_difference(
        good, weak, y, 300, 9
    )


def test_weighted_auroc_equals_the_auroc_of_the_duplicated_genes() -> None:
    """A bootstrap replicate's AUROC (genes counted with weights, ties one half) is the plain
    AUROC of the sample with each gene repeated by its weight."""
    import numpy as np
    from usher_pipeline.validation import _weighted_auroc, auroc

    pos = np.array([0.9, 0.5, 0.5, 0.2])
    neg = np.array([0.1, 0.5, 0.3, 0.95, 0.5])
    w_pos = np.array([2, 0, 1, 1])
    w_neg = np.array([1, 3, 0, 1, 0])
    order = np.argsort(neg, kind="stable")
    got = _weighted_auroc(pos, neg[order], w_pos[None, :], w_neg[order][None, :])[0]
    s = np.concatenate([np.repeat(pos, w_pos.astype(int)), np.repeat(neg, w_neg.astype(int))])
    lab = [True] * int(w_pos.sum()) + [False] * int(w_neg.sum())
    assert got == pytest.approx(auroc(s.tolist(), lab))


def test_temporal_auroc_difference_refuses_rankings_of_different_genes() -> None:
    from usher_pipeline.validation import temporal_auroc_difference

    t = _temporal_table().with_columns(pl.col("localization_score").alias("score"))
    with pytest.raises(ValueError, match="same genes"):
        temporal_auroc_difference(t, t.head(100), 100, 1)
    res = temporal_auroc_difference(t, t, 100, 1)
    assert res["diff"] == 0.0 and res["auroc_a"] > 0.8


def test_median_interval_brackets_the_median() -> None:
    import numpy as np
    from usher_pipeline.validation import median_interval

    v = np.random.default_rng(0).uniform(0, 1, 3000)
    lo, hi = median_interval(v, 500, 2)
    assert lo < float(np.median(v)) < hi
    assert hi - lo < 0.05  # ~3000 values: the median is known to about ±0.02
    lo_s, hi_s = median_interval(v[:100], 500, 2)
    assert hi_s - lo_s > hi - lo  # fewer genes, wider interval
    assert all(math.isnan(x) for x in median_interval([], 10, 0))


def test_paired_auroc_difference_within_strata_matches_stratified_auroc() -> None:
    """With strata, the point values are ``stratified_auroc``'s (per-stratum AUROC weighted by the
    stratum's positives), and a difference confined to one stratum's ordering shows there."""
    import numpy as np
    from usher_pipeline.model import fame_strata
    from usher_pipeline.validation import paired_auroc_difference, stratified_auroc

    rng = np.random.default_rng(5)
    n = 800
    pubs = rng.integers(0, 500, n)
    y = rng.random(n) < 0.1
    fame = np.log1p(pubs)
    # a: signal plus fame; b: fame only
    a = np.where(y, 1.0, 0.0) + fame + rng.normal(0, 1, n)
    b = fame + rng.normal(0, 1, n) + np.where(y, 0.8, 0.0)
    df = pl.DataFrame({"sa": a, "sb": b, "t": y, "pubmed_total": pubs})
    strata = fame_strata(df, 10)
    res = paired_auroc_difference(a, b, y, 300, 4, strata=strata)
    assert res["auroc_a"] == pytest.approx(stratified_auroc(df, "sa", "t", 10))
    assert res["auroc_b"] == pytest.approx(stratified_auroc(df, "sb", "t", 10))
    assert res["ci_low"] <= res["diff"] <= res["ci_high"]
    # one stratum only: the same as the plain AUROC difference
    flat = paired_auroc_difference(a, b, y, 300, 4, strata=np.zeros(n, dtype=np.int64))
    assert flat == paired_auroc_difference(a, b, y, 300, 4)
