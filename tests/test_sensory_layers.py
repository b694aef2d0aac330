"""The two sensory-cilia layers on real excerpts (tests/fixtures/sensory/: rows copied unchanged
from the shared release files and the universe built from the snapshot), values checked by hand:

* cilia_atlas: HPA v25.1 cilia atlas rows of ACTN2, AIDA, AK5, RHOU, CCDC14; HPA v17 rows of AK5,
  MYO7A, GAPDH (imaged). Score = noisy-OR over compartments of compartment × reliability weight.
* inner_ear: Scheffer 2015 (GSE60019) rows of Bex1, Bex2, Gapdh, Hars (the 2015 symbol of Hars1),
  Myo7a; the real design file; MGI HMD rows of the human genes.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import polars as pl
import pytest
from core_fixtures import aliases as mini_aliases
from core_fixtures import config, gene_id, genes, paths
from usher_pipeline.errors import SourceFormatError
from usher_pipeline.layers.go_layers import localization_layer
from usher_pipeline.layers.sensory_layers import (
    cilia_atlas_layer,
    inner_ear_layer,
    inner_ear_pairs,
)
from usher_pipeline.parsers import hpa, ncbi, phenotypes, sensory
from usher_pipeline.parsers.ontology import read_go_tsv

FIX = Path(__file__).resolve().parent / "fixtures" / "sensory"


def _universe() -> pl.DataFrame:
    return pl.read_csv(FIX / "universe_excerpt.tsv", separator="\t",
                       schema_overrides={"ncbi_gene_id": pl.Int64})  # fmt: skip


def _aliases() -> pl.DataFrame:
    return pl.read_csv(FIX / "aliases_excerpt.tsv", separator="\t")


def _row(table: pl.DataFrame, symbol: str) -> dict:
    gid = _universe().filter(pl.col("symbol") == symbol)["gene_id"][0]
    return table.filter(pl.col("gene_id") == gid).row(0, named=True)


# --- cilia_atlas ------------------------------------------------------------------------------


def _atlas(params: dict | None = None) -> tuple[pl.DataFrame, dict]:
    imaged = hpa.read_hpa_genes(FIX / "hpa_v17_excerpt.tsv")["ensembl_gene"].to_list()
    atlas = sensory.read_hpa_v25_cilia(FIX / "hpa_v25_excerpt.csv")
    return cilia_atlas_layer(_universe(), _aliases(), atlas, imaged,
                             params or config()["layers"]["cilia_atlas"])  # fmt: skip


def test_atlas_weights_are_the_documented_ones() -> None:
    p = config()["layers"]["cilia_atlas"]
    assert {c["name"]: c["weight"] for c in p["compartments"]} == {
        "Primary cilium": 1.0, "Primary cilium tip": 1.0, "Primary cilium transition zone": 1.0,
        "Basal body": 0.9, "Centrosome": 0.5, "Centriolar satellite": 0.4}  # fmt: skip
    assert {c["level"]: c["weight"] for c in p["reliability"]} == {
        "Enhanced": 1.0, "Supported": 0.8, "Approved": 0.6, "Uncertain": 0.25}  # fmt: skip


def test_atlas_raw_values_and_scores_by_hand() -> None:
    t, stats = _atlas()
    actn2 = _row(t, "ACTN2")
    assert actn2["atlas_compartments"] == ["Primary cilium", "Primary cilium transition zone"]
    assert actn2["atlas_reliability"] == "Approved"
    assert actn2["atlas_main_locations"] == ["Actin filaments", "Focal adhesion sites"]
    assert actn2["atlas_additional_locations"] == [
        "Primary cilium", "Primary cilium transition zone", "Cytosol"]  # fmt: skip
    # two cilium compartments at Approved (0.6): 1 - (1 - 1.0*0.6)(1 - 1.0*0.6)
    assert actn2["cilia_atlas_score"] == pytest.approx(0.84)
    # AIDA: Basal body (0.9) + Primary cilium (1.0), Approved: 1 - (1 - 0.54)(1 - 0.6)
    assert _row(t, "AIDA")["cilia_atlas_score"] == pytest.approx(0.816)
    # AK5: Centriolar satellite (0.4), Supported (0.8)
    ak5 = _row(t, "AK5")
    assert ak5["atlas_compartments"] == ["Centriolar satellite"]
    assert ak5["cilia_atlas_score"] == pytest.approx(0.32)
    # RHOU: Primary cilium, Uncertain (0.25): the lowest reliability
    assert _row(t, "RHOU")["cilia_atlas_score"] == pytest.approx(0.25)
    # CCDC14: Basal body + Centriolar satellite + Primary cilium, Enhanced: 1 - 0.1*0.6*0 = 1
    assert _row(t, "CCDC14")["cilia_atlas_score"] == pytest.approx(1.0)
    assert stats["genes_in_atlas"] == 5 and stats["atlas_rows_unmapped"] == 0


def test_atlas_zero_only_for_genes_hpa_imaged_else_unknown() -> None:
    t, stats = _atlas()
    # MYO7A and GAPDH: in the HPA v17 subcellular table (imaged), not in the v25 cilia atlas
    for sym in ("MYO7A", "GAPDH"):
        r = _row(t, sym)
        assert r["atlas_in_hpa_v25"] is False and r["atlas_imaged_by_hpa_subcellular"] is True
        assert r["cilia_atlas_score"] == 0.0
    # GPR36, HARS1, BEX1: in neither table here -> unknown, not 0
    for sym in ("GPR36", "HARS1", "BEX1"):
        r = _row(t, sym)
        assert r["atlas_imaged_by_hpa_subcellular"] is False
        assert r["cilia_atlas_score"] is None
    # AK5 is in both: the v25 values win
    assert _row(t, "AK5")["atlas_imaged_by_hpa_subcellular"] is True
    assert stats["genes_zero_imaged_not_in_atlas"] == 2
    assert stats["genes_null"] == t.height - 5 - 2


def test_atlas_compartment_without_weight_is_an_error() -> None:
    p = config()["layers"]["cilia_atlas"]
    params = {**p, "compartments": [c for c in p["compartments"] if c["name"] != "Basal body"]}
    with pytest.raises(SourceFormatError, match=r"compartments \['Basal body'\]"):
        _atlas(params)


def test_atlas_parser_rejects_a_row_without_reliability(tmp_path: Path) -> None:
    rows = list(csv.reader((FIX / "hpa_v25_excerpt.csv").read_text().splitlines()))
    col = rows[0].index("Reliability (IF)")
    rows[2][col] = ""
    bad = tmp_path / "atlas.csv"
    with bad.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(
        SourceFormatError, match=r"1 row\(s\) with no value in 'Reliability \(IF\)'"
    ):
        sensory.read_hpa_v25_cilia(bad)


# --- localization keeps HPA v17/2022 only where v25 says nothing ------------------------------


def test_localization_drops_old_hpa_evidence_for_genes_in_the_v25_atlas() -> None:
    """CEP290 is in the v25 atlas (mini snapshot); GO weights set to 0 so that only the HPA parts
    count: without v25 its HPA v17 Centrosome (Supported 0.75) and HPA 2022 flags score; with
    v25 listing it they stay raw values and the gene (still covered) scores 0."""
    p = paths()
    w = {**config()["layers"]["localization"]["weights"], "go_experimental": 0.0,
         "go_computational": 0.0}  # fmt: skip
    flags, _ = hpa.read_hpa_cilia_flags(p["hpa_cilia_flags"])
    args = (genes(), ncbi.read_gene2go(p["gene2go"]),
            read_go_tsv(p["go_terms"], p["go_edges"]),
            config()["layers"]["localization"]["compartments"],
            hpa.read_hpa_subcellular(p["hpa_subcellular"]), hpa.read_hpa_genes(p["hpa_subcellular"]),
            flags, w)  # fmt: skip
    from usher_pipeline.layers.sensory_layers import atlas_gene_ids

    v25 = atlas_gene_ids(genes(), mini_aliases(), sensory.read_hpa_v25_cilia(p["hpa_v25_cilia"]))
    assert v25 == sorted([gene_id("CEP290"), gene_id("IFT88")])
    before, _ = localization_layer(*args)
    after, stats = localization_layer(*args, v25)
    cep = {t: r for t, r in (("before", before), ("after", after))}
    b = cep["before"].filter(pl.col("gene_id") == gene_id("CEP290")).row(0, named=True)
    a = cep["after"].filter(pl.col("gene_id") == gene_id("CEP290")).row(0, named=True)
    expected = 1 - (1 - 0.75 * w["hpa_location"]) * (1 - w["hpa_cilia_flag"]) * (
        1 - w["hpa_centrosome_flag"])  # fmt: skip
    assert b["localization_score"] == pytest.approx(expected)
    assert a["hpa_superseded_by_v25"] is True and a["localization_score"] == 0.0
    assert a["hpa_location_confidence"] == 0.75  # raw value kept
    # a gene the atlas does not list keeps its old HPA evidence
    g_b = before.filter(pl.col("gene_id") == gene_id("GAPDH"))["localization_score"][0]
    g_a = after.filter(pl.col("gene_id") == gene_id("GAPDH"))
    assert g_a["hpa_superseded_by_v25"][0] is False
    assert g_a["localization_score"][0] == g_b
    assert stats["genes_hpa_superseded_by_v25"] == 2


# --- inner_ear --------------------------------------------------------------------------------

# The design file by hand: organ x age -> (hair-cell samples, surrounding-cell samples)
PAIRS = {
    ("cochlea", "E16"): (["GSM1463872"], ["GSM1463871"]),
    ("cochlea", "P0"): (["GSM1463876", "GSM1463877"], ["GSM1463875"]),
    ("cochlea", "P4"): (["GSM1463882"], ["GSM1463881"]),
    ("cochlea", "P7"): (["GSM1463886"], ["GSM1463885"]),
    ("utricle", "E16"): (["GSM1463874"], ["GSM1463873"]),
    ("utricle", "P0"): (["GSM1463879", "GSM1463880"], ["GSM1463878"]),
    ("utricle", "P4"): (["GSM1463884"], ["GSM1463883"]),
    ("utricle", "P7"): (["GSM1463888"], ["GSM1463887"]),
}


def _cpm_rows() -> dict[str, dict[str, float]]:
    with (FIX / "gse60019_cpm_excerpt.tsv").open() as fh:
        return {r["gene"]: {k: float(v) for k, v in r.items() if k != "gene"}
                for r in csv.DictReader(fh, delimiter="\t")}  # fmt: skip


def _by_hand(mouse: str, p: float = 1.0) -> dict:
    v = _cpm_rows()[mouse]
    mean = lambda xs: sum(v[s] for s in xs) / len(xs)  # noqa: E731
    fc = {k: math.log2((mean(hc) + p) / (mean(sc) + p)) for k, (hc, sc) in PAIRS.items()}
    return {"fc": fc, "mean": sum(fc.values()) / 8,
            "hc": sum(mean(hc) for hc, _ in PAIRS.values()) / 8}  # fmt: skip


def _inner_ear(params: dict | None = None) -> tuple[pl.DataFrame, dict]:
    return inner_ear_layer(
        _universe(),
        _aliases(),
        phenotypes.read_mgi_hmd(FIX / "hmd_excerpt.rpt"),
        sensory.read_scheffer_cpm(FIX / "gse60019_cpm_excerpt.tsv"),
        sensory.read_scheffer_design(FIX / "gse60019_design.tsv"),
        params or {"pseudocount": 1.0, "full_score_log2fc": 3.0},
    )


def test_design_pairs_match_the_design_file() -> None:
    design = sensory.read_scheffer_design(FIX / "gse60019_design.tsv")
    pairs = inner_ear_pairs(design, design["sample"].to_list())
    assert {(p["organ"], p["age"]): (p["hc"], p["sc"]) for p in pairs} == PAIRS
    assert [p["column"] for p in pairs][:2] == ["inner_ear_log2fc_cochlea_E16",
                                                 "inner_ear_log2fc_cochlea_P0"]  # fmt: skip


def test_myo7a_enrichment_by_hand() -> None:
    t, _ = _inner_ear()
    r = _row(t, "MYO7A")
    # cochlea P7: HC GSM1463886 58.60113787335544, SC GSM1463885 0.6077818709229744, +1 CPM
    assert r["inner_ear_log2fc_cochlea_P7"] == pytest.approx(
        math.log2((58.60113787335544 + 1) / (0.6077818709229744 + 1)))  # fmt: skip
    # utricle P0: two hair-cell samples averaged, one surrounding-cell sample
    assert r["inner_ear_log2fc_utricle_P0"] == pytest.approx(
        math.log2(((59.19860166064854 + 54.743067995809646) / 2 + 1) / (0.1482270273927156 + 1))
    )
    h = _by_hand("Myo7a")
    assert r["inner_ear_mean_log2fc"] == pytest.approx(h["mean"])
    assert r["inner_ear_hc_cpm"] == pytest.approx(h["hc"])
    top = max(h["fc"], key=h["fc"].get)
    assert r["inner_ear_top_pair"] == f"{top[0]} {top[1]}"
    assert r["inner_ear_top_log2fc"] == pytest.approx(h["fc"][top])
    assert r["inner_ear_mouse_gene"] == "Myo7a" and r["inner_ear_ortholog_match"] == "MGI"
    assert h["mean"] > 3  # a strongly hair-cell-enriched Usher gene: score capped at 1
    assert r["inner_ear_score"] == 1.0


def test_several_orthologs_take_the_one_most_expressed_in_hair_cells() -> None:
    """MGI lists Bex1 and Bex2 as mouse orthologs of both BEX1 and BEX2; both are measured. The
    rule keeps the ortholog with the highest mean hair-cell CPM (Bex2) for each human gene."""
    t, stats = _inner_ear()
    bex1, bex2 = _by_hand("Bex1"), _by_hand("Bex2")
    assert bex2["hc"] > bex1["hc"]
    for sym in ("BEX1", "BEX2"):
        r = _row(t, sym)
        assert r["inner_ear_mouse_orthologs"] == ["Bex1", "Bex2"]
        assert r["inner_ear_mouse_gene"] == "Bex2"
        assert r["inner_ear_hc_cpm"] == pytest.approx(bex2["hc"])
        assert r["inner_ear_mean_log2fc"] == pytest.approx(bex2["mean"])
        assert r["inner_ear_score"] == pytest.approx(min(max(bex2["mean"] / 3.0, 0.0), 1.0))
    assert stats["genes_with_several_measured_orthologs"] == 2


def test_former_mouse_symbol_maps_through_the_human_symbol() -> None:
    """The 2015 matrix names Hars (MGI now Hars1, not in the matrix): HARS is a former symbol of
    human HARS1, whose MGI ortholog is not measured under its current name."""
    t, stats = _inner_ear()
    r = _row(t, "HARS1")
    assert r["inner_ear_mouse_gene"] == "Hars"
    assert r["inner_ear_ortholog_match"] == "former mouse symbol"
    assert r["inner_ear_mean_log2fc"] == pytest.approx(_by_hand("Hars")["mean"])
    assert stats["mouse_genes_mapped_by_former_symbol"] == 1


def test_unknown_versus_zero() -> None:
    t, stats = _inner_ear()
    # GAPDH: measured (Gapdh), depleted in hair cells -> 0, not unknown
    g = _row(t, "GAPDH")
    assert _by_hand("Gapdh")["mean"] < 0
    assert g["inner_ear_mean_log2fc"] == pytest.approx(_by_hand("Gapdh")["mean"])
    assert g["inner_ear_score"] == 0.0
    # A1BG: MGI ortholog A1bg, not in the matrix (not measured) -> unknown
    # SLC25A6: no mouse ortholog in MGI -> unknown
    for sym in ("A1BG", "SLC25A6"):
        r = _row(t, sym)
        assert r["inner_ear_score"] is None and r["inner_ear_mean_log2fc"] is None
    assert stats["genes_zero"] == 1
    assert stats["genes_measured"] == 5  # MYO7A, BEX1, BEX2, HARS1, GAPDH


def test_pseudocount_and_full_score_are_config() -> None:
    p = config()["layers"]["inner_ear"]
    assert (p["pseudocount"], p["full_score_log2fc"]) == (1.0, 3.0)
    t, _ = _inner_ear({"pseudocount": 0.1, "full_score_log2fc": 10.0})
    h = _by_hand("Bex2", 0.1)
    r = _row(t, "BEX2")
    assert r["inner_ear_mean_log2fc"] == pytest.approx(h["mean"])
    assert r["inner_ear_score"] == pytest.approx(h["mean"] / 10.0)


def test_design_pair_without_surrounding_cells_is_an_error(tmp_path: Path) -> None:
    lines = (FIX / "gse60019_design.tsv").read_text().splitlines(keepends=True)
    bad = tmp_path / "design.tsv"
    bad.write_text("".join(ln for ln in lines if "GSM1463885" not in ln))
    design = sensory.read_scheffer_design(bad)
    with pytest.raises(SourceFormatError, match="sensory_epithelium_of_spiral_organ P7"):
        inner_ear_pairs(design, design["sample"].to_list())


def test_cpm_parser_rejects_negative_values(tmp_path: Path) -> None:
    text = (FIX / "gse60019_cpm_excerpt.tsv").read_text().replace("\t58.60113787335544", "\t-1")
    bad = tmp_path / "cpm.tsv"
    bad.write_text(text)
    with pytest.raises(SourceFormatError, match="GSM1463886"):
        sensory.read_scheffer_cpm(bad)
