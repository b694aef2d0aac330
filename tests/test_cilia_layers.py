"""The cilia-specific layers (network, ht_studies, retina expression, phylogeny, ciliary function)
on the fixture snapshot: values derived by hand from the fixture rows, plus the out-of-fold
(leak-free) computation of the two seeded layers.

Fixture facts used below (tests/fixtures/snapshot_mini, config/config.yaml):
  * universe: 19 genes; seeds (known genes): USH2A, MYO7A, USH1C, CDH23, IFT88, CEP290, BBS1.
  * folds (validation.folds 5, seed 20261121): fold 0 CEP290, SLC25A6, GAPDH, GPR36;
    fold 1 USH1C, MYO7A, IFT88, A1BG; fold 2 CDH23, ACTB, RAB3GAP1, ABO; fold 3 USH2A, ACRV1,
    DLEU7, ESA4, FUT3; fold 4 BMP8B, BBS1.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter

import numpy as np
import polars as pl
import pytest
from core_fixtures import (
    aliases,
    config,
    context,
    fixture_lines,
    folds,
    gene_id,
    genes,
    layer,
    layer_stats,
    paths,
    row,
    seeds,
)
from usher_pipeline import steps
from usher_pipeline.layers import cilia_layers as cl
from usher_pipeline.parsers import cilia, ncbi
from usher_pipeline.parsers.ontology import read_go_tsv

NET = config()["layers"]["network"]
HT = config()["layers"]["ht_studies"]
CF = config()["layers"]["ciliary_function"]


def _ids(*symbols: str) -> list[str]:
    return [gene_id(s) for s in symbols]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bitwise equality of two float arrays, NaN equal to NaN."""
    return bool(np.array_equal(a, b, equal_nan=True))


# --- network ----------------------------------------------------------------------------------


def _edges() -> pl.DataFrame:
    return cilia.read_string_edges(paths()["string_network"])


def test_network_graph_keeps_universe_edges_at_threshold_both_directions() -> None:
    # STRING fixture rows with BOTH ends in the universe (all other rows have one end outside):
    #   4647 MYO7A - 10083 USH1C 986; 7399 USH2A - 10083 USH1C 678; 64072 CDH23 - 10083 USH1C 964;
    #   60 ACTB - 2597 GAPDH 683; 2525 FUT3 - 28 ABO 902.
    g = cl.network_graph(genes(), _edges(), 400)
    got = {(a, b): w for a, b, w in g.iter_rows()}
    pairs = {("MYO7A", "USH1C"): 0.986, ("USH2A", "USH1C"): 0.678, ("CDH23", "USH1C"): 0.964,
             ("ACTB", "GAPDH"): 0.683, ("FUT3", "ABO"): 0.902}  # fmt: skip
    want = {}
    for (a, b), w in pairs.items():
        want[(gene_id(a), gene_id(b))] = w
        want[(gene_id(b), gene_id(a))] = w
    assert got.keys() == want.keys()
    for k, w in want.items():
        assert got[k] == pytest.approx(w, abs=1e-12)
    # threshold is inclusive (>=): at 902 FUT3-ABO stays, the 678 and 683 edges go
    g902 = cl.network_graph(genes(), _edges(), 902)
    kept = {frozenset(p) for p in zip(g902["gene_id"], g902["neighbour_id"], strict=True)}
    assert kept == {frozenset(_ids("MYO7A", "USH1C")), frozenset(_ids("CDH23", "USH1C")),
                    frozenset(_ids("FUT3", "ABO"))}  # fmt: skip
    assert (
        cl.network_graph(genes(), _edges(), 903)
        .filter(pl.col("gene_id") == gene_id("FUT3"))
        .is_empty()
    )


def test_network_layer_raw_values_of_fixture_genes() -> None:
    t = layer("network")
    ush1c = row(t, "USH1C")  # neighbours MYO7A .986, CDH23 .964, USH2A .678: all three are seeds
    assert ush1c["network_degree"] == 3
    assert ush1c["network_weighted_degree"] == pytest.approx(0.986 + 0.964 + 0.678)
    assert ush1c["network_neighbours"] == _ids("MYO7A", "CDH23", "USH2A")  # by weight, desc
    assert ush1c["network_known_neighbours"] == ["MYO7A", "CDH23", "USH2A"]
    assert ush1c["network_n_known"] == 3
    ush2a = row(t, "USH2A")  # single universe neighbour USH1C (678)
    assert (ush2a["network_degree"], ush2a["network_n_known"]) == (1, 1)
    assert ush2a["network_known_neighbours"] == ["USH1C"]
    gapdh = row(t, "GAPDH")  # ~60 STRING partners, only ACTB in the universe; ACTB is no seed
    assert (gapdh["network_degree"], gapdh["network_n_known"]) == (1, 0)
    # IFT88 has 23 STRING rows, none to another universe gene: not covered (NULL, not 0)
    ift88 = row(t, "IFT88")
    assert ift88["network_degree"] is None and ift88["network_score"] is None
    assert ift88["network_known_fraction"] is None
    assert layer_stats("network")["edges_used"] == 5
    assert layer_stats("network")["genes_in_network"] == 8


