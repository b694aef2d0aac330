"""Jobs run the workflow checkout's own library, never an installed copy of the package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import e2e_fixtures as e2e
import pytest
from state_fixtures import fake_snakemake
from usher_pipeline.config_check import jobs_use_checkout_library
from usher_pipeline.errors import LibraryMismatchError
from usher_pipeline.persistence import RuleRun
from usher_pipeline.persistence.rule_run import check_library

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_check_library_accepts_the_checkout_and_names_both_paths_otherwise(tmp_path) -> None:
    check_library(SCRIPTS)  # the library under test is the checkout's
    check_library(None)  # no scriptdir (not a Snakemake script job): nothing to compare
    with pytest.raises(LibraryMismatchError) as err:
        check_library(tmp_path / "other_checkout" / "scripts")
    msg = str(err.value)
    assert str(SCRIPTS / "usher_pipeline") in msg
    assert str(tmp_path / "other_checkout" / "scripts" / "usher_pipeline") in msg
    assert "pip install -e" in msg


def test_rule_run_refuses_a_foreign_library_before_anything_runs(tmp_path) -> None:
    sm = fake_snakemake(tmp_path, rule="reader", outputs=["r/out.txt"])
    sm.scriptdir = str(tmp_path / "elsewhere")
    with pytest.raises(LibraryMismatchError):
        RuleRun(sm)
    assert not (tmp_path / "state").exists()  # no state touched
    sm.scriptdir = str(SCRIPTS)
    with RuleRun(sm) as run:
        Path(sm.output[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(sm.output[0]).write_text("ok")
        run.register_output(sm.output[0])


def test_jobs_use_checkout_library_puts_it_first_once(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/opt/site", str(SCRIPTS), "/x"]))
    jobs_use_checkout_library(SCRIPTS)
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(SCRIPTS), "/opt/site", "/x"]
    jobs_use_checkout_library(SCRIPTS)  # a second parse of the Snakefile changes nothing
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(SCRIPTS), "/opt/site", "/x"]
    monkeypatch.delenv("PYTHONPATH")
    jobs_use_checkout_library(SCRIPTS)
    assert os.environ["PYTHONPATH"] == str(SCRIPTS)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_stale_installed_copy_does_not_run_in_jobs() -> None:
    """An out-of-date copy of the package ahead of the checkout on the import path (what a
    non-editable install gives: site-packages precedes the folder Snakemake appends for rule
    scripts) must not be what the jobs run. The copy here fails on import, so a job that ran it
    would fail."""
    base = e2e.scratch_dir("usher-e2e-lib-")
    work = e2e.copy_workflow(base / "wf")
    stale = base / "site-packages"
    shutil.copytree(SCRIPTS / "usher_pipeline", stale / "usher_pipeline")
    init = stale / "usher_pipeline" / "__init__.py"
    init.write_text('raise RuntimeError("stale installed copy of usher_pipeline imported")\n')
    env = {**os.environ, "PYTHONPATH": str(stale)}
    results = e2e.results_dir(work)
    target = str((results / "snapshot/verified.json").relative_to(work))
    cfg = ["--configfile", str(e2e.TEST_CONFIG_REL)]
    res = e2e.run_snakemake([target, "--cores", "1", *cfg], cwd=work, env=env, timeout=500)
    assert res.returncode == 0, e2e.describe(res)
    assert "stale installed copy" not in res.output
    assert (results / "snapshot/verified.json").is_file()
