"""The candidate list is published only when the validation gates passed; on a gene subset the
genome-wide gates are reported as not applicable unless validation.subset_gates is apply."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.errors import ValidationGateError  # noqa: E402
from usher_pipeline.validation import (  # noqa: E402
    NOT_APPLICABLE,
    assert_publishable,
    gates_apply,
    withdraw_published,
)


def test_gates_apply_rule() -> None:
    assert gates_apply(False, None) and gates_apply(False, "not_applicable")
    assert not gates_apply(True, None) and not gates_apply(True, "not_applicable")
    assert gates_apply(True, "apply")


def test_withdraw_published_removes_lists_and_sidecars(tmp_path) -> None:
    tsv, pq = tmp_path / "candidates.tsv", tmp_path / "candidates.parquet"
    for p in (tsv, pq, Path(f"{tsv}.provenance.json")):
        p.write_text("x")
    keep = tmp_path / "gene_evidence.parquet"
    keep.write_text("x")
    removed = withdraw_published([tsv, pq])
    assert sorted(Path(p).name for p in removed) == sorted(
        ["candidates.tsv", "candidates.parquet", "candidates.tsv.provenance.json"]
    )
    assert not tsv.exists() and not pq.exists() and keep.exists()
    assert withdraw_published([tsv, pq]) == []


def test_summary_with_failed_gates_is_not_publishable() -> None:
    assert_publishable({"failed": []}, "v.json")
    with pytest.raises(ValidationGateError, match=r"v\.json: .*not published.*\n  cv_recall"):
        assert_publishable({"failed": ["cv_recall_mean = 0.1"]}, "v.json")


def _overlay(work: Path, name: str, **validation) -> str:
    cfg = e2e.fixture_config()
    cfg["validation"].update(validation)
    (work / name).write_text(yaml.safe_dump({"validation": cfg["validation"]}))
    return name


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_subset_gates_not_applicable_then_apply_withdraws_the_list() -> None:
    # a copy of the fixture run (gates passed, list published): only validation settings change,
    # so validate and what follows it rerun, never the layers
    work = e2e.copy_local_run("usher-e2e-subsetgates-")
    base = work.parent
    cfg = e2e.fixture_config()
    gates = dict(cfg["validation"]["gates"], min_cv_recall=0.999)  # fails on the fixture
    na = _overlay(work, "na.yaml", subset_gates="not_applicable", gates=gates)
    args = ["--cores", "2", "--configfile", str(e2e.TEST_CONFIG_REL)]
    results = e2e.results_dir(work)
    before = (results / "candidates.tsv").stat().st_mtime_ns
    res = e2e.run_snakemake([*args, na], cwd=work, timeout=900, log_file=base / "na.log")
    assert res.returncode == 0, e2e.describe(res)
    ran = e2e.job_stats(res.output)
    assert {"validate", "publish_candidates"} <= set(ran), ran
    assert not [r for r in ran if r.startswith("layer_") or r == "integrate"], ran
    assert (results / "candidates.tsv").stat().st_mtime_ns != before  # published again
    metrics = pl.read_csv(results / "validation/metrics.tsv", separator="\t")
    gated = metrics.filter(pl.col("gate").is_not_null())
    assert gated.height >= 9
    assert gated["gate"].str.contains(NOT_APPLICABLE, literal=True).all(), gated
    assert gated["passed"].is_null().all()
    summary = json.loads((results / "validation/validation.json").read_text())
    assert summary["gates_status"] == "not_applicable_gene_subset" and summary["failed"] == []
    assert "Gates not applicable" in (results / "reproducibility_report.md").read_text()
    assert (results / "candidates.tsv").is_file() and (results / "candidates.parquet").is_file()
    assert Path(f"{results}/candidates.tsv.provenance.json").is_file()

    # the same gates enforced: validate reruns, fails, and the list published above is withdrawn
    ap = _overlay(work, "apply.yaml", subset_gates="apply", gates=gates)
    res = e2e.run_snakemake([*args, ap], cwd=work, timeout=900, log_file=base / "apply.log")
    assert res.returncode != 0, e2e.describe(res)
    assert "validation gate(s) failed" in res.output and "min_cv_recall" in res.output
    for name in ("candidates.tsv", "candidates.parquet", "candidates.tsv.provenance.json",
                 "candidates.parquet.provenance.json"):  # fmt: skip
        assert not (results / name).exists(), name
    assert "removed" in (results / "logs/validate.log").read_text()
