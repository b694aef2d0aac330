"""The end-of-run summary, the start page (index.html, landing.rst) and `usher-pipeline summary`,
on a small results directory written here (validation files, candidates, a validate log)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from docutils.core import publish_parts
from usher_pipeline.cli import main
from usher_pipeline.landing import landing_html, landing_rst
from usher_pipeline.summary import (
    format_summary,
    read_run_summary,
    strongest_layers,
    tier_rules,
    tier_thresholds,
)

SCORING = {
    "method": "learned",
    "learned": {"tiers": {"HIGH": {"min_score": 0.5, "min_evidence": 3},
                          "MEDIUM": {"min_score": 0.2, "min_evidence": 2}}},
    "tiers": {"HIGH": {"min_score": 0.4, "min_evidence": 3},
              "MEDIUM": {"min_score": 0.2, "min_evidence": 2}},
}  # fmt: skip
GATES = {"min_usher_median_percentile": 0.5, "min_cv_recall": 0.5,
         "max_abs_spearman_publications": 0.9}  # fmt: skip
METRICS = {"usher_median_percentile": 0.62, "cv_recall_mean": 0.87,
           "abs_spearman_publications": 0.17, "n_candidates": 14}  # fmt: skip


def usher_columns(symbols: list[str]) -> dict[str, list]:
    """Usher-view columns for genes GENE<k> (test values, not real data): usher rank
    (5k mod 14) + 1, so GENE14, GENE3, GENE6 lead the Usher view while GENE1 leads the cilia
    view; tiers HIGH for usher ranks 1-3, MEDIUM 4-6; per-feature log-odds."""
    ks = [int(x.removeprefix("GENE")) for x in symbols]
    urank = [(5 * k) % 14 + 1 for k in ks]
    return {
        "usher_rank": urank,
        "usher_rank_all": [r + 2 for r in urank],
        "usher_score": [round(1 - 0.05 * r, 2) for r in urank],
        "usher_tier": ["HIGH" if r <= 3 else "MEDIUM" if r <= 6 else "LOW" for r in urank],
        "usher_sensory_logodds": [0.1 * k for k in ks],
        "usher_sensory_count": [k % 4 for k in ks],
        "usher_contrib_photoreceptor": [0.1 * k for k in ks],
        "usher_contrib_hair_cell": [None if k % 2 == 0 else 0.5 for k in ks],  # NULL: unknown
        "usher_contrib_eye_phenotype": [-0.3] * len(ks),
        "usher_contrib_ear_phenotype": [0.2 * (k % 3) for k in ks],
        "usher_contrib_usher_network": [0.0] * len(ks),
    }


def write_results(
    root: Path, failed: list[str] | None = None, status: str = "passed", usher: bool = False
) -> Path:
    (root / "validation").mkdir(parents=True)
    (root / "validation" / "validation.json").write_text(json.dumps(
        {"metrics": METRICS, "gates": GATES, "failed": failed or [], "gates_status": status}))  # fmt: skip
    rows = ["metric\tvalue\tgate\tpassed"] + [f"{k}\t{v}\t\t" for k, v in METRICS.items()]
    (root / "validation" / "metrics.tsv").write_text("\n".join(rows) + "\n")
    n = 14
    tiers = ["HIGH"] * 2 + ["MEDIUM"] * 5 + ["LOW"] * 7
    symbols = [f"GENE{n - i}" for i in range(n)]
    pl.DataFrame(
        {
            "rank": list(range(n, 0, -1)),  # stored out of order: the reader sorts by rank
            "gene_id": [f"HGNC:{100 + i}" for i in range(n)],
            "symbol": [f"GENE{n - i}" for i in range(n)],
            "tier": tiers[::-1],
            "score": [round(0.05 * (i + 1), 2) for i in range(n)],
            "evidence_count": [i % 5 for i in range(n)],
            "evidence_summary": [f"network 0.{i}" for i in range(n)],
            "network_score": [0.5] * n,
            "phylogeny_score": [0.2] * n,
            "contrib_network": [0.3] * n,
            "contrib_phylogeny": [0.6] * n,
            "contrib_localization": [-0.2] * n,
            **(usher_columns(symbols) if usher else {}),
        }
    ).write_parquet(root / "candidates.parquet")
    return root


def test_summary_reads_verdict_tiers_and_top(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res"), SCORING, top_n=3)
    assert s.status == "passed"
    assert [(g.metric, g.value, g.op, g.threshold, g.passed) for g in s.gates] == [
        ("usher_median_percentile", 0.62, ">=", 0.5, True),
        ("cv_recall_mean", 0.87, ">=", 0.5, True),
        ("abs_spearman_publications", 0.17, "<=", 0.9, True),
    ]
    assert s.tier_counts == {"HIGH": 2, "MEDIUM": 5, "LOW": 7}
    assert s.n_candidates == 14
    assert [r["symbol"] for r in s.top] == ["GENE1", "GENE2", "GENE3"]
    assert [r["rank"] for r in s.top] == [1, 2, 3]
    # strongest layers: largest positive contributions first, negative ones left out
    assert s.top[0]["strongest_layers"] == ["phylogeny", "network"]
    # learned model: the learned tiers' thresholds (0.5), not scoring.tiers (0.4)
    assert s.tier_rules["HIGH"].startswith("score >= 0.5 and evidence in >= 3 layers")
    text = format_summary(s, tmp_path / "res" / "report.html")
    assert "validation: PASSED" in text
    assert re.search(r"pass\s+cv_recall_mean = 0\.870 \(gate >= 0\.5\)", text), text
    assert re.search(r"HIGH\s+2\s+score >= 0\.5", text), text
    # strongest layers as words, not internal identifiers
    assert s.top[0]["strongest"] == ["co-evolution with cilia", "protein network (STRING)"]
    assert re.search(
        r"1\s+GENE1\s+0\.700\s+HIGH\s+co-evolution with cilia, protein network \(STRING\)", text
    ), text
    assert "Usher view" not in text  # results without the Usher view: the cilia view only
    assert f"report: {tmp_path / 'res' / 'report.html'}" in text


def test_tier_thresholds_follow_the_scoring_method() -> None:
    assert tier_thresholds(SCORING)["HIGH"]["min_score"] == 0.5
    assert tier_thresholds({**SCORING, "method": "weighted"})["HIGH"]["min_score"] == 0.4
    assert "score >= 0.2 and evidence in >= 2 layers" in tier_rules(SCORING["tiers"])["MEDIUM"]


def test_strongest_layers_fall_back_to_subscores() -> None:
    row = {"network_score": 0.3, "phylogeny_score": 0.9, "annotation_score": 1.0,
           "literature_score": None}  # fmt: skip
    assert strongest_layers(row) == ["phylogeny", "network"]


def test_failed_gate_is_said_plainly_with_where_the_details_are(tmp_path: Path) -> None:
    res = tmp_path / "res"
    (res / "logs").mkdir(parents=True)
    (res / "logs" / "validate.log").write_text(
        "2026-12-01T10:00:00 ERROR [usher_pipeline.rule.validate.ab] rule validate failed: "
        "Traceback (most recent call last):\n  File x\n"
        "usher_pipeline.errors.ValidationGateError: validation gate(s) failed:\n"
        "  cv_recall_mean = 0.3100, gate min_cv_recall requires >= 0.5\n"
        "  temporal_auroc = 0.5200, gate min_temporal_auroc requires >= 0.7\n"
        "(thresholds: config validation.gates; metrics stored in the state DB table "
        "'validation_metrics')\n"
    )
    s = read_run_summary(res, SCORING)
    assert s.status == "failed"
    assert s.failed == ["cv_recall_mean = 0.3100, gate min_cv_recall requires >= 0.5",
                        "temporal_auroc = 0.5200, gate min_temporal_auroc requires >= 0.7"]  # fmt: skip
    text = format_summary(s)
    assert text.startswith("validation: FAILED")
    assert "failed gate: cv_recall_mean = 0.3100, gate min_cv_recall requires >= 0.5" in text
    assert str(res / "logs" / "validate.log") in text
    assert "no candidate list" in text


def test_summary_of_a_results_dir_without_results(tmp_path: Path) -> None:
    s = read_run_summary(tmp_path, SCORING)
    assert s.status == "missing" and not s.tier_counts and not s.top
    assert "UNKNOWN" in format_summary(s)


def test_not_enforced_gates_on_a_gene_subset(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "r", status="not_applicable_gene_subset"))
    assert s.status == "not_applicable_gene_subset"
    assert all(g.passed is None for g in s.gates)
    assert "not enforced" in format_summary(s)


def test_landing_html_shows_verdict_tiers_top_and_links(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res"), SCORING, top_n=5)
    page = landing_html(s)
    assert page == landing_html(read_run_summary(tmp_path / "res", SCORING, top_n=5))  # stable
    assert 'id="verdict">PASSED: every validation gate passed<' in page
    assert re.search(r"<td>cv_recall_mean</td>.*?0\.870.*?&gt;= 0\.5.*?pass", page, re.S)
    for tier, n in (("HIGH", 2), ("MEDIUM", 5), ("LOW", 7)):
        assert f'data-tier="{tier}">{n}<' in page
    assert "score &gt;= 0.5 and evidence in &gt;= 3 layers" in page
    assert page.count("<td>GENE") == 5 and "<td>GENE6</td>" not in page
    assert 'href="candidates_table.html"' in page
    assert "<script" not in page and "http" not in page  # static, self-contained


def test_landing_html_of_a_failed_run(tmp_path: Path) -> None:
    res = write_results(tmp_path / "r", failed=["cv_recall_mean = 0.31, gate min_cv_recall"])
    s = read_run_summary(res, SCORING)
    page = landing_html(s)
    assert 'class="verdict failed"' in page and "FAILED" in page
    assert "<li>cv_recall_mean = 0.31, gate min_cv_recall</li>" in page
    assert re.search(r"<td>cv_recall_mean</td>.*?FAIL", page, re.S)
    assert "top-candidates" not in page  # nothing published from a failed validation


def test_landing_rst_renders_with_report_links(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res"), SCORING, top_n=3)
    rst = landing_rst(s)
    assert rst.startswith("{% raw %}")
    body = rst.replace("{% raw %}", "").replace("{% endraw %}", "")
    # the report appends these link targets (rst_links); define them here to render
    body += "\n.. _candidates_table.html: #t\n.. _index.html: #i\n"
    out = publish_parts(body, writer="html")["html_body"]
    assert "Validation: PASSED" in out
    assert "cv_recall_mean" in out and "0.870" in out
    assert re.search(r"<td>HIGH</td>\s*<td>2</td>", out), out
    assert 'href="#t"' in out and "GENE1" in out and "GENE4" not in out


def test_summary_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = write_results(tmp_path / "res")
    assert main(["summary", "--results", str(res), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "validation: PASSED" in out and "top 2 candidates" in out and "GENE2" in out
    assert main(["summary", "--results", str(res), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tier_counts"] == {"HIGH": 2, "MEDIUM": 5, "LOW": 7}
    assert main(["summary", "--results", str(tmp_path / "none")]) == 1


def test_run_ends_with_the_summary(tmp_path: Path, monkeypatch, capsys) -> None:
    """`usher-pipeline run` (snakemake mocked): one-line-per-job logger, then the summary."""
    from usher_pipeline import cli

    res = write_results(tmp_path / "res")
    calls: list[list[str]] = []
    monkeypatch.setattr(cli, "_call", lambda cmd: calls.append(cmd) or 0)
    monkeypatch.setattr(cli, "recover_dead_run", lambda base, args: False)
    assert main(["run", "--cores", "2", "--config", f"results_dir={res}"]) == 0
    run_cmd, report_cmd = calls
    assert run_cmd[run_cmd.index("--logger") + 1] == "usher"
    assert report_cmd[-2:] == ["--report", str(res / "report.html")]
    out = capsys.readouterr().out
    assert "validation: PASSED" in out and "top 10 candidates" in out
    assert f"report: {res / 'report.html'}" in out
    # a failed run: only a failed validation gate is summarised, plainly
    monkeypatch.setattr(cli, "_call", lambda cmd: 1)
    assert main(["run", "--config", f"results_dir={res}"]) == 1
    assert "validation:" not in capsys.readouterr().out  # gates passed: the error is elsewhere
    (res / "validation" / "validation.json").unlink()
    (res / "logs").mkdir()
    (res / "logs" / "validate.log").write_text(
        "ValidationGateError: validation gate(s) failed:\n  cv_recall_mean = 0.1, gate x\n"
    )
    assert main(["run", "--config", f"results_dir={res}"]) == 1
    out = capsys.readouterr().out
    assert "validation: FAILED" in out and "failed gate: cv_recall_mean = 0.1, gate x" in out


# ------------------------------------------------------------------------------ the Usher view

PHOTO = "photoreceptor expression (retina rod/cone markers)"
EAR = "hearing / vestibular phenotype (MGI mouse, HPO human)"
HAIR = "inner-ear hair-cell enrichment (mouse, Scheffer 2015)"


def test_summary_of_both_views(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res", usher=True), SCORING, top_n=3)
    assert [v.key for v in s.views] == ["cilia", "usher"]
    cilia, usher = s.views
    assert cilia.top is s.top and [r["symbol"] for r in s.top] == ["GENE1", "GENE2", "GENE3"]
    assert [r["usher_rank"] for r in s.top] == [6, 11, 2]  # the other view's rank beside
    assert [r["symbol"] for r in usher.top] == ["GENE14", "GENE3", "GENE6"]
    assert [(r["rank"], r["score"], r["tier"]) for r in usher.top] == [
        (1, 0.95, "HIGH"), (2, 0.9, "HIGH"), (3, 0.85, "HIGH")]  # fmt: skip
    assert [r["cilia_rank"] for r in usher.top] == [14, 3, 6]
    assert usher.tier_counts == {"HIGH": 3, "MEDIUM": 3, "LOW": 8}
    assert s.tier_counts == {"HIGH": 2, "MEDIUM": 5, "LOW": 7}  # the cilia view's, unchanged
    # strongest sensory evidence: positive contributions, largest first; NULL (unknown),
    # zero and negative ones left out
    assert usher.top[0]["strongest_layers"] == ["photoreceptor", "ear_phenotype"]
    assert usher.top[0]["strongest"] == [PHOTO, EAR]
    assert usher.top[1]["strongest"] == [HAIR, PHOTO]  # GENE3: 0.5 hair cell, 0.3 photoreceptor
    assert usher.top[0]["sensory_count"] == 2

    text = format_summary(s)
    assert "Cilia view: is this gene ciliary?" in text
    assert "Usher view (sensory cilia): could it cause Usher-like deaf-blindness" in text
    assert "tiers: HIGH 3, MEDIUM 3, LOW 8" in text
    assert re.search(r"1\s+GENE1\s+0\.700\s+HIGH\s+co-evolution with cilia, protein network "
                     r"\(STRING\) \(usher rank 6\)", text), text  # fmt: skip
    line = re.escape(f"{PHOTO}, {EAR} (cilia rank 14)")
    assert re.search(r"1\s+GENE14\s+0\.950\s+HIGH\s+" + line, text), text
    # the cilia view's list comes first, then the Usher view's
    assert text.index("GENE1 ") < text.index("top 3 candidates, Usher view") < text.index("GENE14")


def test_summary_json_of_both_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = write_results(tmp_path / "res", usher=True)
    assert main(["summary", "--results", str(res), "--top", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data["views"]) == ["cilia", "usher"]
    assert data["views"]["cilia"]["top"] == data["top"]
    usher = data["views"]["usher"]
    assert [r["symbol"] for r in usher["top"]] == ["GENE14", "GENE3"]
    assert usher["top"][0]["strongest"] == [PHOTO, EAR]
    assert usher["tier_counts"] == {"HIGH": 3, "MEDIUM": 3, "LOW": 8}
    assert main(["summary", "--results", str(res), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "top 2 candidates, Usher view (sensory cilia)" in out and "GENE14" in out


def test_results_without_the_usher_view_show_the_cilia_view_only(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res"), SCORING, top_n=3)
    assert [v.key for v in s.views] == ["cilia"]
    assert "usher_rank" not in s.top[0]
    page = landing_html(s)
    assert "view-radio" not in page and "top-usher" not in page and "Usher view" not in page
    # a partial set of Usher columns (no usher_rank) is not a view either
    cands = pl.read_parquet(tmp_path / "res" / "candidates.parquet")
    cands.with_columns(pl.lit(0.5).alias("usher_score"), pl.lit("LOW").alias("usher_tier")
                       ).write_parquet(tmp_path / "res" / "candidates.parquet")  # fmt: skip
    assert [v.key for v in read_run_summary(tmp_path / "res").views] == ["cilia"]


def _table_symbols(page: str, table_id: str) -> list[str]:
    table = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr><td class="num">\d+</td><td>(GENE\d+)</td>', table)


def test_landing_html_switches_between_the_views(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res", usher=True), SCORING, top_n=4)
    page = landing_html(s)
    assert page == landing_html(read_run_summary(tmp_path / "res", SCORING, top_n=4))  # stable
    # a switch without scripts: radio buttons (the cilia view checked) and one panel per view
    assert '<input type="radio" class="view-radio" name="view" id="view-cilia" value="cilia"' \
        ' checked>' in page  # fmt: skip
    assert 'id="view-usher" value="usher">' in page
    assert '<label for="view-usher">Usher view (sensory cilia)</label>' in page
    assert "#view-usher:checked~#panel-usher" in page and "<script" not in page
    assert page.index('id="panel-cilia"') < page.index('id="top-candidates"') \
        < page.index('id="panel-usher"') < page.index('id="top-usher"')  # fmt: skip
    assert _table_symbols(page, "top-candidates") == ["GENE1", "GENE2", "GENE3", "GENE4"]
    assert _table_symbols(page, "top-usher") == ["GENE14", "GENE3", "GENE6", "GENE9"]
    usher_table = page.split('<table id="top-usher">', 1)[1].split("</table>", 1)[0]
    assert f"<td>{PHOTO}, {EAR}</td>" in usher_table and "<th>Cilia rank</th>" in usher_table
    for tier, n in (("HIGH", 3), ("MEDIUM", 3), ("LOW", 8)):
        assert re.search(f'id="usher-tier-counts">.*?data-tier="{tier}">{n}<', page, re.S)
    assert 'href="candidates_table.html#view=usher"' in page
    assert "http" not in page


def test_landing_rst_lists_both_views(tmp_path: Path) -> None:
    s = read_run_summary(write_results(tmp_path / "res", usher=True), SCORING, top_n=3)
    body = landing_rst(s).replace("{% raw %}", "").replace("{% endraw %}", "")
    body += "\n.. _candidates_table.html: #t\n.. _index.html: #i\n"
    out = publish_parts(body, writer="html")["html_body"]
    assert "Top 3 candidates, Usher view (sensory cilia)" in out
    assert out.index("GENE1") < out.index("GENE14")
    assert re.search(r"<td>1</td>\s*<td>GENE14</td>\s*<td>HIGH</td>\s*<td>0.950</td>", out), out
    assert "could it cause Usher-like deaf-blindness" in out
