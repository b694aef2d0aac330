"""`usher-pipeline run` rebuilds report.html only when what it is built from changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from usher_pipeline import cli
from usher_pipeline.report_fingerprint import (
    fingerprint_path,
    report_fingerprint,
    report_is_current,
    save_fingerprint,
)


def _repo(root: Path) -> Path:
    """A minimal checkout: Snakefile, workflow code, a script, a config, results."""
    for rel, body in {
        "Snakefile": "rule all:\n",
        "workflow/rules/a.smk": "rule a:\n",
        "workflow/resources/snapshot/big.tsv": "snapshot",
        "scripts/usher_pipeline/x.py": "X = 1\n",
        "config/config.yaml": "results_dir: results\n",
        "results/candidates.tsv": "gene\tscore\nA\t1\n",
        "results/logs/last_run.json": '{"at": 1}',
        ".snakemake/metadata/cmVzdWx0cw==": '{"starttime": 1}',
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(body)
    return root


def _fp(repo: Path, extra: tuple[str, ...] = ()) -> str:
    res = repo / "results"
    return report_fingerprint(repo, res, res / "report.html", ["config/config.yaml"], extra)


@pytest.mark.parametrize(
    "rel, changed",
    [
        ("results/candidates.tsv", True),
        ("results/new_table.tsv", True),
        ("workflow/rules/a.smk", True),
        ("Snakefile", True),
        ("scripts/usher_pipeline/x.py", True),
        ("config/config.yaml", True),
        (".snakemake/metadata/cmVzdWx0cw==", True),
        # rewritten by every run / checked elsewhere / the report itself: not inputs
        ("results/logs/last_run.json", False),
        ("workflow/resources/snapshot/big.tsv", False),
        ("results/report.html", False),
        ("results/report.html.fingerprint", False),
    ],
)
def test_fingerprint_follows_the_report_inputs(tmp_path: Path, rel: str, changed: bool) -> None:
    repo = _repo(tmp_path)
    before = _fp(repo)
    assert _fp(repo) == before  # deterministic
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text("something else")
    assert (_fp(repo) != before) is changed


def test_fingerprint_follows_overrides(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert _fp(repo, ("snakemake 9.1",)) != _fp(repo, ("snakemake 9.2",))


def test_report_is_current_needs_the_report_and_the_same_fingerprint(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    save_fingerprint(report, "abc")
    assert not report_is_current(report, "abc")  # no report
    report.write_text("<html>")
    assert report_is_current(report, "abc")
    assert not report_is_current(report, "abd")
    fingerprint_path(report).unlink()
    assert not report_is_current(report, "abc")


def test_run_rebuilds_the_report_only_when_an_input_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three `usher-pipeline run`s (snakemake mocked; its --report call writes report.html):
    the first builds the report, the second (nothing changed) does not, the third (a result
    changed) builds it again; a failed run forgets the fingerprint."""
    repo = _repo(tmp_path)
    res = repo / "results"
    calls: list[list[str]] = []
    rc = {"run": 0}

    def fake_call(cmd: list[str]) -> int:
        calls.append(cmd)
        if "--report" in cmd:
            Path(cmd[-1]).write_text("<html>report</html>")
            return 0
        return rc["run"]

    monkeypatch.setattr(cli, "REPO", repo)
    monkeypatch.setattr(cli, "_call", fake_call)
    monkeypatch.setattr(cli, "recover_dead_run", lambda base, args: False)
    monkeypatch.setattr(cli, "print_run_summary", lambda *a, **k: None)

    def reports_built() -> int:
        assert cli.main(["run", "--cores", "1"]) == rc["run"]
        n = sum("--report" in c for c in calls)
        calls.clear()
        return n

    assert reports_built() == 1
    assert (res / "report.html.fingerprint").is_file()
    assert reports_built() == 0
    assert "is up to date" in capsys.readouterr().out
    (res / "logs/last_run.json").write_text('{"at": 2}')  # every run rewrites it
    assert reports_built() == 0
    (res / "candidates.tsv").write_text("gene\tscore\nA\t2\n")
    assert reports_built() == 1
    assert reports_built() == 0
    (res / "report.html").unlink()
    assert reports_built() == 1
    rc["run"] = 1  # a failed run (it may have replaced report.html with its FAILED page)
    assert reports_built() == 0
    assert not (res / "report.html.fingerprint").exists()
    rc["run"] = 0
    assert reports_built() == 1