def test_network_degree_matches_raw_string_rows() -> None:
    # every gene's degree and known-neighbour count, recomputed from the raw fixture lines:
    # rows with both Entrez IDs in the universe and combined_score >= min_combined_score
    ncbi_to_gene = dict(zip(genes()["ncbi_gene_id"], genes()["gene_id"], strict=True))
    nbrs: dict[str, set[str]] = {}
    for line in fixture_lines("string_network")[1:]:
        f = line.split("\t")
        a, b = ncbi_to_gene.get(int(f[0])), ncbi_to_gene.get(int(f[1]))
        if a and b and a != b and int(f[13]) >= NET["min_combined_score"]:
            nbrs.setdefault(a, set()).add(b)
            nbrs.setdefault(b, set()).add(a)
    t = layer("network")
    for gid, deg, n_known in t.select("gene_id", "network_degree", "network_n_known").iter_rows():
        want = nbrs.get(gid)
        assert deg == (len(want) if want else None), gid
        assert n_known == (len(want & set(seeds())) if want else None), gid


def test_network_score_is_out_of_fold_by_hand() -> None:
    t = layer("network")
    a, sat = NET["pseudo_weight"], NET["saturation"]
    # the derivation below rests on these folds (module docstring)
    fo = {s: folds()[gene_id(s)] for s in ("USH2A", "MYO7A", "USH1C", "IFT88", "CDH23")}
    assert fo == {"USH2A": 3, "MYO7A": 1, "USH1C": 1, "IFT88": 1, "CDH23": 2}
    # USH2A (fold 3): training seeds = the 6 seeds outside fold 3, p0 = 6/19; USH1C is one of them
    f = (0.678 + a * 6 / 19) / (0.678 + a)
    assert row(t, "USH2A")["network_known_fraction"] == pytest.approx(f)
    assert row(t, "USH2A")["network_score"] == pytest.approx(min(f / sat, 1.0))
    # MYO7A (fold 1) shares its fold with its only neighbour USH1C (and with IFT88): training seeds
    # are USH2A, CDH23, CEP290, BBS1 (p0 = 4/19) and USH1C does NOT count for it
    f = (0.0 + a * 4 / 19) / (0.986 + a)
    assert row(t, "MYO7A")["network_known_fraction"] == pytest.approx(f)
    assert row(t, "MYO7A")["network_score"] == pytest.approx(f / sat)
    # USH1C (fold 1): MYO7A is in its own fold, CDH23 (2) and USH2A (3) are training seeds
    f = (0.964 + 0.678 + a * 4 / 19) / (0.986 + 0.964 + 0.678 + a)
    assert row(t, "USH1C")["network_known_fraction"] == pytest.approx(f)


def test_known_neighbour_fraction_on_a_tiny_graph() -> None:
    # A-B w=0.5, A-C w=1.0, D isolated; seeds {B}: p0 = 1/4
    graph = pl.DataFrame(
        {"gene_id": ["A", "B", "A", "C"], "neighbour_id": ["B", "A", "C", "A"],
         "weight": [0.5, 0.5, 1.0, 1.0]}
    )  # fmt: skip
    ids = ["A", "B", "C", "D"]
    a, p0 = 2.0, 0.25
    got = cl.known_neighbour_fraction(graph, ids, ["B"], a)
    assert got[0] == pytest.approx((0.5 + a * p0) / (1.5 + a))
    assert got[1] == pytest.approx((0.0 + a * p0) / (0.5 + a))  # B's own label does not count
    assert got[2] == pytest.approx((0.0 + a * p0) / (1.0 + a))
    assert np.isnan(got[3])  # no edge: not covered
    # seeds outside the gene list are ignored (not counted in p0 either)
    assert _same(cl.known_neighbour_fraction(graph, ids, ["B", "Z"], a), got)


