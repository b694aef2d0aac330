"""Composite score, tiers, ranking, evidence summaries and the HTML candidate table."""

from __future__ import annotations

import json

import polars as pl
import pytest
from core_fixtures import config
from usher_pipeline.html_table import candidates_html
from usher_pipeline.scoring import (
    SCORED_LAYERS,
    assign_tiers,
    composite_scores,
    rank,
    score_genes,
    summarize_evidence,
)


def frame(rows: dict[str, list]) -> pl.DataFrame:
    """Sub-score frame: gene_id + every <layer>_score (missing layers all NULL)."""
    n = len(rows["gene_id"])
    cols = {"gene_id": rows["gene_id"]}
    for layer in SCORED_LAYERS:
        cols[f"{layer}_score"] = rows.get(layer, [None] * n)
    return pl.DataFrame(cols, schema={"gene_id": pl.String, **{
        f"{layer}_score": pl.Float64 for layer in SCORED_LAYERS}})  # fmt: skip


def test_prior_shrinkage_examples_of_the_docstring() -> None:
    df = frame({"gene_id": ["HGNC:1", "HGNC:2"],
                "localization": [1.0, 0.8], "mouse_phenotype": [None, 0.8],
                "human_phenotype": [None, 0.8]})  # fmt: skip
    w = {"localization": 1.0, "mouse_phenotype": 1.0, "human_phenotype": 1.0}
    out = composite_scores(df, w, 0.0, 1.0, 0.2)
    assert out["score"].to_list() == pytest.approx([0.5, 0.6])
    assert out["weight_available"].to_list() == [1.0, 3.0]
    assert out["layers_available"].to_list() == [1, 3]
    assert out["evidence_count"].to_list() == [1, 3]
    assert out["contrib_localization"].to_list() == pytest.approx([0.5, 0.2])


def test_prior_mean_pulls_toward_m() -> None:
    df = frame({"gene_id": ["HGNC:1", "HGNC:2"], "localization": [1.0, None]})
    out = composite_scores(df, {"localization": 1.0}, 0.1, 2.0, 0.2)
    # (1*1 + 2*0.1) / (1 + 2) = 0.4; a gene with no data gets the prior mean
    assert out["score"].to_list() == pytest.approx([0.4, 0.1])


def test_null_layers_are_excluded_from_the_denominator() -> None:
    df = frame({"gene_id": ["HGNC:1", "HGNC:2"], "localization": [0.8, 0.8],
                "mouse_phenotype": [None, 0.0]})  # fmt: skip
    w = {"localization": 1.0, "mouse_phenotype": 0.8}
    out = composite_scores(df, w, 0.0, 1.0, 0.2)
    # NULL: 0.8 / (1 + 1) = 0.4; a measured 0 counts: 0.8 / (1 + 0.8 + 1)
    assert out["score"].to_list() == pytest.approx([0.4, 0.8 / 2.8])
    assert out["layers_available"].to_list() == [1, 2]


def test_zero_weight_layers_are_ignored_and_missing_columns_raise() -> None:
    df = frame({"gene_id": ["HGNC:1"], "localization": [0.6], "literature": [1.0]})
    out = composite_scores(df, {"localization": 1.0, "literature": 0.0}, 0.0, 1.0, 0.2)
    assert out["score"].to_list() == pytest.approx([0.3])
    assert "contrib_literature" not in out.columns
    with pytest.raises(KeyError, match="constraint_score"):
        composite_scores(df.drop("constraint_score"), {"constraint": 0.2}, 0.0, 1.0, 0.2)


def test_evidence_layers_restriction() -> None:
    df = frame({"gene_id": ["HGNC:1"], "localization": [0.5], "constraint": [0.9],
                "mouse_phenotype": [0.19]})  # fmt: skip
    w = {"localization": 1.0, "constraint": 0.2, "mouse_phenotype": 0.8}
    assert composite_scores(df, w, 0.0, 1.0, 0.2)["evidence_count"][0] == 2
    restricted = composite_scores(df, w, 0.0, 1.0, 0.2, ["localization", "mouse_phenotype"])
    assert restricted["evidence_count"][0] == 1
    # constraint still adds to the score: (0.5 + 0.18 + 0.152) / (1 + 0.2 + 0.8 + 1)
    assert restricted["score"][0] == pytest.approx(0.832 / 3.0)


