"""``usher-pipeline explain``: identifier resolution, per-layer text, CLI errors, HTML breakdown."""

from __future__ import annotations

import json
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


def build_results(root: Path) -> Path:
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
    layer("literature", {"pubmed_total": [800, 12, 30000], "pubmed_total_log1p": [6.7, 2.6, 10.3]})
    layer("constraint", {"loeuf": [0.8, 1.2, None], "pli": [0.0, 0.01, None]})
    layer("annotation", {"go_n_terms": [40, 5, 300]})
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
    assert "localization: sub-score 0.400; contribution +0.120" in text
    assert "constraint: sub-score 0.400; contribution -0.250" in text
    assert "network: sub-score 0.700; contribution —" in text  # contrib column missing
    assert "annotation (study-bias covariate): sub-score 0.300" in text
    assert "pubmed_total: 12 (study-bias covariate)" in text
    assert "phylogeny: sub-score 0.400" in text and "layer table missing" in text
    # layers in the documented order
    pos = [text.index(f"\n  {layer}") for layer in ex.LAYERS]
    assert pos == sorted(pos)
    assert text.rstrip().endswith("unknown layers: none")


def test_null_layers_are_unknown(res: Path) -> None:
    info = ex.explain_gene(res, "GAPDH")
    text = ex.format_explanation(info)
    unknown = [layer for layer in ex.LAYERS if layer not in ("annotation", "literature")]
    assert info["unknown_layers"] == unknown
    assert text.rstrip().endswith("unknown layers: " + ", ".join(unknown))
    assert "localization: sub-score unknown: source does not cover this gene" in text
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
    assert "annotation (study-bias covariate)" in data["layer_labels"]
    # contributions of every gene: CFAP20's localization contribution is +0.12
    row = next(r for r in data["rows"] if r[1] == "CFAP20")
    n_fields, n_layers = len(data["fields"]), len(data["layers"])
    contrib = dict(zip(data["layers"], row[n_fields + n_layers : -1], strict=True))
    assert contrib["localization"] == 0.12
    assert contrib["network"] is None  # no contrib_network column: shown as "—"
    gapdh = next(r for r in data["rows"] if r[1] == "GAPDH")
    assert gapdh[n_fields + data["layers"].index("network")] is None  # unknown, not 0
    assert "unknown: source does not cover this gene" in page  # label of NULL layers


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