def test_hub_is_not_favoured_by_degree() -> None:
    # H has 10 neighbours (1 seed), L has 1 neighbour (the seed S2); all weights 1.
    # With pseudo-weight a=2 and p0 = 2/14: H = (1 + 2p0)/(10 + 2) = 0.107, L = (1 + 2p0)/(1 + 2)
    # = 0.429. Asserted: the hub with more seed neighbours in absolute terms scores far lower, and
    # the single-seed gene is shrunk below 1 (toward p0).
    others = [f"N{i}" for i in range(9)]
    pairs = [("H", "S1")] + [("H", n) for n in others] + [("L", "S2")]
    src = [p[0] for p in pairs] + [p[1] for p in pairs]
    dst = [p[1] for p in pairs] + [p[0] for p in pairs]
    graph = pl.DataFrame({"gene_id": src, "neighbour_id": dst, "weight": [1.0] * len(src)})
    ids = ["H", "L", "S1", "S2", *others, "X"]
    got = dict(zip(ids, cl.known_neighbour_fraction(graph, ids, ["S1", "S2"], 2.0), strict=True))
    p0 = 2 / 14
    assert got["H"] == pytest.approx((1 + 2 * p0) / 12)
    assert got["L"] == pytest.approx((1 + 2 * p0) / 3)
    assert got["L"] > 3 * got["H"]
    assert got["L"] < 1.0


def test_no_edge_gives_null_score() -> None:
    t = layer("network")
    no_edge = t.filter(pl.col("network_degree").is_null())
    # BMP8B, SLC25A6, ACRV1, RAB3GAP1, DLEU7, IFT88, CEP290, ESA4, GPR36, A1BG, BBS1
    assert no_edge.height == 11
    assert no_edge["network_score"].null_count() == 11
    assert t.filter(pl.col("network_degree").is_not_null())["network_score"].null_count() == 0


def test_out_of_fold_network_equals_per_fold_fraction_with_other_folds_seeds() -> None:
    graph = cl.network_graph(genes(), _edges(), NET["min_combined_score"])
    ids = genes()["gene_id"].to_list()
    fo = folds()
    oof = cl.out_of_fold_network(graph, ids, list(seeds()), fo, NET["pseudo_weight"])
    fold_arr = np.array([fo[g] for g in ids])
    for f in range(5):
        train = [s for s in seeds() if fo[s] != f]
        ref = cl.known_neighbour_fraction(graph, ids, train, NET["pseudo_weight"])
        assert _same(oof[fold_arr == f], ref[fold_arr == f]), f
    # and it is not the all-seeds fraction (MYO7A's neighbour USH1C shares its fold)
    full = cl.known_neighbour_fraction(graph, ids, list(seeds()), NET["pseudo_weight"])
    assert not _same(oof, full)
    # the layer column is that array
    t = layer("network")
    assert _same(t["network_known_fraction"].fill_null(np.nan).to_numpy(), oof)


@pytest.mark.parametrize(
    ("flip", "watch"),
    [
        # remove seed USH1C (fold 1): MYO7A (fold 1, neighbour of USH1C) must not move;
        # USH2A and CDH23 (folds 3, 2, neighbours of USH1C) must move
        ("USH1C", ("USH2A", "CDH23")),
        # add GAPDH (fold 0) as a seed: ACTB (fold 2, neighbour of GAPDH) must move
        ("GAPDH", ("ACTB",)),
    ],
)
def test_out_of_fold_network_leak(flip: str, watch: tuple[str, ...]) -> None:
    """Changing the seed status of a gene in fold f changes no fold-f gene's value (it would if
    out_of_fold_network used all seeds: MYO7A's only neighbour is USH1C), and does change the
    values of its neighbours in other folds (labels matter at all)."""
    graph = cl.network_graph(genes(), _edges(), NET["min_combined_score"])
    ids = genes()["gene_id"].to_list()
    fo = folds()
    base = list(seeds())
    g = gene_id(flip)
    flipped = [s for s in base if s != g] if g in base else [*base, g]
    a = cl.out_of_fold_network(graph, ids, base, fo, NET["pseudo_weight"])
    b = cl.out_of_fold_network(graph, ids, flipped, fo, NET["pseudo_weight"])
    same_fold = np.array([fo[x] == fo[g] for x in ids])
    assert _same(a[same_fold], b[same_fold])
    for sym in watch:
        i = ids.index(gene_id(sym))
        assert fo[ids[i]] != fo[g] and a[i] != b[i], sym
    # the same change in an all-seeds computation does move a same-fold gene (the test has teeth)
    if flip == "USH1C":
        i = ids.index(gene_id("MYO7A"))
        full_a = cl.known_neighbour_fraction(graph, ids, base, NET["pseudo_weight"])
        full_b = cl.known_neighbour_fraction(graph, ids, flipped, NET["pseudo_weight"])
        assert full_a[i] != full_b[i]