def test_tiers_at_and_around_thresholds() -> None:
    tiers = config()["scoring"]["tiers"]  # HIGH 0.4 / 3, MEDIUM 0.2 / 2
    df = pl.DataFrame(
        {"score": [0.4, 0.39999, 0.9, 0.2, 0.19999, 0.9],
         "evidence_count": [3, 3, 2, 2, 2, 1]}
    )  # fmt: skip
    assert assign_tiers(df, tiers)["tier"].to_list() == [
        "HIGH", "MEDIUM", "MEDIUM", "MEDIUM", "LOW", "LOW"]  # fmt: skip


def test_rank_ties_broken_by_gene_id() -> None:
    df = pl.DataFrame({"gene_id": ["HGNC:9", "HGNC:10", "HGNC:2", "HGNC:5"],
                       "score": [0.5, 0.5, 0.7, None]})  # fmt: skip
    out = rank(df)
    assert out["gene_id"].to_list() == ["HGNC:2", "HGNC:10", "HGNC:9", "HGNC:5"]
    assert out["rank"].to_list() == [1, 2, 3, 4]


def test_score_genes_with_the_project_config() -> None:
    sc = config()["scoring"]
    df = frame({"gene_id": ["HGNC:12601", "HGNC:4141"],
                "localization": [0.6, 0.0], "mouse_phenotype": [0.85, 0.5],
                "human_phenotype": [0.84, None], "protein_features": [0.0, 0.0],
                "constraint": [None, 0.52]})  # fmt: skip
    out = score_genes(df, sc)
    # USH2A-like: (0.6*1 + 0.85*0.8 + 0.84*0.6 + 0) / (1 + 0.8 + 0.6 + 0.5 + 1)
    s1 = (0.6 + 0.68 + 0.504) / 3.9
    s2 = (0.4 + 0.52 * 0.2) / (1 + 0.8 + 0.5 + 0.2 + 1)
    row = {r["gene_id"]: r for r in out.iter_rows(named=True)}
    assert row["HGNC:12601"]["score"] == pytest.approx(s1)
    assert row["HGNC:4141"]["score"] == pytest.approx(s2)
    assert row["HGNC:12601"]["tier"] == "HIGH" and row["HGNC:12601"]["rank_all"] == 1
    assert row["HGNC:4141"]["evidence_count"] == 1  # constraint is not evidence
    assert row["HGNC:4141"]["tier"] == "LOW"


def test_summarize_evidence_strings() -> None:
    df = frame({"gene_id": ["HGNC:1", "HGNC:2"], "localization": [0.6, None],
                "mouse_phenotype": [0.854, 0.1], "human_phenotype": [None, None]})  # fmt: skip
    w = {"localization": 1.0, "mouse_phenotype": 0.8, "human_phenotype": 0.6}
    out = summarize_evidence(df, w, 0.2)
    assert out["evidence_summary"].to_list() == ["localization 0.6; mouse_phenotype 0.85", ""]
    assert out["evidence_gaps"].to_list() == [
        "human_phenotype", "localization, human_phenotype"]  # fmt: skip


def test_candidates_html_escapes_and_keeps_every_row() -> None:
    cands = pl.DataFrame(
        {"rank": [2, 1, 3], "symbol": ["</script><b>X&Y</b>", "USH2A", "GAPDH"],
         "gene_id": ["HGNC:1", "HGNC:12601", "HGNC:4141"], "tier": ["LOW", "HIGH", "LOW"],
         "score": [0.1, 0.5, 0.05], "localization_score": [None, 0.6, 0.0]}
    )  # fmt: skip
    page = candidates_html(cands, 2)
    assert "<b>X&Y</b>" not in page.split("candidates-data")[0]
    assert page.count("</script>") == 2  # the symbol cannot close the data block
    blob = page.split('id="candidates-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob.replace("<\\/", "</"))
    assert [r[1] for r in data["rows"]] == ["USH2A", "</script><b>X&Y</b>", "GAPDH"]  # all, by rank
    assert "All 3 candidate genes" in page
    loc = len(data["fields"]) + data["layers"].index("localization")
    assert [r[loc] for r in data["rows"]] == [0.6, None, 0.0]  # NULL stays unknown, not 0
    assert 'id="search"' in page and 'id="tier"' in page and 'id="layer"' in page
    assert "<script src" not in page and "http" not in page  # offline, self-contained
