"""Result versions (usher_pipeline.result_versions): a failed run never leaves the user with less
than they had. Unit tests on small folders, then one failed-gates run on a copy of the shared
fixture run."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from usher_pipeline import result_versions as rv
from usher_pipeline.summary import read_run_summary

sys.path.insert(0, str(Path(__file__).parent))
import e2e_fixtures as e2e  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _results(root: Path, text: str = "a") -> Path:
    res = root / "results"
    for rel, body in {"candidates.tsv": f"gene\t{text}\n", "layers/x.parquet": "x",
                      "validation/validation.json": json.dumps({"failed": [],
                                                                "gates_status": "passed"}),
                      "logs/integrate.log": "log", "report.html": "<html>"}.items():  # fmt: skip
        (res / rel).parent.mkdir(parents=True, exist_ok=True)
        (res / rel).write_text(body)
    return res


def test_version_keeps_the_result_set_by_content_and_restores_it(tmp_path) -> None:
    res = _results(tmp_path)
    (res / "live/raw").mkdir(parents=True)
    (res / "live/raw/gene2pubmed").write_text("a download, kept by the fetch cache")
    (res / "layers/x.parquet.tmp-123").write_text("half written")
    store = tmp_path / "state" / "result_versions"
    first = rv.record_version(res, "results", store, "passed", tmp_path)
    assert first is not None
    assert set(first["files"]) == {"candidates.tsv", "layers/x.parquet",
                                   "validation/validation.json"}  # fmt: skip
    again = rv.record_version(res, "results", store, "passed", tmp_path)
    assert again == first  # same content, same version, nothing added
    kept = store / first["version"] / "files" / "candidates.tsv"
    assert kept.read_text() == "gene\ta\n"
    (res / "candidates.tsv").write_text("gene\tother\n")
    (res / "layers/x.parquet").unlink()
    m = rv.restore_version(store, res, "results", None, tmp_path)
    assert m["version"] == first["version"]
    assert (res / "candidates.tsv").read_text() == "gene\ta\n"
    assert (res / "layers/x.parquet").read_text() == "x"
    mtimes = {(res / rel).stat().st_mtime for rel in first["files"]}
    assert len(mtimes) == 1  # one mtime: no restored output looks older than another
    assert rv.read_last_run(res)["status"] == "restored"


def test_restore_refuses_a_kept_file_that_changed(tmp_path) -> None:
    res = _results(tmp_path)
    store = tmp_path / "store"
    m = rv.record_version(res, "results", store, "passed", tmp_path)
    assert m is not None
    blob = store / "blobs" / m["files"]["candidates.tsv"]["sha256"]
    blob.chmod(0o644)
    blob.write_text("gene\ttampered\n")
    (res / "candidates.tsv").write_text("gene\tnow\n")
    with pytest.raises(rv.ResultVersionError, match="candidates.tsv"):
        rv.restore_version(store, res, "results", None, tmp_path)
    assert (res / "candidates.tsv").read_text() == "gene\tnow\n"  # nothing written


def test_failed_run_says_failed_everywhere_and_names_the_kept_version(tmp_path) -> None:
    res = _results(tmp_path)
    db = tmp_path / "state" / "usher.duckdb"
    ok = rv.finish_run("results", db, True, 0.0, tmp_path)
    vid = rv.list_versions(rv.versions_dir(db))[0]["version"]
    assert vid in ok
    assert read_run_summary(res).status == "passed"
    (res / "validation/validation.json").unlink()
    (res / "logs/validate.log").write_text(
        "rule validate failed: validation gate(s) failed:\n  usher_median_percentile = 0.1\n"
    )
    line = rv.finish_run("results", db, False, 0.0, tmp_path)
    assert line.startswith("FAILED") and vid in line
    for page in (res / "report/index.html", res / "report.html"):
        text = page.read_text()
        assert "FAILED" in text and vid in text and "usher-pipeline state restore" in text
    assert (res / "report/index.html").stat().st_mtime == 0  # rebuilt by the next run
    summary = read_run_summary(res)
    assert summary.status == "failed" and vid in summary.details
    assert summary.failed == ["usher_median_percentile = 0.1"]
    # an old validation.json left by an earlier passed run does not make it PASSED
    (res / "validation/validation.json").write_text(json.dumps({"failed": []}))
    assert read_run_summary(res).status == "failed"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_failed_gates_run_keeps_the_passed_results_and_restore_brings_them_back() -> None:
    work = e2e.copy_local_run("usher-e2e-versions-")
    base = work.parent
    results = e2e.results_dir(work)
    cfg = str(e2e.TEST_CONFIG_REL)
    store = rv.versions_dir(work / e2e.fixture_config()["state"]["db"])
    before = {rel: _sha(results / rel) for rel in rv.result_files(results)}
    (kept,) = rv.list_versions(store)  # the passed fixture run kept its results
    # (the copy sits in another folder, which Snakemake sees for the report's description input:
    # what a dry run plans here before the experiment is what it may plan after the restore)
    base_dry = e2e.run_snakemake(["-n", "--cores", "2", "--configfile", cfg], cwd=work)
    assert base_dry.returncode == 0, e2e.describe(base_dry)
    assert kept["status"] == "passed"
    assert {rel: f["sha256"] for rel, f in kept["files"].items()} == before
    # the experiment: three housekeeping genes as the known Usher genes fail the gates
    (work / "known3.txt").write_text("GAPDH\nACTB\nALB\n")
    (work / "known3.yaml").write_text(yaml.safe_dump({"known_genes": {"usher": "known3.txt"}}))
    res = e2e.run_snakemake(["--cores", "2", "--configfile", cfg, "known3.yaml"], cwd=work,
                            timeout=1200, log_file=base / "failed.log")  # fmt: skip
    assert res.returncode != 0, e2e.describe(res)
    assert "validation gate(s) failed" in res.output
    assert f"last passed results (version {kept['version']}) are kept" in res.output
    assert not (results / "candidates.tsv").exists()
    page = (results / "report/index.html").read_text()
    assert "FAILED" in page and "PASSED" not in page and kept["version"] in page
    summary = e2e.run_module(work, "usher_pipeline.cli", "summary", "--configfile", cfg)
    assert summary.returncode == 1, summary.stdout + summary.stderr
    assert "FAILED" in summary.stdout and "PASSED" not in summary.stdout
    # the passed results stay readable, byte for byte, while results/ holds the failed run
    changed = [rel for rel in before if not (results / rel).is_file()
               or _sha(results / rel) != before[rel]]  # fmt: skip
    assert len(changed) > 10, changed
    for rel, sha in before.items():
        assert _sha(store / kept["version"] / "files" / rel) == sha, rel
    # restore brings them back; with the original config a rerun has nothing to do
    restored = e2e.run_module(work, "usher_pipeline.state_cli", "--configfile", cfg, "restore")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert kept["version"] in restored.stdout
    for rel, sha in before.items():
        assert _sha(results / rel) == sha, rel
    dry = e2e.run_snakemake(["-n", "--cores", "2", "--configfile", cfg], cwd=work)
    assert dry.returncode == 0, e2e.describe(dry)
    assert e2e.job_stats(dry.output) == e2e.job_stats(base_dry.output), e2e.describe(dry)
    assert set(e2e.job_stats(dry.output)) <= {"landing_page", "ro_crate", "all"}
    again = e2e.run_module(work, "usher_pipeline.cli", "summary", "--configfile", cfg)
    assert again.returncode == 0 and "PASSED" in again.stdout, again.stdout + again.stderr
    verify = e2e.run_module(work, "usher_pipeline.state_cli", "--configfile", cfg, "verify")
    assert verify.returncode == 0, verify.stdout[-3000:]


def test_explain_after_a_failed_run_points_to_the_kept_version(tmp_path) -> None:
    from usher_pipeline.explain import ExplainError, _require

    res = _results(tmp_path)
    db = tmp_path / "state" / "usher.duckdb"
    rv.finish_run("results", db, True, 0.0, tmp_path)
    vid = rv.list_versions(rv.versions_dir(db))[0]["version"]
    rv.finish_run("results", db, False, 0.0, tmp_path)
    with pytest.raises(ExplainError, match=f"version {vid}.*usher-pipeline state restore"):
        _require(res / "universe" / "genes.parquet")