# --- folds ------------------------------------------------------------------------------------


def test_assign_folds_deterministic_order_and_subset_independent() -> None:
    ids = [f"HGNC:{i}" for i in range(1, 1001)]
    a = cl.assign_folds(ids, 5, 20261121)
    assert a == cl.assign_folds(ids, 5, 20261121)
    assert cl.assign_folds(list(reversed(ids)), 5, 20261121) == a
    sub = ids[::7]
    assert cl.assign_folds(sub, 5, 20261121) == {g: a[g] for g in sub}
    assert set(a.values()) == set(range(5))
    counts = Counter(a.values())
    # 1,000 IDs in 5 folds: 200 expected each; a hash gives sd ~ 12.6, so 150..250 is > 3.9 sd
    assert all(150 <= c <= 250 for c in counts.values()), counts
    # another seed gives another split
    assert cl.assign_folds(ids, 5, 1) != a
    # the fixture folds are those of the config (validation.folds, validation.seed)
    v = config()["validation"]
    assert folds() == cl.assign_folds(genes()["gene_id"].to_list(), v["folds"], v["seed"])


# --- ht_studies -------------------------------------------------------------------------------


def _ht_inputs() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    studies = cilia.read_ht_studies(paths()["ht_studies"])
    sg = cilia.read_ht_study_genes(paths()["ht_study_genes"])
    return studies, sg, cilia.link_study_numbers(sg, studies)


def _ht_layer(sg: pl.DataFrame, params: dict, seed_list=None) -> pl.DataFrame:
    studies, _, _ = _ht_inputs()
    links = cilia.link_study_numbers(sg, studies)
    table, _ = cl.ht_studies_layer(
        genes(), aliases(), sg, studies, links,
        list(seeds()) if seed_list is None else seed_list, folds(), params,
    )  # fmt: skip
    return table


CIRCULAR_NUMBERS = {"13", "15", "24", "11"}  # Cilia Carta, GO CC Cilium, SYSCILIA GS, Van Dam


def _non_circular_studies(symbol: str) -> set[str]:
    """Distinct pub numbers of the raw fixture rows of a symbol, circular sources left out."""
    rows = [line.split("|") for line in fixture_lines("ht_study_genes")[1:]]
    return {r[2] for r in rows if r[0] == symbol and r[2] not in CIRCULAR_NUMBERS}


@pytest.mark.parametrize(
    ("symbol", "n"),
    # IFT88: 29 rows, 3 circular (13, 15, 24) -> 26; CEP290: 15 rows (Andersen 9 three times),
    # distinct 8 9 16 17 25 27 28 29 33 46 -> 10; CDH23: 16 and 46 (13, 24 circular) -> 2;
    # MYO7A: 16 27 28 29 -> 4; ACTB: 9 distinct numbers (9, 39 repeated) -> 9
    [("IFT88", 26), ("CEP290", 10), ("CDH23", 2), ("MYO7A", 4), ("ACTB", 9), ("BMP8B", 0)],
)
def test_ht_n_studies_counts_distinct_non_circular_studies(symbol: str, n: int) -> None:
    assert len(_non_circular_studies(symbol)) == n
    assert row(layer("ht_studies"), symbol)["ht_n_studies"] == n


def test_circular_studies_never_counted() -> None:
    t = layer("ht_studies")
    excluded = set(HT["exclude_studies"])
    names = {n for lst in t["ht_study_names"].to_list() for n in lst}
    assert names and not names & excluded
    labels = " ".join(x for lst in t["ht_studies"].to_list() for x in lst)
    assert "Cilia Carta" not in labels and "GO CC" not in labels and "SYSCILIA" not in labels
    # a universe gene reported only by circular sources (BMP8B added to GO CC Cilium and Cilia
    # Carta) gets 0 studies and score 0; without the exclusion it would count 2 studies
    _, sg, _ = _ht_inputs()
    extra = pl.DataFrame(
        {"symbol": ["BMP8B", "BMP8B"], "publication": ["GO CC Cilium", "Cilia Carta (TJP van Dam et al.)"],
         "pub_number": [15, 13]}
    )  # fmt: skip
    sg2 = pl.concat([sg, extra])
    r = row(_ht_layer(sg2, HT), "BMP8B")
    assert (r["ht_n_studies"], r["ht_study_names"], r["ht_studies_score"]) == (0, [], 0.0)
    r = row(_ht_layer(sg2, {**HT, "exclude_studies": []}), "BMP8B")
    assert r["ht_n_studies"] == 2
    assert set(r["ht_study_names"]) == {"GO CC Cilium", "Cilia Carta (TJP van Dam et al.)"}


