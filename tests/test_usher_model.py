"""The Usher view (usher_pipeline.usher_model) on synthetic tables and by hand.

The synthetic table (tests/test_model.py's ``make_table``, 400 genes, 60 positives = the "known"
genes) gets a cilia-view score, the raw sensory columns and 12 Usher genes among the known genes
that prefer each other in the network, have hearing phenotypes more often and a higher
photoreceptor enrichment. The important properties: no gene's own Usher label (nor any label of
its fold) reaches its own Usher-view score; the score is P(ciliary) x P(Usher-like | ciliary);
the phenotype coding and the unknown/zero distinction; the ranks of a reported subset.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from core_fixtures import config
from test_model import FOLDS_CFG, LAYER_PARAMS, make_table
from usher_pipeline import usher_model
from usher_pipeline.layers.cilia_layers import assign_folds
from usher_pipeline.validation import housekeeping_shares
from usher_pipeline.views import USHER_FEATURES

PARAMS = usher_model.usher_params(config()["scoring"])


def sensory_table(seed: int = 0) -> tuple[pl.DataFrame, list[str]]:
    """make_table plus a cilia score, is_known / is_usher flags and the sensory raw columns."""
    t = make_table(seed=seed)
    rng = np.random.default_rng(seed + 1)
    n = t.height
    known = t["is_known"].to_numpy()
    usher_idx = rng.choice(np.flatnonzero(known), 12, replace=False)
    usher = np.zeros(n, bool)
    usher[usher_idx] = True
    ids = t["gene_id"].to_list()
    # Usher genes link to each other (and keep their other neighbours)
    neigh = [list(x or []) for x in t["network_neighbours"].to_list()]
    wts = [list(x or []) for x in t["network_neighbour_weights"].to_list()]
    for i in usher_idx:
        for j in usher_idx:
            if i != j and ids[j] not in neigh[i]:
                neigh[i].append(ids[j])
                wts[i].append(0.9)
    hear = rng.random(n) < np.where(usher, 0.9, 0.1)
    mouse_ear = rng.random(n) < np.where(usher, 0.9, 0.15)
    covered_h = rng.random(n) < 0.6
    covered_m = rng.random(n) < 0.5
    photo = np.clip(0.1 + 0.3 * usher + 0.2 * rng.normal(size=n), 0, 1)
    cilia = np.clip(0.05 + 0.7 * known + 0.1 * rng.normal(size=n), 0.001, 0.999)
    table = t.with_columns(
        pl.Series("is_usher", usher),
        pl.Series("score", cilia),
        pl.Series("network_neighbours", [x or None for x in neigh], dtype=pl.List(pl.String)),
        pl.Series(
            "network_neighbour_weights", [x or None for x in wts], dtype=pl.List(pl.Float64)
        ),  # fmt: skip
        pl.Series("retina_photoreceptor_score", photo),
        pl.Series("hpo_hearing_impairment", hear & covered_h),
        pl.Series("hpo_retinal_dystrophy", (rng.random(n) < 0.1) & covered_h),
        pl.Series("human_phenotype_score", np.where(covered_h, 0.3, np.nan)).fill_nan(None),
        pl.Series("mouse_hearing_vestibular_ear", mouse_ear & covered_m),
        pl.Series("mouse_vision_eye", (rng.random(n) < 0.1) & covered_m),
        pl.Series("mouse_phenotype_score", np.where(covered_m, 0.3, np.nan)).fill_nan(None),
    )
    return table, [ids[i] for i in usher_idx]


def folds_of(table: pl.DataFrame) -> dict[str, int]:
    return assign_folds(table["gene_id"].to_list(), FOLDS_CFG["folds"], FOLDS_CFG["seed"])


def test_phenotype_coding_by_hand() -> None:
    """1 = human phenotype, 0.5 = mouse only, 0 = phenotyped without one, NaN = not phenotyped
    in either species (unknown, never 0)."""
    t = pl.DataFrame(
        {
            "hpo_hearing_impairment": [True, False, None, False, None],
            "hpo_vestibular_dysfunction": [False, False, None, True, None],
            "human_phenotype_score": [0.6, 0.1, None, 0.4, None],
            "mouse_hearing_vestibular_ear": [True, True, True, None, None],
            "mouse_phenotype_score": [0.7, 0.7, 0.7, None, None],
        }
    )
    ear = usher_model.sensory_features(t)["ear_phenotype"]
    assert ear[:4].tolist() == [1.0, 0.5, 0.5, 1.0]
    assert np.isnan(ear[4])
    eye = usher_model.sensory_features(t)["eye_phenotype"]  # no eye columns: 0 where covered
    assert eye[:4].tolist() == [0.0, 0.0, 0.0, 0.0] and np.isnan(eye[4])
    assert "hair_cell" not in usher_model.sensory_features(t)  # no inner_ear layer: left out


def test_usher_view_columns_product_and_ranks() -> None:
    table, usher = sensory_table()
    cols, weights = usher_model.usher_view(table, usher, folds_of(table), PARAMS,
                                           LAYER_PARAMS["network"])  # fmt: skip
    assert cols.height == table.height and cols["gene_id"].n_unique() == table.height
    for f in USHER_FEATURES:
        assert f"usher_contrib_{f}" in cols.columns
    assert cols["usher_contrib_hair_cell"].null_count() == cols.height  # no source: NULL
    both = table.select("gene_id", "score").join(cols, on="gene_id")
    # P(Usher-like) = P(ciliary) x P(Usher-like | ciliary)
    np.testing.assert_allclose(both["usher_score"], both["score"] * both["usher_given_cilia"])
    contribs = sum(both[f"usher_contrib_{f}"].fill_null(0.0) for f in USHER_FEATURES)
    np.testing.assert_allclose(both["usher_sensory_logodds"], contribs)
    ranks = cols.sort("usher_rank_all")
    assert ranks["usher_rank_all"].to_list() == list(range(1, table.height + 1))
    assert ranks["usher_score"].is_sorted(descending=True)
    assert set(weights["term"]) >= {"usher:usher_network", "usher:ear_phenotype", "usher:intercept"}
    # The Usher genes (out of fold) rank above the other known genes in the Usher view
    u = both.join(table.select("gene_id", "is_known", "is_usher"), on="gene_id")
    med = lambda m: u.filter(m)["usher_given_cilia"].median()  # noqa: E731
    assert med(pl.col("is_usher")) > 2 * med(pl.col("is_known") & ~pl.col("is_usher"))


@pytest.mark.parametrize("flip", [0, 5, 11])
def test_own_usher_label_never_reaches_own_score(flip: int) -> None:
    """Removing one Usher gene's label (it is still a known cilia gene) changes nothing of its own
    Usher-view score nor of any gene of its fold: the sensory model of a fold and the network
    feature's seeds come from the other folds only."""
    table, usher = sensory_table()
    folds = folds_of(table)
    g = usher[flip]
    a, _ = usher_model.usher_view(table, usher, folds, PARAMS, LAYER_PARAMS["network"])
    b, _ = usher_model.usher_view(table, [u for u in usher if u != g], folds, PARAMS,
                                  LAYER_PARAMS["network"])  # fmt: skip
    same_fold = [x for x, f in folds.items() if f == folds[g]]
    pa = a.filter(pl.col("gene_id").is_in(same_fold)).sort("gene_id")
    pb = b.filter(pl.col("gene_id").is_in(same_fold)).sort("gene_id")
    assert pa["usher_score"].to_list() == pb["usher_score"].to_list()
    # ...while the label does matter for the genes of the other folds
    other = a.filter(~pl.col("gene_id").is_in(same_fold)).sort("gene_id")
    other_b = b.filter(~pl.col("gene_id").is_in(same_fold)).sort("gene_id")
    assert other["usher_score"].to_list() != other_b["usher_score"].to_list()


