"""The learned integration (usher_pipeline.model) on synthetic tables.

The table is built with numpy.random.default_rng: 400 genes, 60 positives, three informative
sub-scores (localization, phylogeny, mouse_phenotype; some NULL), the two covariates
(pubmed_total, go_n_terms), and the raw columns of the two seeded layers: a random network in
which positives prefer positive neighbours (network_neighbours / _weights) and six studies that
report positives more often (ht_study_names). The most important property is the leak test: no
gene's own label (nor that of any gene of its fold) reaches its own score.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from core_fixtures import config
from scipy.stats import spearmanr
from usher_pipeline import model
from usher_pipeline.layers.cilia_layers import assign_folds, ht_score
from usher_pipeline.scoring import SCORED_LAYERS, composite_scores

LAYERS = ["localization", "phylogeny", "mouse_phenotype", "network", "ht_studies"]
LAYER_PARAMS = {
    "network": {"pseudo_weight": 2.0, "saturation": 0.5},
    "ht_studies": {"ref_llr": 6.0, "pseudo_count": 2.0},
}
PARAMS = dict(config()["scoring"]["learned"])  # C 1, fame_strata 10, binned_llr, pseudo 1
FOLDS_CFG = {"folds": 5, "seed": 20261121}
OUT_COLS = ["score", "evidence_logodds", "baseline_logodds", "cv_fold", "network_score",
            "ht_studies_score", *[f"contrib_{la}" for la in LAYERS]]  # fmt: skip


def make_table(n: int = 400, seed: int = 0, fame: float = 0.0) -> pl.DataFrame:
    """Synthetic gene table. ``fame`` > 0 adds a study-bias confound: positives are more cited,
    and the localization sub-score rises with citations among all genes."""
    rng = np.random.default_rng(seed)
    ids = [f"HGNC:{100000 + i}" for i in range(n)]
    y = np.zeros(n, bool)
    y[rng.choice(n, 60, replace=False)] = True
    pub = np.round(np.exp(rng.normal(3, 1, n) + 1.2 * y * (fame > 0))).astype(np.int64)
    lp = np.log1p(pub)
    lpz = (lp - lp.mean()) / lp.std()
    loc = np.clip(0.25 + 0.35 * y + 0.15 * rng.normal(size=n) + fame * lpz, 0, 1)
    loc[rng.random(n) < 0.15] = np.nan
    phy = np.clip(0.2 + 0.25 * y + 0.2 * rng.normal(size=n), 0, 1)
    phy[rng.random(n) < 0.1] = np.nan
    mph = np.clip(0.1 + 0.3 * y + 0.2 * rng.normal(size=n), 0, 1)
    go = rng.poisson(10 + 10 * y)
    pos_idx = np.flatnonzero(y)
    nb: dict[int, dict[int, float]] = {i: {} for i in range(n)}
    for i in range(n):
        for _ in range(int(rng.integers(0, 4))):
            pick_pos = y[i] and rng.random() < 0.6
            j = int(rng.choice(pos_idx)) if pick_pos else int(rng.integers(0, n))
            if j != i:
                w = float(np.round(rng.uniform(0.4, 1.0), 3))
                nb[i][j] = w
                nb[j][i] = w
    neigh = [[ids[j] for j in sorted(nb[i])] or None for i in range(n)]
    wts = [[nb[i][j] for j in sorted(nb[i])] or None for i in range(n)]
    p_pos = [0.5, 0.4, 0.2, 0.1, 0.1, 0.1]
    p_bg = [0.05, 0.1, 0.2, 0.1, 0.1, 0.1]
    reported = [
        [f"S{k}" for k, p in enumerate(p_pos if y[i] else p_bg) if rng.random() < p]
        for i in range(n)
    ]
    return pl.DataFrame(
        {
            "gene_id": ids,
            "localization_score": pl.Series(loc).fill_nan(None),
            "phylogeny_score": pl.Series(phy).fill_nan(None),
            "mouse_phenotype_score": mph,
            "pubmed_total": pub,
            "go_n_terms": go,
            "network_neighbours": pl.Series(neigh, dtype=pl.List(pl.String)),
            "network_neighbour_weights": pl.Series(wts, dtype=pl.List(pl.Float64)),
            # placeholder values: the model must replace them by per-fold recomputed ones
            "network_score": pl.Series([0.5 if x else None for x in neigh], dtype=pl.Float64),
            "ht_study_names": pl.Series(reported, dtype=pl.List(pl.String)),
            "ht_studies_score": np.zeros(n),
            "is_known": y,
        }
    )


TABLE = make_table()
IDS = TABLE["gene_id"].to_list()
FOLDS = assign_folds(IDS, FOLDS_CFG["folds"], FOLDS_CFG["seed"])
POS = TABLE.filter(pl.col("is_known"))["gene_id"].to_list()


def run(positives, params=PARAMS, table=TABLE, layer_params=LAYER_PARAMS):
    return model.learned_scores(table, positives, FOLDS, LAYERS, params, layer_params)


def flipped(positives: list[str], g: str) -> list[str]:
    return [p for p in positives if p != g] if g in positives else [*positives, g]


def rows_of(df: pl.DataFrame, ids) -> pl.DataFrame:
    return df.filter(pl.col("gene_id").is_in(list(ids))).select("gene_id", *OUT_COLS)


def fold_mates(g: str) -> list[str]:
    return [x for x in IDS if FOLDS[x] == FOLDS[g]]


def _pick_neighbour_pair() -> tuple[str, str, str]:
    """(g, h, o): h is a background gene, g a neighbour of h in h's fold, o a neighbour of h in
    another fold; all three have network edges."""
    nbrs = dict(zip(IDS, TABLE["network_neighbours"].to_list(), strict=True))
    for h in IDS:
        if h in POS or not nbrs[h]:
            continue
        same = [x for x in nbrs[h] if FOLDS[x] == FOLDS[h]]
        other = [x for x in nbrs[h] if FOLDS[x] != FOLDS[h]]
        if same and other:
            return same[0], h, other[0]
    raise AssertionError("synthetic graph has no such triple")


# --- leak tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["binned_llr", "linear"])
@pytest.mark.parametrize("which", ["positive", "background"])
def test_own_label_never_reaches_own_score(transform: str, which: str) -> None:
    params = {**PARAMS, "transform": transform}
    g = POS[0] if which == "positive" else next(x for x in IDS if x not in POS)
    a, _ = run(POS, params)
    b, _ = run(flipped(POS, g), params)
    # bitwise identical: g's row, and every row of g's fold
    assert rows_of(a, [g]).equals(rows_of(b, [g]))
    assert rows_of(a, fold_mates(g)).equals(rows_of(b, fold_mates(g)))
    # labels matter at all: genes of the other folds move
    others = [x for x in IDS if FOLDS[x] != FOLDS[g]]
    ra, rb = rows_of(a, others), rows_of(b, others)
    assert (ra["score"] != rb["score"]).sum() > 100


def test_same_fold_neighbour_label_does_not_reach_network_score() -> None:
    """Make h (background) a positive. g, a neighbour of h in the same fold, must keep its network
    score and its score bitwise: h's label is a fold-f label and fold f's network features are
    seeded from the other folds. If the network feature were seeded from all positives, g's own
    network_score would change directly (h becomes a seed neighbour of g). o, a neighbour of h in
    another fold, does change (proves the flip reaches the network feature at all)."""
    g, h, o = _pick_neighbour_pair()
    a, _ = run(POS)
    b, _ = run([*POS, h])
    assert rows_of(a, [g]).equals(rows_of(b, [g]))
    ra, rb = rows_of(a, [o]).row(0, named=True), rows_of(b, [o]).row(0, named=True)
    assert rb["network_score"] > ra["network_score"]


class _Leaky:
    """Leaky variants of the model, to prove the leak tests above would catch them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
        self.positives: list[str] = []
        if kind == "seeded_all_positives":
            orig = model.seeded_features

            def seeded(table, layer_params):
                fns = orig(table, layer_params)
                return {n: (lambda _s, fn=fn: fn(self.positives)) for n, fn in fns.items()}

            monkeypatch.setattr(model, "seeded_features", seeded)
        elif kind == "binned_llr_all_labels":
            orig_b = model.binned_llr

            def binned(values, y, train, edges, pseudo):
                return orig_b(values, y, np.ones_like(train), edges, pseudo)

            monkeypatch.setattr(model, "binned_llr", binned)

    def run(self, positives: list[str]) -> pl.DataFrame:
        self.positives = positives
        return run(positives)[0]