def test_unknown_excluded_study_raises_naming_it() -> None:
    _, sg, _ = _ht_inputs()
    with pytest.raises(ValueError, match="Nobody et al"):
        _ht_layer(sg, {**HT, "exclude_studies": [*HT["exclude_studies"], "Nobody et al."]})


def test_study_llr_and_ht_score_by_hand() -> None:
    ids = ["g1", "g2", "g3", "g4", "g5", "g6"]
    reported = [["S1", "S2"], ["S1"], ["S2"], ["S2"], ["S2"], ["S1"]]
    seed_list = ["g1", "g2"]
    # pseudo 1: S1 seeds 2/2, others 1/4 -> log((2+1)/(2+2) / ((1+1)/(4+2))) = log(2.25)
    #           S2 seeds 1/2, others 3/4 -> log((1+1)/4 / ((3+1)/6)) = log(0.75) < 0
    llr = cl.study_llr(ids, reported, seed_list, 1.0)
    assert llr == pytest.approx({"S1": math.log(2.25), "S2": math.log(0.75)})
    # only positive LLRs add up; divided by ref_llr and capped at 1
    s = cl.ht_score(ids, reported, seed_list, {"pseudo_count": 1.0, "ref_llr": 2.0})
    assert s == pytest.approx([math.log(2.25) / 2, math.log(2.25) / 2, 0, 0, 0, math.log(2.25) / 2])
    s = cl.ht_score(ids, reported, seed_list, {"pseudo_count": 1.0, "ref_llr": 0.5})
    assert list(s) == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    # a gene reported by no study and a None list score 0
    s = cl.ht_score(
        [*ids, "g7"], [*reported, None], seed_list, {"pseudo_count": 1.0, "ref_llr": 2.0}
    )
    assert s[-1] == 0.0


def test_ht_studies_score_is_out_of_fold() -> None:
    t = layer("ht_studies")
    ids = t["gene_id"].to_list()
    reported = t["ht_study_names"].to_list()
    fo = folds()
    got = t["ht_studies_score"].to_numpy()
    fold_arr = np.array([fo[g] for g in ids])
    for f in range(5):
        train = [s for s in seeds() if fo[s] != f]
        ref = cl.ht_score(ids, reported, train, HT)
        assert _same(got[fold_arr == f], ref[fold_arr == f]), f
    assert not _same(got, cl.ht_score(ids, reported, list(seeds()), HT))


def test_ht_studies_leak() -> None:
    """Removing seed IFT88 (fold 1) changes no fold-1 gene's ht_studies_score, and does change
    genes of other folds that share its studies (here SLC25A6, fold 0, reported by Phirke)."""
    _, sg, _ = _ht_inputs()
    base = _ht_layer(sg, HT)
    g = gene_id("IFT88")
    flipped = _ht_layer(sg, HT, [s for s in seeds() if s != g])
    fo = folds()
    same = [x for x in base["gene_id"].to_list() if fo[x] == fo[g]]
    a = base.filter(pl.col("gene_id").is_in(same)).sort("gene_id")["ht_studies_score"]
    b = flipped.filter(pl.col("gene_id").is_in(same)).sort("gene_id")["ht_studies_score"]
    assert a.equals(b)
    assert row(base, "SLC25A6")["ht_studies_score"] != row(flipped, "SLC25A6")["ht_studies_score"]
    # with all seeds (leaky), IFT88's own label moves its own score: the check above has teeth
    ids = base["gene_id"].to_list()
    rep = base["ht_study_names"].to_list()
    i = ids.index(gene_id("MYO7A"))
    full_a = cl.ht_score(ids, rep, list(seeds()), HT)
    full_b = cl.ht_score(ids, rep, [s for s in seeds() if s != g], HT)
    assert full_a[i] != full_b[i]


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Proteomic analysis of a eukaryotic cilium", "proteomics"),
        ("An siRNA-based functional genomics screen for the identification of regulators of "
         "ciliogenesis and ciliopathy genes", "screen"),
        ("A CRISPR-based screen for Hedgehog signaling provides insights into ciliary function "
         "and ciliopathies", "screen"),
        ("Identification of ciliary and ciliopathy genes in Caenorhabditis elegans through "
         "comparative genomics", "comparative genomics"),
        ("Transcriptional profiling of mucociliary differentiation in human airway epithelial "
         "cells", "expression / transcription factor"),
        ("Sentan: a novel specific component of the apical structure of vertebrate motile cilia",
         "other"),
        ("", "other"),
    ],
)  # fmt: skip
def test_study_type(title: str, kind: str) -> None:
    assert cl.study_type(title) == kind


