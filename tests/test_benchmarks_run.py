"""The ranking benchmarks run on a finished workflow run (the shared fixture run, 52 genes) and
print every figure they promise: bench_ranking.py (both methods side by side, the bootstrap
intervals) and bench_fame_tradeoff.py (one row per study-bias setting plus the weighted
composite). They are not imported by the workflow, so only running them catches a broken call."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from e2e_fixtures import REPO, TEST_CONFIG_REL, local_run

pytestmark = pytest.mark.slow


def _bench(script: str) -> str:
    run = local_run()
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--results", str(run.results),
         "--configfile", str(TEST_CONFIG_REL)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def test_bench_ranking_prints_both_methods_and_the_intervals() -> None:
    out = _bench("bench_ranking.py")
    rows = {
        m.group(1): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^(\w+)\s+(-?[\d.]+|nan)\s+(-?[\d.]+|nan)$", out, re.M)
    }
    for key in ("housekeeping_median_percentile", "temporal_auroc", "temporal_top_hits",
                "abs_spearman_publications", "cv_recall_mean"):  # fmt: skip
        assert key in rows, out
    assert re.search(r"temporal AUROC, learned - weighted: [+-][\d.]+ \(95% paired bootstrap", out)
    assert re.search(r"temporal AUROC within fame strata, learned - weighted: ", out)
    lo, hi = rows["housekeeping_median_percentile_ci_low"][0], rows[
        "housekeeping_median_percentile_ci_high"][0]  # fmt: skip
    assert lo <= rows["housekeeping_median_percentile"][0] <= hi
    assert "top 15 learned:" in out and "top 15 weighted:" in out


def test_bench_fame_tradeoff_prints_one_row_per_setting() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_fame_tradeoff import SETTINGS

    out = _bench("bench_fame_tradeoff.py")
    rows = [ln for ln in out.splitlines() if ln.startswith(("weighted ", "learned "))]
    assert len(rows) == 1 + len(SETTINGS), out
    for (transform, adjust), row in zip(SETTINGS, rows[1:], strict=True):
        assert row.split()[:3] == ["learned", transform, f"{adjust:.2f}"], row
    assert f"{1 + len(SETTINGS)} settings in" in out


def test_profile_suite_reads_the_junit_report_and_the_recorded_runs(tmp_path, monkeypatch):
    """benchmarks/profile_suite.py: a test's workflow processes are recorded with the test that
    started them and whether they were real runs; the JUnit report gives each test's time."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import e2e_fixtures
    import profile_suite

    runs = tmp_path / "runs.jsonl"
    monkeypatch.setenv("USHER_PROFILE_RUNS", str(runs))
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_x.py::test_y[a] (call)")
    e2e_fixtures.note_workflow_run(["snakemake", "--cores", "2"], 12.345)
    e2e_fixtures.note_workflow_run(["snakemake", "-n", "--cores", "2"], 2.0)
    got = profile_suite.read_runs(runs)
    assert [(r["test"], r["run"], r["seconds"], r["shared"]) for r in got] == [
        ("tests/test_x.py::test_y[a]", True, 12.35, None),
        ("tests/test_x.py::test_y[a]", False, 2.0, None),
    ]
    monkeypatch.delenv("USHER_PROFILE_RUNS")
    e2e_fixtures.note_workflow_run(["snakemake"], 1.0)  # not profiling: nothing recorded
    assert len(profile_suite.read_runs(runs)) == 2
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_x" name="test_y[a]" time="3.5"/>'
        '<testcase classname="tests.slurm.test_h" name="test_z" time="0.25"/>'
        "</testsuite></testsuites>"
    )
    assert profile_suite.read_junit(junit) == {
        "tests/test_x.py::test_y[a]": 3.5,
        "tests/slurm/test_h.py::test_z": 0.25,
    }