@pytest.mark.parametrize("kind", ["seeded_all_positives", "binned_llr_all_labels"])
def test_leak_checks_catch_a_leaky_model(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    leaky = _Leaky(monkeypatch, kind)
    g = POS[0]
    a, b = leaky.run(POS), leaky.run(flipped(POS, g))
    assert not rows_of(a, [g]).equals(rows_of(b, [g]))
    if kind == "seeded_all_positives":
        gg, h, _ = _pick_neighbour_pair()
        a, b = leaky.run(POS), leaky.run([*POS, h])
        assert rows_of(a, [gg])["network_score"][0] != rows_of(b, [gg])["network_score"][0]


def test_seeded_sub_scores_are_recomputed_per_fold() -> None:
    a, _ = run(POS)
    graph = model.graph_from_layer(TABLE)
    reported = TABLE["ht_study_names"].to_list()
    fold_arr = np.array([FOLDS[x] for x in IDS])
    net = a["network_score"].fill_null(np.nan).to_numpy()
    ht = a["ht_studies_score"].to_numpy()
    for f in range(5):
        train = [p for p in POS if FOLDS[p] != f]
        sel = fold_arr == f
        ref = model.fold_network_score(graph, IDS, train, LAYER_PARAMS["network"])
        assert np.array_equal(net[sel], ref[sel], equal_nan=True)
        ref = ht_score(IDS, reported, train, LAYER_PARAMS["ht_studies"])
        assert np.array_equal(ht[sel], ref[sel])
    # the placeholder input values are gone; genes without edges stay NULL
    assert a["network_score"].null_count() == TABLE["network_score"].null_count()
    assert a["network_score"].n_unique() > 50


# --- decomposition ----------------------------------------------------------------------------


def test_contributions_sum_and_score_formula() -> None:
    a, w = run(POS)
    contrib = a.select([f"contrib_{la}" for la in LAYERS]).to_numpy()
    ev = a["evidence_logodds"].to_numpy()
    assert contrib.sum(axis=1) == pytest.approx(ev, abs=1e-12)
    expect = 1 / (1 + np.exp(-(a["baseline_logodds"].to_numpy() + ev)))
    assert a["score"].to_numpy() == pytest.approx(expect, rel=1e-12)
    # NULL sub-score -> contribution exactly 0
    for la in ("localization", "phylogeny", "network"):
        nulls = a.filter(pl.col(f"{la}_score").is_null())
        assert nulls.height > 10, la
        assert (nulls[f"contrib_{la}"] == 0.0).all(), la
    # covered genes do get non-zero contributions
    assert (a.filter(pl.col("localization_score").is_not_null())["contrib_localization"] != 0).any()
    assert a["cv_fold"].to_list() == [FOLDS[x] for x in IDS]
    # the informative layers get positive weights in every fold; terms per fold: 5 layers, 2
    # covariates, intercept
    assert w.height == 5 * (len(LAYERS) + 3)
    lw = w.filter(pl.col("kind") == "layer")
    assert (lw["weight"] > 0).all()
    # the positives rank high: mean score of positives far above that of the rest
    pos = a.filter(pl.col("is_known"))["score"].mean()
    assert pos > 3 * a.filter(~pl.col("is_known"))["score"].mean()


def test_all_null_layer_gets_no_weight() -> None:
    t = TABLE.with_columns(pl.lit(None, dtype=pl.Float64).alias("expression_score"))
    a, w = model.learned_scores(t, POS, FOLDS, [*LAYERS, "expression"], PARAMS, LAYER_PARAMS)
    assert "contrib_expression" not in a.columns
    assert "expression" not in w["term"].to_list()


# --- determinism ------------------------------------------------------------------------------


def test_two_runs_identical() -> None:
    a, wa = run(POS)
    b, wb = run(POS)
    assert a.equals(b) and wa.equals(wb)


@pytest.mark.parametrize("transform", ["binned_llr", "linear"])
def test_row_order_does_not_matter(transform: str) -> None:
    params = {**PARAMS, "transform": transform}
    a, _ = run(POS, params)
    shuffled = TABLE.sample(fraction=1.0, shuffle=True, seed=7)
    assert shuffled["gene_id"].to_list() != IDS
    b, _ = run(POS, params, table=shuffled)
    b = b.sort("gene_id")
    a = a.sort("gene_id")
    assert a["cv_fold"].equals(b["cv_fold"])
    # not bitwise: the solver sums over rows in another order (measured max difference 1e-15
    # for binned_llr, 1e-13 for linear)
    for col in OUT_COLS:
        x, y = a[col].fill_null(np.nan).to_numpy(), b[col].fill_null(np.nan).to_numpy()
        assert np.allclose(x, y, rtol=0, atol=1e-9, equal_nan=True), col


def test_rank_all_does_not_depend_on_row_order() -> None:
    # the synthetic scores hold exact ties (binned sub-scores): they must be broken by gene_id
    # whatever the input order, so the floating-point noise above must not reorder them
    scoring, layers = config()["scoring"], config()["layers"]
    a, _ = model.score_table(TABLE, scoring, FOLDS_CFG, layers)
    b, _ = model.score_table(
        TABLE.sample(fraction=1.0, shuffle=True, seed=7), scoring, FOLDS_CFG, layers
    )
    assert a.select("gene_id", "rank_all", "tier").equals(b.select("gene_id", "rank_all", "tier"))


# --- study bias -------------------------------------------------------------------------------


def _bg_spearman(fame_strata: int, table: pl.DataFrame, adjustment: float = 1.0) -> float:
    ids = table["gene_id"].to_list()
    folds = assign_folds(ids, 5, FOLDS_CFG["seed"])
    pos = table.filter(pl.col("is_known"))["gene_id"].to_list()
    a, _ = model.learned_scores(
        table, pos, folds, ["localization", "phylogeny", "mouse_phenotype"],
        {**PARAMS, "fame_strata": fame_strata, "fame_adjustment": adjustment}, LAYER_PARAMS,
    )  # fmt: skip
    bg = a.filter(~pl.col("is_known"))
    return abs(float(spearmanr(bg["score"], bg["pubmed_total"]).statistic))


def test_fame_strata_remove_study_bias() -> None:
    # confound: positives are cited ~3x more, and localization rises with citations among all
    # genes (Spearman(localization, pubmed) among background ~0.5). Measured |Spearman(score,
    # pubmed)| among background genes: 0.29-0.34 with one stratum, <= 0.02 with 10 (seeds 0-2).
    t = make_table(fame=0.2)
    bg = t.filter(~pl.col("is_known"))
    rho_feat = spearmanr(bg["localization_score"].fill_null(0), bg["pubmed_total"]).statistic
    assert rho_feat > 0.4
    one, ten = _bg_spearman(1, t), _bg_spearman(10, t)
    assert one > 0.2
    assert ten < 0.1
    assert one > 3 * ten


def test_fame_adjustment_scales_the_study_bias_control() -> None:
    """fame_adjustment 0 = no stratum reference (the study bias of one stratum comes back), 1 = the
    full control; in between, in between."""
    t = make_table(fame=0.2)
    none, half, full = (_bg_spearman(10, t, a) for a in (0.0, 0.5, 1.0))
    assert none == pytest.approx(_bg_spearman(1, t), abs=0.05)
    assert none > half > full
    assert full < 0.1
    # adjustment 0: a contribution is the fitted weight times its bin's log-likelihood ratio, so
    # within one fold it takes one value per bin; the full control shifts it by the gene's stratum
    a, _ = model.learned_scores(TABLE, POS, FOLDS, LAYERS, {**PARAMS, "fame_adjustment": 0.0},
                                LAYER_PARAMS)  # fmt: skip
    b, _ = run(POS)
    for df, most in ((a, len(model.BIN_EDGES)), (b, None)):
        covered = df.filter(pl.col("localization_score").is_not_null() & (pl.col("cv_fold") == 0))
        n_values = covered["contrib_localization"].round(12).n_unique()
        if most is None:
            assert n_values > len(model.BIN_EDGES)
        else:
            assert n_values <= most


# --- score_table ------------------------------------------------------------------------------


def _score_table(table: pl.DataFrame, scoring: dict | None = None):
    return model.score_table(table, scoring or config()["scoring"], FOLDS_CFG, config()["layers"])


def test_score_table_learned_columns() -> None:
    scoring = config()["scoring"]
    df, w = _score_table(TABLE)
    assert w is not None and df.height == TABLE.height
    # rank_all: 1..n by score desc, ties by gene_id
    assert df["rank_all"].to_list() == list(range(1, df.height + 1))
    keys = list(zip(df["score"].to_list(), df["gene_id"].to_list(), strict=True))
    assert keys == sorted(keys, key=lambda k: (-k[0], k[1]))
    # layers_available / evidence_count recomputed from the output sub-scores (the seeded ones
    # are the out-of-fold values); evidence_min_score 0.2, all five layers are evidence layers
    cols = [f"{la}_score" for la in LAYERS]
    lo = scoring["learned"]["tiers"]
    for r in df.iter_rows(named=True):
        vals = [r[c] for c in cols]
        assert r["layers_available"] == sum(v is not None for v in vals)
        ev = sum(v is not None and v >= scoring["evidence_min_score"] for v in vals)
        assert r["evidence_count"] == ev
        if r["score"] >= lo["HIGH"]["min_score"] and ev >= lo["HIGH"]["min_evidence"]:
            tier = "HIGH"
        elif r["score"] >= lo["MEDIUM"]["min_score"] and ev >= lo["MEDIUM"]["min_evidence"]:
            tier = "MEDIUM"
        else:
            tier = "LOW"
        assert r["tier"] == tier, r["gene_id"]
    assert set(df["tier"]) == {"HIGH", "MEDIUM", "LOW"}
    # the positives default to is_known: same scores as passing them explicitly
    a, _ = model.score_table(TABLE, scoring, FOLDS_CFG, config()["layers"], positives=POS)
    assert a.equals(df)


def test_score_table_uses_the_learned_tiers() -> None:
    scoring = {**config()["scoring"]}
    scoring["learned"] = {**scoring["learned"],
                          "tiers": {"HIGH": {"min_score": 0.0, "min_evidence": 0},
                                    "MEDIUM": {"min_score": 0.0, "min_evidence": 0}}}  # fmt: skip
    df, _ = _score_table(TABLE, scoring)
    assert set(df["tier"]) == {"HIGH"}


def test_weight_zero_leaves_a_layer_out_of_the_learned_model() -> None:
    """scoring.weights.<layer>: 0 switches a layer off in the learned model (no feature, no
    contrib_ column, not counted in evidence_count), as in the weighted composite: the
    leave-one-layer-out switch of the benchmark. A layer without a weight entry stays in."""
    scoring = config()["scoring"]
    full, wf = _score_table(TABLE, scoring)
    off = {**scoring, "weights": {**scoring["weights"], "phylogeny": 0}}
    df, w = _score_table(TABLE, off)
    assert "contrib_phylogeny" in full.columns and "contrib_phylogeny" not in df.columns
    assert "phylogeny" in set(wf["term"]) and "phylogeny" not in set(w["term"])
    assert not df.sort("gene_id")["score"].equals(full.sort("gene_id")["score"])
    strong = (pl.col("phylogeny_score") >= scoring["evidence_min_score"]).fill_null(False)
    both = full.select("gene_id", strong.cast(pl.Int32).alias("phy"), "evidence_count").join(
        df.select("gene_id", pl.col("evidence_count").alias("ev_off")), on="gene_id"
    )
    assert (both["evidence_count"] - both["phy"]).equals(both["ev_off"].alias("evidence_count"))
    assert model.switched_off(off, "phylogeny") and not model.switched_off(off, "annotation")


def _full_table() -> pl.DataFrame:
    """TABLE plus every other weighted layer (random, some NULL) for the weighted composite."""
    rng = np.random.default_rng(1)
    extra = {}
    for la in SCORED_LAYERS:
        if f"{la}_score" not in TABLE.columns:
            v = rng.random(TABLE.height)
            v[rng.random(TABLE.height) < 0.3] = np.nan
            extra[f"{la}_score"] = pl.Series(v).fill_nan(None)
    return TABLE.with_columns(**extra)


def test_score_table_weighted_is_the_composite() -> None:
    scoring = {**config()["scoring"], "method": "weighted"}
    t = _full_table()
    df, w = _score_table(t, scoring)
    assert w is None
    ref = composite_scores(
        t, scoring["weights"], scoring["prior"]["mean"], scoring["prior"]["strength"],
        scoring["evidence_min_score"], scoring["evidence_layers"],
    )  # fmt: skip
    got = df.sort("gene_id")
    ref = ref.sort("gene_id")
    assert got["score"].equals(ref["score"])
    assert got["evidence_count"].equals(ref["evidence_count"])
    assert got["cv_fold"].to_list() == [FOLDS[x] for x in got["gene_id"]]
    assert df["rank_all"].to_list() == list(range(1, df.height + 1))
    assert df["score"].to_list() == sorted(df["score"].to_list(), reverse=True)
    # weighted tiers come from scoring.tiers (HIGH >= 0.4 with >= 3 layers of evidence)
    hi = scoring["tiers"]["HIGH"]
    want_high = (df["score"] >= hi["min_score"]) & (df["evidence_count"] >= hi["min_evidence"])
    assert (df["tier"] == "HIGH").equals(want_high)


# --- binned_llr -------------------------------------------------------------------------------


def test_binned_llr_by_hand() -> None:
    values = np.array([0.0, 0.03, 0.07, 0.5, 0.9, np.nan, 0.3, 0.02])
    y = np.array([True, False, True, True, False, True, False, False])
    train = np.array([True] * 7 + [False])
    # edges (0, 0.1, 0.5): bins [0,0.1) [0.1,0.5) [0.5,..); training positives with a value:
    # 0.0, 0.07 (bin 0), 0.5 (bin 2) -> 3; training background: 0.03 (0), 0.9 (2), 0.3 (1) -> 3.
    # pseudo 1, 3 bins: bin 0 p=(2+1)/6 q=(1+1)/6; bin 1 p=1/6 q=2/6; bin 2 p=2/6 q=2/6.
    out = model.binned_llr(values, y, train, (0.0, 0.1, 0.5), 1.0)
    b0, b1 = math.log(1.5), math.log(0.5)
    # NaN -> 0; the held-out gene (last) gets its bin's value (learned without it)
    assert out == pytest.approx([b0, b0, b0, 0.0, 0.0, 0.0, b1, b0])
    assert out[5] == 0.0
    # the held-out gene's label is not used: flipping it changes nothing
    y2 = y.copy()
    y2[7] = True
    assert np.array_equal(model.binned_llr(values, y2, train, (0.0, 0.1, 0.5), 1.0), out)


def test_binned_llr_empty_bin_is_no_evidence() -> None:
    """A held-out gene in a bin no training gene falls in gets 0, not log(n_neg / n_pos) (what
    equal pseudo counts give an empty bin: +1.61 here, strong evidence from no data)."""
    values = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.9, 0.3])
    y = np.array([True, False, False, False, False, False, True, False, False])
    train = np.array([True] * 8 + [False])
    out = model.binned_llr(values, y, train, (0.0, 0.1, 0.5), 1.0)
    # bin 1 [0.1, 0.5) holds only the held-out gene: no training data there
    assert out[8] == 0.0
    # the occupied bins keep their ratios: bin 0 p=(1+1)/5 q=(5+1)/9, bin 2 p=(1+1)/5 q=(1+1)/9
    assert out[0] == pytest.approx(math.log((2 / 5) / (6 / 9)))
    assert out[6] == pytest.approx(math.log((2 / 5) / (2 / 9)))


def test_fame_strata_bins() -> None:
    t = pl.DataFrame({"pubmed_total": list(range(100))})
    assert (model.fame_strata(t, 1) == 0).all()
    s = model.fame_strata(t, 4)
    assert np.bincount(s).tolist() == [25, 25, 25, 25]
    assert (np.diff(s) >= 0).all()