# --- retina expression ------------------------------------------------------------------------


def _markers() -> pl.DataFrame:
    return cilia.read_retina_markers(paths()["retina_scrna_markers"])


def test_retina_values_of_fixture_genes() -> None:
    t = cl.retina_expression(genes(), _markers(), 1.0)
    # "ENSG00000042781",...,0.317250000664988,0.39,...,"Retinal cone cells","USH2A"
    r = row(t, "USH2A")
    assert r["retina_cone_log2fc"] == pytest.approx(0.317250000664988)
    assert r["retina_cone_pct"] == pytest.approx(0.39)
    assert r["retina_rod_log2fc"] is None
    assert r["retina_photoreceptor_score"] == pytest.approx(0.317250000664988)
    # RAB3GAP1: cone 0.47857414972578 (pct .38); markers of ganglion (ENSG000001158391, suffix
    # cut) and amacrine cells
    r = row(t, "RAB3GAP1")
    assert r["retina_cone_log2fc"] == pytest.approx(0.47857414972578)
    assert r["retina_other_cell_types"] == ["Amacrine cells", "Retinal ganglion cells"]
    # USH1C: Mueller cells (ENSG00000006611) and Native cells (ENSG000000066111); no rod/cone
    r = row(t, "USH1C")
    assert r["retina_other_cell_types"] == ["Mueller cells", "Native cells"]
    assert r["retina_photoreceptor_score"] == 0.0
    # ACTB: six other cell types, no photoreceptor row
    assert row(t, "ACTB")["retina_other_cell_types"] == [
        "Amacrine cells", "Microglial cells", "Mueller cells", "Native cells",
        "ON−bipolar cells", "Retinal ganglion cells",
    ]  # fmt: skip
    # absent gene: 0, not NULL
    r = row(t, "IFT88")
    assert r["retina_photoreceptor_score"] == 0.0 and r["retina_other_cell_types"] == []
    assert t["retina_photoreceptor_score"].null_count() == 0
    # the ref log2FC scales the score, capped at 1
    t2 = cl.retina_expression(genes(), _markers(), 0.25)
    assert row(t2, "USH2A")["retina_photoreceptor_score"] == 1.0
    assert row(t2, "RAB3GAP1")["retina_photoreceptor_score"] == 1.0
    # the expression layer carries it
    assert row(layer("expression"), "USH2A")["retina_photoreceptor_score"] == pytest.approx(
        0.317250000664988
    )


def test_retina_symbol_fallback_and_negative_rows() -> None:
    m = _markers()
    extra = pl.DataFrame(
        {
            # unknown Ensembl ID, symbol of a universe gene -> matched by symbol
            "ensembl_gene": ["ENSG99999999999", "ENSG99999999998", "ENSG00000137474"],
            "symbol": ["IFT88", "GPR36", "MYO7A"],
            "cell_type": ["Retinal rod cells", "Retinal cone cells", "Retinal cone cells"],
            "avg_log2fc": [0.8, 0.6, -1.5],  # MYO7A: depleted in cones, ignored
            "pct_in": [0.5, 0.4, 0.1],
            "pct_out": [0.1, 0.1, 0.6],
            "p_val_adj": [0.0, 0.0, 0.0],
        },
        schema=m.schema,
    )
    t = cl.retina_expression(genes(), pl.concat([m, extra]), 1.0)
    r = row(t, "IFT88")
    assert (r["retina_rod_log2fc"], r["retina_rod_pct"]) == (0.8, 0.5)
    assert r["retina_photoreceptor_score"] == pytest.approx(0.8)
    assert row(t, "GPR36")["retina_cone_log2fc"] == 0.6  # GPR36 has no Ensembl ID
    r = row(t, "MYO7A")
    assert r["retina_cone_log2fc"] is None and r["retina_photoreceptor_score"] == 0.0
    # a rod and a cone row: the larger counts
    both = pl.concat([extra.head(1), extra.head(1).with_columns(
        pl.lit("Retinal cone cells").alias("cell_type"), pl.lit(1.7).alias("avg_log2fc"))])  # fmt: skip
    r = row(cl.retina_expression(genes(), both, 2.0), "IFT88")
    assert r["retina_photoreceptor_score"] == pytest.approx(1.7 / 2.0)


# --- phylogeny --------------------------------------------------------------------------------