def test_features_subset_leaves_phenotypes_out() -> None:
    table, usher = sensory_table()
    keep = [f for f in USHER_FEATURES if f not in usher_model.PHENOTYPE_FEATURES]
    cols, weights = usher_model.usher_view(table, usher, folds_of(table), PARAMS,
                                           LAYER_PARAMS["network"], features=keep)  # fmt: skip
    assert cols["usher_contrib_ear_phenotype"].null_count() == cols.height
    assert not any("phenotype" in t for t in weights["term"].to_list())


def test_usher_tiers() -> None:
    df = pl.DataFrame({"usher_score": [0.5, 0.5, 0.05, 0.05, 0.01],
                       "usher_sensory_count": [2, 1, 1, 0, 3]})  # fmt: skip
    tiers = {"HIGH": {"min_score": 0.1, "min_sensory": 2},
             "MEDIUM": {"min_score": 0.02, "min_sensory": 1}}  # fmt: skip
    out = usher_model.assign_usher_tiers(df, tiers)["usher_tier"].to_list()
    assert out == ["HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW"]


def test_view_ranks_of_a_reported_subset() -> None:
    """Ranks are recomputed among the reported genes, scores untouched; ties by gene_id."""
    ev = pl.DataFrame(
        {
            "gene_id": ["G4", "G1", "G2", "G3", "G5"],
            "score": [0.9, 0.5, 0.5, 0.7, 0.1],
            "usher_score": [0.01, 0.2, 0.3, 0.2, 0.5],
            "is_known": [True, False, False, False, False],
            "rank_all": [1, 10, 11, 5, 200],  # genome-wide ranks of a full run: replaced
        }
    )
    out = usher_model.view_ranks(ev)
    r = {g: out.filter(pl.col("gene_id") == g).row(0, named=True) for g in ev["gene_id"]}
    assert [r[g]["rank_all"] for g in ("G4", "G3", "G1", "G2", "G5")] == [1, 2, 3, 4, 5]
    assert r["G4"]["rank"] is None and r["G3"]["rank"] == 1 and r["G1"]["rank"] == 2
    assert [r[g]["usher_rank"] for g in ("G5", "G2", "G1", "G3")] == [1, 2, 3, 4]
    assert r["G4"]["usher_rank_all"] == 5
    assert out["score"].to_list() == sorted(ev["score"].to_list(), reverse=True)


def test_housekeeping_shares_by_hand() -> None:
    ev = pl.DataFrame(
        {
            "gene_id": [f"G{i}" for i in range(8)],
            "rank_all": list(range(1, 9)),
            "is_known": [True, False, True, False, False, False, True, True],
            "is_housekeeping": [True, True, None, False, True, True, False, False],
        }
    )
    out = housekeeping_shares(ev, 3)  # top 3 candidates: G1 (hk), G3, G4 (hk)
    assert out["housekeeping_share_top"] == pytest.approx(2 / 3)
    assert out["housekeeping_share_known"] == pytest.approx(1 / 4)
    assert out["housekeeping_share_top_minus_known"] == pytest.approx(2 / 3 - 1 / 4)
