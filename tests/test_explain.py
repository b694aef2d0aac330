"""``usher-pipeline explain``: identifier resolution, per-layer text, CLI errors, HTML breakdown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from usher_pipeline import explain as ex
from usher_pipeline.cli import main
from usher_pipeline.html_table import candidates_html

STUDIES = [f"Study{i:02d} cilia proteome" for i in range(20)]  # 20 > 15: truncated
GENES = {
    # gene_id: (symbol, ensembl)
    "HGNC:12601": ("USH2A", "ENSG00000042781"),
    "HGNC:29523": ("CFAP20", "ENSG00000070761"),
    "HGNC:4141": ("GAPDH", "ENSG00000111640"),
}


USHER = {  # Usher-view columns of USH2A, CFAP20, GAPDH (test values, not real data)
    "usher_score": [0.97, 0.41, 0.52],
    "usher_rank": [None, 2, 1],
    "usher_rank_all": [1, 3, 2],
    "usher_tier": ["HIGH", "MEDIUM", "LOW"],
    "usher_sensory_logodds": [2.5, 0.9, None],
    "usher_sensory_count": [4, 2, 0],
    "usher_contrib_photoreceptor": [1.2, 0.7, None],
    "usher_contrib_hair_cell": [0.8, None, None],
    "usher_contrib_eye_phenotype": [0.3, 0.0, None],
    "usher_contrib_ear_phenotype": [0.2, 0.2, None],
    "usher_contrib_usher_network": [0.0, None, None],
}
RETINA = {  # the expression layer's retina single-cell columns (test values)
    "retina_rod_log2fc": [1.5, None, None],
    "retina_rod_pct": [0.85, None, None],
    "retina_cone_log2fc": [None, 0.9, None],
    "retina_cone_pct": [None, 0.4, None],
    "retina_other_cell_types": [["Muller glia"], [], []],
    "retina_photoreceptor_score": [1.0, 0.9, 0.0],
}


def build_results(root: Path, usher: bool = False) -> Path:
    ids = list(GENES)
    (root / "universe").mkdir(parents=True)
    (root / "layers").mkdir()
    pl.DataFrame(
        {
            "gene_id": ids,
            "symbol": [GENES[g][0] for g in ids],
            "hgnc_id": ids,
            "ensembl_gene": [GENES[g][1] for g in ids],
            "description": ["usherin", "cilia and flagella associated protein 20", "GAPDH"],
        }
    ).write_parquet(root / "universe" / "genes.parquet")
    aliases = [(g, GENES[g][0], "symbol") for g in ids] + [
        ("HGNC:29523", "C16orf80", "hgnc_previous"),
        ("HGNC:29523", "AMB1", "hgnc_alias"),
        ("HGNC:4141", "AMB1", "hgnc_alias"),
    ]
    pl.DataFrame(aliases, schema=["gene_id", "alias", "alias_type"], orient="row").write_parquet(
        root / "universe" / "aliases.parquet"
    )
    scores = {layer: [0.5, 0.4, None] for layer in ex.LAYERS}
    scores["network"] = [0.9, 0.7, None]
    scores["ht_studies"] = [0.6, 0.8, None]
    scores["annotation"] = [0.9, 0.3, 0.95]
    scores["literature"] = [0.9, 0.2, 0.1]
    ev = {
        "rank_all": [1, 2, 3],
        "rank": [None, 1, 2],
        "gene_id": ids,
        "symbol": [GENES[g][0] for g in ids],
        "score": [0.91, 0.62, 0.05],
        "tier": ["HIGH", "HIGH", "LOW"],
        "is_known": [True, False, False],
        "is_usher": [True, False, False],
        "is_cilia_gold_standard": [False, None, None],
        **{f"{layer}_score": v for layer, v in scores.items()},
        # contrib_network deliberately missing: printed as "—"
        **{
            f"contrib_{layer}": [0.05, 0.12 if layer == "localization" else 0.01, None]
            for layer in ex.LAYERS
            if layer != "network"
        },
    }
    ev["contrib_constraint"] = [0.0, -0.25, None]
    if usher:
        ev.update(USHER)
    pl.DataFrame(ev).write_parquet(root / "gene_evidence.parquet")

    def layer(name: str, cols: dict) -> None:
        pl.DataFrame({"gene_id": ids, **cols, f"{name}_score": scores[name]}).write_parquet(
            root / "layers" / f"{name}.parquet"
        )

    layer("localization", {"hpa_cilia_flag": [True, True, None],
                           "hpa_ciliary_locations": [["Primary cilium"], ["Basal body",
                                                     "Primary cilium"], None]})  # fmt: skip
    layer("ciliary_function", {"function_go_processes": [["cilium assembly"], [], None]})
    layer(
        "network",
        {
            "network_degree": [12, 7, None],
            "network_weighted_degree": [5.5, 3.25, None],
            "network_neighbours": [["HGNC:29523"], ["HGNC:12601", "HGNC:77777"], None],
            "network_neighbour_weights": [[0.9], [0.9, 0.8], None],
            "network_known_neighbours": [["CFAP20"], ["USH2A", "BBS1"], None],
            "network_n_known": [1, 2, None],
            "network_known_fraction": [0.1, 0.29, None],
        },
    )
    layer(
        "ht_studies",
        {
            "ht_studies": [["Study00 cilia proteome"], STUDIES, []],
            "ht_study_names": [["Study00"], [x.split()[0] for x in STUDIES], []],
            "ht_n_studies": [1, 20, 0],
        },
    )
    # phylogeny: no layer table at all (skipped gracefully)
    for name in ("expression", "mouse_phenotype", "human_phenotype", "protein_features"):
        layer(name, {f"{name}_raw": [1.5, 2.5, None]})
    if usher:
        layer("expression", RETINA)
    layer("literature", {"pubmed_total": [800, 12, 30000], "pubmed_total_log1p": [6.7, 2.6, 10.3]})
    layer("constraint", {"loeuf": [0.8, 1.2, None], "pli": [0.0, 0.01, None]})
    layer("annotation", {"go_n_terms": [40, 5, 300]})
    layer("cilia_atlas", {"atlas_in_hpa_v25": [False, True, False],
                          "atlas_compartments": [None, ["Basal body", "Primary cilium"], None],
                          "atlas_reliability": [None, "Approved", None],
                          "atlas_imaged_by_hpa_subcellular": [False, True, True]})  # fmt: skip
    layer("inner_ear", {"inner_ear_mouse_gene": ["Ush2a", "Cfap20", "Gapdh"],
                        "inner_ear_top_pair": ["utricle P0", "cochlea P7", "cochlea E16"],
                        "inner_ear_top_log2fc": [3.866, 1.0, -0.5],
                        "inner_ear_mean_log2fc": [2.979, 0.5, -1.0],
                        "inner_ear_log2fc_cochlea_P7": [2.63, 1.0, -1.5]})  # fmt: skip
    return root


@pytest.fixture
def res(tmp_path: Path) -> Path:
    return build_results(tmp_path / "results")


@pytest.mark.parametrize(
    ("query", "gene_id", "match"),
    [
        ("CFAP20", "HGNC:29523", "symbol"),
        ("cfap20", "HGNC:29523", "symbol_case_insensitive"),
        ("HGNC:29523", "HGNC:29523", "hgnc_id"),
        ("hgnc:4141", "HGNC:4141", "hgnc_id"),
        ("ENSG00000070761", "HGNC:29523", "ensembl_gene"),
        ("ENSG00000111640.17", "HGNC:4141", "ensembl_gene"),
        ("C16orf80", "HGNC:29523", "hgnc_previous"),
        ("USH2A", "HGNC:12601", "symbol"),
    ],
)
def test_lookup(res: Path, query: str, gene_id: str, match: str) -> None:
    info = ex.explain_gene(res, query)
    assert (info["gene_id"], info["match_type"]) == (gene_id, match)
    assert info["symbol"] == GENES[gene_id][0]
    assert info["hgnc_id"] == gene_id


def test_candidate_text_shows_raw_evidence(res: Path) -> None:
    text = ex.format_explanation(ex.explain_gene(res, "C16orf80"))
    assert text.startswith("CFAP20 (HGNC:29523, ENSG00000070761)")
    assert "query: C16orf80 (matched by hgnc_previous)" in text
    assert "known gene: no" in text
    assert "rank: 1 of 2 candidates (rank_all: 2 of 3 genes)" in text
    assert "tier: HIGH   score: 0.620" in text
    assert "network_known_neighbours: USH2A, BBS1" in text
    assert "network_n_known: 2" in text and "network_degree: 7" in text
    assert "HGNC:77777" not in text  # raw neighbour-ID lists are not printed
    assert "network_neighbour_weights" not in text
    assert "Study03 cilia proteome" in text
    assert "Study14 cilia proteome, … (+5 more)" in text and "Study15" not in text
    assert "hpa_ciliary_locations: Basal body, Primary cilium" in text
    assert "hpa_cilia_flag: yes" in text
    # layer names in words, not internal identifiers
    assert "\n  ciliary localization (GO, HPA): sub-score 0.400; contribution +0.120" in text
    assert "\n  loss-of-function constraint: sub-score 0.400; contribution -0.250" in text
    assert "\n  protein network (STRING): sub-score 0.700; contribution —" in text  # no contrib col
    assert "\n  GO annotation count (study-bias covariate): sub-score 0.300" in text
    assert "\n  cilia screens and proteomes: sub-score 0.800" in text
    assert "pubmed_total: 12 (study-bias covariate)" in text
    assert "\n  co-evolution with cilia: sub-score 0.400" in text and "layer table missing" in text
    for layer in ex.LAYERS:
        assert f"\n  {layer}:" not in text and f"\n  {layer} (" not in text
    # layers in the documented order
    pos = [text.index(f"\n  {ex.layer_label(layer)}: sub-score") for layer in ex.LAYERS]
    assert pos == sorted(pos)
    assert text.rstrip().endswith("unknown layers: none")


def test_null_layers_are_unknown(res: Path) -> None:
    info = ex.explain_gene(res, "GAPDH")
    text = ex.format_explanation(info)
    unknown = [layer for layer in ex.LAYERS if layer not in ("annotation", "literature")]
    assert info["unknown_layers"] == unknown
    words = ", ".join(ex.layer_words(layer) for layer in unknown)
    assert text.rstrip().endswith("unknown layers: " + words)
    assert "ciliary localization (GO, HPA): sub-score unknown: source does not cover" in text
    assert "network_degree" not in text  # null raw values are not listed
    assert "ht_n_studies: 0" in text and "ht_studies: none" in text
    # the bare study-name list (kept for re-seeding) is not repeated
    assert "ht_study_names" not in text


def test_known_gene_is_a_control(res: Path) -> None:
    info = ex.explain_gene(res, "ush2a")
    assert info["rank"] is None and info["is_known"] and info["is_usher"]
    text = ex.format_explanation(info)
    assert "known gene: yes (Usher gene): a positive control" in text
    assert "rank: NULL" in text
    assert "rank_all: 1 of 3 genes" in text


def test_cli_prints_and_json(res: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "CFAP20", "--results", str(res)]) == 0
    out = capsys.readouterr().out
    assert "network_known_neighbours: USH2A, BBS1" in out
    assert main(["explain", "HGNC:29523", "--results", str(res), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["symbol"] == "CFAP20" and data["rank"] == 1
    net = next(e for e in data["layers"] if e["layer"] == "network")
    assert ["network_known_neighbours", "USH2A, BBS1"] in net["evidence"]


def test_cli_unknown_identifier_exits_2(res: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "FOO1", "--results", str(res)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err
    assert "'FOO1' is not a gene of the universe" in err


def test_cli_ambiguous_alias_lists_candidates(
    res: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "AMB1", "--results", str(res)]) == 2
    err = capsys.readouterr().err
    assert "'AMB1' is ambiguous" in err
    assert "CFAP20 (HGNC:29523)" in err and "GAPDH (HGNC:4141)" in err


def test_cli_missing_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "CFAP20", "--results", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "gene_evidence.parquet" in err and "run the workflow first" in err


def test_format_value() -> None:
    assert (
        ex.format_value(list(range(17)))
        == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, … (+2 more)"
    )
    assert ex.format_value(False) == "no"
    assert ex.format_value(0.123456) == "0.1235"
    assert ex.format_value([]) == "none"


def _page_data(page: str) -> dict:
    """The JSON the candidate page embeds (every candidate, raw evidence of the first rows)."""
    blob = page.split('<script type="application/json" id="candidates-data">', 1)[1]
    return json.loads(blob.split("</script>", 1)[0].replace("<\\/", "</"))


def test_html_breakdown_has_evidence(res: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cands = pl.read_parquet(res / "gene_evidence.parquet").filter(~pl.col("is_known"))
    reads: list[str] = []
    scan = pl.scan_parquet
    monkeypatch.setattr(pl, "scan_parquet", lambda p, *a, **k: reads.append(str(p)) or scan(p))
    breakdown = ex.load_breakdowns(res, cands)
    assert len(reads) == len(ex.LAYERS) - 1  # one read per present layer table, not per gene
    assert set(breakdown) == {"HGNC:29523", "HGNC:4141"}
    page = candidates_html(cands, 10, breakdown)
    data = _page_data(page)
    assert "Per-layer breakdown" in page  # header of the expandable breakdown column
    assert set(data["raw"]) == {"HGNC:29523", "HGNC:4141"}
    raw = dict(zip(data["layers"], data["raw"]["HGNC:29523"], strict=True))
    assert "network_known_neighbours: USH2A, BBS1" in raw["network"]
    assert "Study03 cilia proteome" in raw["ht_studies"]
    assert "HGNC:77777" not in page
    assert "GO annotation count (study-bias covariate)" in data["layer_labels"]
    assert "protein network (STRING)" in data["layer_labels"]
    # contributions of every gene: CFAP20's localization contribution is +0.12
    row = next(r for r in data["rows"] if r[1] == "CFAP20")
    n_fields, n_layers = len(data["fields"]), len(data["layers"])
    contrib = dict(zip(data["layers"], row[n_fields + n_layers : -1], strict=True))
    assert contrib["localization"] == 0.12
    assert contrib["network"] is None  # no contrib_network column: shown as "—"
    gapdh = next(r for r in data["rows"] if r[1] == "GAPDH")
    assert gapdh[n_fields + data["layers"].index("network")] is None  # unknown, not 0
    assert "unknown: source does not cover this gene" in page  # label of NULL layers
    assert "HPA cilia atlas (v25)" in data["layer_labels"]
    assert "Inner-ear hair cells (Scheffer 2015)" in data["layer_labels"]
    assert "cochlear hair cells vs surrounding cells, P7: 2.0-fold" in raw["inner_ear"]
    assert "at the basal body and primary cilium (reliability Approved)" in raw["cilia_atlas"]


def test_html_raw_evidence_only_for_first_rows(res: Path) -> None:
    cands = pl.read_parquet(res / "gene_evidence.parquet").filter(~pl.col("is_known"))
    breakdown = ex.load_breakdowns(res, cands)
    data = _page_data(candidates_html(cands, 1, breakdown))
    assert [r[1] for r in data["rows"]] == ["CFAP20", "GAPDH"]  # every row, in rank order
    assert set(data["raw"]) == {"HGNC:29523"}  # raw evidence only for the first max_rows


def test_html_default_breakdown_from_columns(res: Path) -> None:
    cands = pl.read_parquet(res / "gene_evidence.parquet").filter(~pl.col("is_known"))
    page = candidates_html(cands, 10)
    data = _page_data(page)
    assert data["raw"] == {}
    assert len(data["rows"]) == 2
    assert "usher-pipeline explain" in page  # where the raw evidence is without a breakdown


# --- the sensory layers in words -------------------------------------------------------------


def test_sensory_layers_shown_by_name_in_words() -> None:
    assert ex.layer_label("cilia_atlas") == "HPA cilia atlas (v25)"
    assert ex.layer_label("inner_ear") == "Inner-ear hair cells (Scheffer 2015)"
    assert ex.layer_label("network") == "protein network (STRING)"


def test_cilia_atlas_reading() -> None:
    # CEP290's row of the HPA v25.1 atlas
    row = {"atlas_in_hpa_v25": True, "atlas_imaged_by_hpa_subcellular": True,
           "atlas_compartments": ["Basal body", "Centrosome", "Primary cilium"],
           "atlas_reliability": "Approved"}  # fmt: skip
    ev = dict(ex.raw_evidence("cilia_atlas", row))
    assert ev["in words"] == ("HPA v25 immunofluorescence places the protein at the basal body, "
                              "centrosome and primary cilium (reliability Approved)")  # fmt: skip
    assert ev["atlas_reliability"] == "Approved"
    imaged = {"atlas_in_hpa_v25": False, "atlas_imaged_by_hpa_subcellular": True}
    assert ex.layer_reading("cilia_atlas", imaged) == [
        ("in words", "imaged by the HPA subcellular atlas, with no cilium or centrosome location "
         "in HPA v25")]  # fmt: skip
    assert ex.layer_reading("cilia_atlas", {"atlas_in_hpa_v25": False,
                                            "atlas_imaged_by_hpa_subcellular": False}) == []  # fmt: skip


def test_inner_ear_reading_fold_change_organ_and_age() -> None:
    import math

    log2 = {f"inner_ear_log2fc_{o}_{a}": None for o in ("cochlea", "utricle")
            for a in ("E16", "P0", "P4", "P7")}  # fmt: skip
    log2["inner_ear_log2fc_cochlea_P7"] = math.log2(5.2)
    log2["inner_ear_log2fc_utricle_P0"] = math.log2(0.25)
    row = {"inner_ear_mouse_gene": "Myo7a", "inner_ear_top_pair": "cochlea P7",
           "inner_ear_top_log2fc": math.log2(5.2), "inner_ear_mean_log2fc": math.log2(2.0),
           "inner_ear_hc_cpm": 52.31, **log2}  # fmt: skip
    ev = ex.raw_evidence("inner_ear", row)
    words = dict(ev)
    assert words["in words"] == (
        "mouse Myo7a: hair cells vs surrounding cells, cochlea and utricle E16-P7 (geometric mean "
        "of the 8 organ x age pairs): 2.0-fold; strongest: cochlear hair cells vs surrounding "
        "cells, P7: 5.2-fold; hair-cell expression 52.3 CPM")  # fmt: skip
    assert words["cochlear hair cells vs surrounding cells"] == "P7: 5.2-fold"
    assert words["utricular hair cells vs surrounding cells"] == (
        "P0: 0.25-fold (lower in hair cells)")  # fmt: skip
    # the per-pair columns are said in words, not repeated one per line
    assert not any(col.startswith("inner_ear_log2fc_") for col, _ in ev)
    assert ex.layer_reading("inner_ear", {"inner_ear_mean_log2fc": None}) == []


# ------------------------------------------------------------------------------ both views

PHOTO = "photoreceptor expression (retina rod/cone markers)"
HAIR = "inner-ear hair-cell enrichment (mouse, Scheffer 2015)"


@pytest.fixture
def res_usher(tmp_path: Path) -> Path:
    return build_results(tmp_path / "results", usher=True)


def test_candidate_shows_both_views_sensory_features_and_retina(res_usher: Path) -> None:
    info = ex.explain_gene(res_usher, "CFAP20")
    assert info["views"]["cilia"] == {
        "title": "Cilia view", "question": "is this gene ciliary?", "score": 0.62, "rank": 1,
        "rank_all": 2, "tier": "HIGH", "n_candidates": 2}  # fmt: skip
    assert {k: info["views"]["usher"][k] for k in ("score", "rank", "rank_all", "tier")} == {
        "score": 0.41, "rank": 2, "rank_all": 3, "tier": "MEDIUM"}  # fmt: skip
    feats = info["usher_evidence"]["features"]
    assert [f["feature"] for f in feats] == [
        "photoreceptor", "hair_cell", "eye_phenotype", "ear_phenotype", "usher_network"]  # fmt: skip
    assert feats[0] == {"feature": "photoreceptor", "words": PHOTO, "contrib": 0.7}
    assert feats[1]["contrib"] is None  # unknown, not 0
    text = ex.format_explanation(info)
    assert "views (rank 1 = top):" in text
    assert "  Cilia view: is this gene ciliary?\n      rank 1 of 2 candidates; rank_all 2 of 3 " \
        "genes; tier HIGH; score 0.620" in text  # fmt: skip
    assert "  Usher view (sensory cilia): could it cause Usher-like deaf-blindness" in text
    assert "      rank 2 of 2 candidates; rank_all 3 of 3 genes; tier MEDIUM; score 0.410" in text
    assert re.search(re.escape(PHOTO) + r":\s+\+0\.700\n", text), text
    assert re.search(re.escape(HAIR) + r":\s+unknown\n", text), text
    assert re.search(r"eye / vision phenotype \(MGI mouse, HPO human\):\s+\+0\.000\n", text)
    assert "  total: +0.900 log-odds from 2 feature(s) with evidence" in text
    # the retina evidence in words: cell type, fold change, share of cells
    assert "retina (human retina single-cell markers; expression layer):" in text
    assert "  rod photoreceptors: not a marker (not enriched over the other retinal cells)" in text
    assert ("  cone photoreceptors: marker gene, log2 fold change 0.90 (1.9-fold) over the other"
            " retinal cells; expressed in 40% of cone cells") in text  # fmt: skip
    assert "  a marker of no other retinal cell type" in text
    # the sections come before the per-layer evidence, which still ends the text
    assert text.index("views (rank") < text.index("Usher view = cilia score x P(Usher-like | ciliary)") < text.index(
        "retina (human") < text.index("evidence layers (")  # fmt: skip
    assert text.rstrip().endswith("unknown layers: none")


def test_known_gene_in_both_views(res_usher: Path) -> None:
    info = ex.explain_gene(res_usher, "USH2A")
    text = ex.format_explanation(info)
    assert text.count("not ranked among the candidates (known gene)") == 2
    assert ("not ranked among the candidates (known gene); rank_all 1 of 3 genes; tier HIGH;"
            " score 0.970") in text  # fmt: skip
    assert info["retina"] == [
        "rod photoreceptors: marker gene, log2 fold change 1.50 (2.8-fold) over the other retinal"
        " cells; expressed in 85% of rod cells",
        "cone photoreceptors: not a marker (not enriched over the other retinal cells)",
        "also a marker of: Muller glia",
    ]
    assert "  total: +2.500 log-odds from 4 feature(s) with evidence" in text


def test_cli_json_of_both_views(res_usher: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GAPDH", "--results", str(res_usher), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["views"]["usher"]["rank"] == 1 and data["views"]["cilia"]["rank"] == 2
    assert data["usher_evidence"]["sensory_logodds"] is None
    assert data["usher_evidence"]["sensory_count"] == 0
    assert all(f["contrib"] is None for f in data["usher_evidence"]["features"])
    assert next(e for e in data["layers"] if e["layer"] == "network")["label"] == (
        "protein network (STRING)")  # fmt: skip
    assert data["retina"][0].startswith("rod photoreceptors: not a marker")


def test_results_without_the_usher_view(res: Path) -> None:
    info = ex.explain_gene(res, "CFAP20")
    assert list(info["views"]) == ["cilia"] and info["usher_evidence"] is None
    assert info["retina"] == []  # the layer table has no retina columns
    text = ex.format_explanation(info)
    assert "views (rank" not in text and "Usher" not in text and "retina (" not in text


def test_retina_words() -> None:
    assert ex.retina_words({"expression_score": 0.3}) == []  # no retina columns
    row = {"retina_rod_log2fc": 2.0, "retina_rod_pct": None, "retina_cone_log2fc": 1.0,
           "retina_cone_pct": 0.5, "retina_other_cell_types": ["Amacrine cells", "Bipolar"]}  # fmt: skip
    assert ex.retina_words(row) == [
        "rod photoreceptors: marker gene, log2 fold change 2.00 (4.0-fold) over the other"
        " retinal cells",
        "cone photoreceptors: marker gene, log2 fold change 1.00 (2.0-fold) over the other"
        " retinal cells; expressed in 50% of cone cells",
        "also a marker of: Amacrine cells, Bipolar",
    ]


def test_present_views_need_score_rank_and_tier() -> None:
    assert [v.key for v in ex.present_views(["score", "rank", "tier"])] == ["cilia"]
    assert [v.key for v in ex.present_views(["usher_score", "usher_tier"])] == ["cilia"]
    both = ex.present_views(["usher_score", "usher_rank", "usher_tier"])
    assert [v.key for v in both] == ["cilia", "usher"]
    cols = ["usher_contrib_zeta", "usher_contrib_hair_cell", "usher_contrib_photoreceptor"]
    assert ex.usher_feature_keys(cols) == ["photoreceptor", "hair_cell", "zeta"]
    assert ex.feature_words("zeta_new") == "zeta new"
    assert ex.layer_words("inner_ear_new") == "inner ear new"  # a layer without words yet


def test_html_table_carries_both_views(res_usher: Path) -> None:
    from usher_pipeline.html_table import USHER_FIELDS

    cands = pl.read_parquet(res_usher / "gene_evidence.parquet").filter(~pl.col("is_known"))
    page = candidates_html(cands, 10, ex.load_breakdowns(res_usher, cands))
    data = _page_data(page)
    assert data["fields"][-len(USHER_FIELDS) :] == list(USHER_FIELDS)
    assert [(v["key"], v["rank"], v["tier"], v["score"]) for v in data["views"]] == [
        ("cilia", "rank", "tier", "score"),
        ("usher", "usher_rank", "usher_tier", "usher_score"),
    ]
    assert data["usher_features"] == [
        "photoreceptor", "hair_cell", "eye_phenotype", "ear_phenotype", "usher_network"]  # fmt: skip
    assert data["usher_feature_labels"][:2] == [PHOTO, HAIR]
    assert set(data["usher_tiers"]) == {"HIGH", "MEDIUM", "LOW"}
    f = {name: i for i, name in enumerate(data["fields"])}
    n_fields, n_layers = len(data["fields"]), len(data["layers"])
    row = next(r for r in data["rows"] if r[f["symbol"]] == "CFAP20")
    assert [row[f[c]] for c in ("rank", "usher_rank", "usher_tier", "usher_score")] == [
        1, 2, "MEDIUM", 0.41]  # fmt: skip
    # the Usher features (NULL stays unknown), then the layers' evidence bit mask
    assert row[n_fields + 2 * n_layers : -1] == [0.7, None, 0.0, 0.2, None]
    assert isinstance(row[-1], int)
    # the switch (radio buttons, the cilia view first), the Usher view's tier legend
    assert '<input type="radio" name="view" value="cilia" checked> Cilia view</label>' in page
    assert '<input type="radio" name="view" value="usher"> Usher view (sensory cilia)' in page
    assert 'id="usher-tier-legend"' in page and "Tiers of the Cilia view" in page
    assert 'id="view-question">Cilia view: is this gene ciliary?<' in page
    # layer filter options in words
    assert '<option value="network">protein network (STRING)</option>' in page


def test_html_table_without_the_usher_view_is_unchanged(res: Path) -> None:
    cands = pl.read_parquet(res / "gene_evidence.parquet").filter(~pl.col("is_known"))
    page = candidates_html(cands, 10)
    data = _page_data(page)
    assert [v["key"] for v in data["views"]] == ["cilia"]
    assert "usher_features" not in data and "usher_rank" not in data["fields"]
    assert 'name="view"' not in page and "usher-tier-legend" not in page
    assert 'id="view-question"' not in page
    assert "<h2>Tiers</h2>" in page