def _nevers_raw() -> dict:
    with gzip.open(paths()["nevers_phylogeny"], "rt", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.mark.parametrize(
    ("symbol", "n_cil", "n_non", "n_part"),
    # MYO7A: 38 species; 41 is partially ciliated, 42 and 43 non-ciliated, the other 35 ciliated.
    # FUT3: 38 species; 17 18 19 20 25 non-ciliated, 33 ciliated, none partial.
    # GAPDH: 59 ciliated, all 30 non-ciliated, 6 partial -> score clipped at 0.
    [("MYO7A", 35, 2, 1), ("FUT3", 33, 5, 0), ("GAPDH", 59, 30, 6), ("IFT88", 59, 0, 2)],
)
def test_phylogeny_counts_and_score(symbol: str, n_cil: int, n_non: int, n_part: int) -> None:
    raw = _nevers_raw()
    grp = raw["organism_groups"]
    idx = {n: i for i, n in enumerate(grp["all_organisms_list"])}
    sets = {k: {idx[n] for n in grp[k]} for k in
            ("ciliated_organisms", "non_ciliated_organisms", "partial_ciliated_organisms")}  # fmt: skip
    assert [len(s) for s in sets.values()] == [64, 30, 6]
    species = set(raw["genes"][symbol]["s"])
    assert (len(species & sets["ciliated_organisms"]), len(species & sets["non_ciliated_organisms"]),
            len(species & sets["partial_ciliated_organisms"])) == (n_cil, n_non, n_part)  # fmt: skip
    r = row(layer("phylogeny"), symbol)
    assert (r["phylo_n_ciliated"], r["phylo_n_non_ciliated"], r["phylo_n_partial"]) == (
        n_cil, n_non, n_part)  # fmt: skip
    assert r["phylo_n_species"] == len(species)
    assert r["phylogeny_score"] == pytest.approx(max(0.0, n_cil / 64 - n_non / 30))


def test_phylogeny_score_values_and_missing_gene() -> None:
    t = layer("phylogeny")
    assert row(t, "MYO7A")["phylogeny_score"] == pytest.approx(35 / 64 - 2 / 30)  # 0.480208
    assert row(t, "GAPDH")["phylogeny_score"] == 0.0
    for sym in ("ESA4", "GPR36"):  # not in the matrix
        r = row(t, sym)
        assert r["phylogeny_score"] is None and r["phylo_n_species"] is None
    assert layer_stats("phylogeny")["genes_covered"] == 17


def test_phylogeny_prefers_the_current_symbols_row_and_maps_synonyms() -> None:
    profiles, grp = cilia.read_nevers(paths()["nevers_phylogeny"])
    al = aliases()
    # USH1B is an NCBI synonym of MYO7A: a second matrix row resolving to MYO7A loses against the
    # row under its current symbol
    assert al.filter(pl.col("alias") == "USH1B")["gene_id"].to_list() == [gene_id("MYO7A")]
    gpr36_syn = "gpr36"  # GPR36 has no synonym in the fixture: a case-insensitive match
    extra = pl.DataFrame(
        {"symbol": ["USH1B", gpr36_syn], "species_idx": [[0, 1, 2], [0, 8]]}, schema=profiles.schema
    )
    t, stats = cl.phylogeny_layer(genes(), al, pl.concat([profiles, extra]), grp)
    r = row(t, "MYO7A")
    assert r["phylo_matrix_symbol"] == "MYO7A" and r["phylo_n_ciliated"] == 35
    # GPR36 (not in the matrix under its symbol) is found under another spelling: species 0 is
    # ciliated, 8 non-ciliated -> 1/64 - 1/30 < 0 -> 0
    r = row(t, "GPR36")
    assert r["phylo_matrix_symbol"] == gpr36_syn
    assert (r["phylo_n_ciliated"], r["phylo_n_non_ciliated"]) == (1, 1)
    assert r["phylogeny_score"] == 0.0
    assert stats["genes_covered"] == 18


# --- ciliary function -------------------------------------------------------------------------


def _cf(gene2go: pl.DataFrame | None = None, reactome: pl.DataFrame | None = None):
    onto = read_go_tsv(paths()["go_terms"], paths()["go_edges"])
    g2go = ncbi.read_gene2go(paths()["gene2go"]) if gene2go is None else gene2go
    rx = cilia.read_reactome_gmt(paths()["reactome_gmt"]) if reactome is None else reactome
    return cl.ciliary_function_layer(genes(), aliases(), g2go, onto, rx, CF)[0]


def test_ciliary_function_go_hits_by_hand() -> None:
    t = layer("ciliary_function")
    k = CF["go_computational_factor"]  # 0.6
    # USH1C (GeneID 10083) BP rows in the process subtrees:
    #   GO:0007605 sensory perception of sound IMP (exp) -> 0.6
    #   GO:0042491 / GO:0060122 IBA, ISS -> inner ear receptor cell differentiation 0.7*k and
    #     inner ear development 0.4*k (GO:0042472 IBA/ISS too); GO:0046549 retinal cone cell
    #     development IBA -> photoreceptor cell development 0.7*k. No wanted Reactome pathway.
    r = row(t, "USH1C")
    want = 1 - (1 - 0.6) * (1 - 0.7 * k) * (1 - 0.4 * k) * (1 - 0.7 * k)
    assert r["ciliary_function_score"] == pytest.approx(want)  # 0.897734
    assert r["function_go_processes"] == [
        "inner ear development", "inner ear receptor cell differentiation",
        "photoreceptor cell development", "sensory perception of sound",
    ]  # fmt: skip
    assert r["function_reactome_pathways"] == []
    # MYO7A (4647): GO:0007601 visual perception IMP 0.4; GO:0007605 IMP 0.6; GO:0042462 eye
    # photoreceptor cell development IC (not experimental) 0.7*k; GO:0060088 IEA -> inner ear
    # receptor cell differentiation 0.7*k and inner ear development 0.4*k
    want = 1 - 0.4 * 0.6 * (1 - 0.7 * k) * (1 - 0.7 * k) * (1 - 0.4 * k)
    assert row(t, "MYO7A")["ciliary_function_score"] == pytest.approx(want)  # 0.938641
    # IFT88: GO hits all computational (IC/IBA/ISS, 0.6) but Reactome Cilium Assembly (1.0) and
    # Intraflagellar transport (1.0) -> 1
    r = row(t, "IFT88")
    assert r["function_reactome_pathways"] == ["Cilium Assembly", "Intraflagellar transport"]
    assert r["ciliary_function_score"] == 1.0


def test_ciliary_function_go_only_without_reactome() -> None:
    onto = read_go_tsv(paths()["go_terms"], paths()["go_edges"])
    g2go = ncbi.read_gene2go(paths()["gene2go"])
    t, _ = cl.ciliary_function_layer(genes(), aliases(), g2go, onto, None, CF)
    k = CF["go_computational_factor"]
    # IFT88 without Reactome: cilium assembly / organization / intraciliary transport, all
    # computational (1.0*k each), inner ear receptor cell differentiation (GO:0060122 IBA, 0.7*k)
    # and inner ear development (0.4*k)
    want = 1 - (1 - k) ** 3 * (1 - 0.7 * k) * (1 - 0.4 * k)
    assert row(t, "IFT88")["ciliary_function_score"] == pytest.approx(want)


def test_ciliary_function_null_and_zero() -> None:
    t = layer("ciliary_function")
    # no gene2go row (GPR36, ESA4) or only ND (DLEU7), and in no Reactome pathway -> NULL
    for sym in ("GPR36", "ESA4", "DLEU7"):
        assert row(t, sym)["ciliary_function_score"] is None
    # BP annotations, none ciliary; Reactome pathways, none wanted -> 0
    for sym in ("ACTB", "GAPDH", "FUT3"):
        assert row(t, sym)["ciliary_function_score"] == 0.0
    # covered by Reactome alone: ACTB without its gene2go rows, in the phototransduction cascade
    g2go = ncbi.read_gene2go(paths()["gene2go"]).filter(pl.col("ncbi_gene_id") != 60)
    rx = pl.DataFrame({"pathway": ["The phototransduction cascade", "Axon guidance"],
                       "pathway_id": ["R-HSA-2514856", "R-HSA-422475"],
                       "symbol": ["ACTB", "GAPDH"]})  # fmt: skip
    t2 = _cf(g2go, rx)
    r = row(t2, "ACTB")
    assert r["ciliary_function_score"] == pytest.approx(0.6)
    assert r["function_go_processes"] == []
    assert r["function_reactome_pathways"] == ["The phototransduction cascade"]
    # GPR36 in an unwanted pathway only: covered, 0
    rx3 = pl.DataFrame({"pathway": ["Axon guidance"], "pathway_id": ["R-HSA-422475"],
                        "symbol": ["GPR36"]})  # fmt: skip
    assert row(_cf(None, rx3), "GPR36")["ciliary_function_score"] == 0.0


def test_layer_step_context_is_used() -> None:
    # the network layer through layer_step with an empty seed list: every covered gene has
    # fraction 0 (p0 = 0), so every score is 0 - proves layer_step passes context seeds through
    ctx = {**context(), "seeds": []}
    t, _ = steps.layer_step("network", paths(), genes(), config(), None, ctx)
    covered = t.filter(pl.col("network_degree").is_not_null())
    assert covered.height == 8 and (covered["network_score"] == 0.0).all()
