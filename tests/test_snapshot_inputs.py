"""Every job checks the sha256 of the snapshot files it reads against the manifest (RuleRun), so
a file altered after the snapshot check, even with its mtime kept, stops the next job reading it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pytest
from core_fixtures import MINI
from state_fixtures import fake_snakemake
from usher_pipeline.errors import SnapshotError
from usher_pipeline.persistence import RuleRun
from usher_pipeline.snapshot import check_snapshot_hashes, sha256_file

sys.path.insert(0, str(Path(__file__).parent))
import e2e_fixtures as e2e  # noqa: E402


def _alter_keep_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def snap(tmp_path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "snap"))


def _entry(snap: Path, key_part: str) -> dict:
    files = json.loads((snap / "manifest.json").read_text())["files"]
    return next(e for e in files if key_part in e["path"])


def test_check_snapshot_hashes(snap, tmp_path) -> None:
    e = _entry(snap, "hgnc")
    path = snap / e["path"]
    other = tmp_path / "not_snapshot.tsv"
    other.write_text("x")
    assert check_snapshot_hashes(snap, [str(path), str(other)]) == [e["key"]]
    before = sha256_file(path)
    _alter_keep_mtime(path)
    assert sha256_file(path) != before
    with pytest.raises(SnapshotError) as err:
        check_snapshot_hashes(snap, [path])
    assert str(path) in str(err.value) and e["key"] in str(err.value)
    assert check_snapshot_hashes(tmp_path / "no_manifest_here", [path]) == []
    path.unlink()
    with pytest.raises(SnapshotError, match="missing"):
        check_snapshot_hashes(snap, [path])


def test_rule_run_fails_on_an_altered_snapshot_input(snap, tmp_path) -> None:
    e = _entry(snap, "hgnc")
    path = snap / e["path"]
    sm = fake_snakemake(tmp_path, rule="reader", inputs=[str(path)], outputs=["r/out.txt"])
    sm.config["snapshot_dir"] = str(snap)
    with RuleRun(sm) as run:  # intact: fine
        Path(sm.output[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(sm.output[0]).write_text("ok")
        run.register_output(sm.output[0])
    _alter_keep_mtime(path)
    body_ran = []
    with pytest.raises(SnapshotError, match=e["path"].replace(".", r"\.")):
        with RuleRun(sm):
            body_ran.append(True)
    assert not body_ran
    con = duckdb.connect(sm.config["state"]["db"], read_only=True)
    try:
        rows = con.execute("SELECT status, error FROM _runs ORDER BY started_at").fetchall()
    finally:
        con.close()
    assert rows[-1][0] == "failed" and e["key"] in rows[-1][1]
    assert "altered" in (tmp_path / sm.log[0]).read_text()


def test_start_check_names_the_altered_file_and_how_to_restore_it(snap) -> None:
    from usher_pipeline.snapshot import check_snapshot_at_start

    assert check_snapshot_at_start(snap) == len(json.loads((snap / "manifest.json").read_text())
                                                ["files"])  # fmt: skip
    e = _entry(snap, "HMD_HumanPhenotype")
    _alter_keep_mtime(snap / e["path"])
    with pytest.raises(SnapshotError) as err:
        check_snapshot_at_start(snap)
    msg = str(err.value)
    assert str(snap / e["path"]) in msg and "altered" in msg and "restore it" in msg
    assert len(msg.splitlines()) == 1
    (snap / e["path"]).unlink()
    with pytest.raises(SnapshotError, match="missing"):
        check_snapshot_at_start(snap)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_altered_snapshot_file_with_kept_mtime_stops_every_run_before_any_job() -> None:
    work = e2e.copy_local_run("usher-e2e-snapstart-")
    cfg = ["--configfile", str(e2e.TEST_CONFIG_REL)]
    results = e2e.results_dir(work)
    verified = results / "snapshot/verified.json"
    stamp = verified.stat().st_mtime_ns
    rel = "workflow/resources/snapshot/mgi/HMD_HumanPhenotype.rpt.gz"
    altered = work / rel
    original = altered.read_bytes()
    _alter_keep_mtime(altered)
    # a plain snakemake run with nothing else to do stops before any job, naming the file
    res = e2e.run_snakemake(["--cores", "2", *cfg], cwd=work, timeout=600)
    assert res.returncode != 0, e2e.describe(res)
    line = next(ln for ln in res.output.splitlines() if "HMD_HumanPhenotype" in ln)
    assert f"snapshot file {rel} ('mgi_hmd') was altered" in line and "restore it" in line, line
    assert "Traceback" not in res.output and "Job stats" not in res.output
    # so does usher-pipeline run
    run = e2e.run_module(work, "usher_pipeline.cli", "run", "--cores", "2", "--no-report", *cfg)
    assert run.returncode != 0 and f"snapshot file {rel}" in run.stderr, run.stderr[-3000:]
    assert "Job stats" not in run.stdout + run.stderr
    assert verified.stat().st_mtime_ns == stamp  # nothing was rerun or removed
    # restoring the bytes (a new mtime, as git checkout gives) makes the next run clean
    altered.write_bytes(original)
    dry = e2e.run_snakemake(["-n", "--cores", "2", *cfg], cwd=work)
    assert dry.returncode == 0, e2e.describe(dry)
    assert not {"verify_snapshot", "gene_universe"} & set(e2e.job_stats(dry.output)), dry.output
    verify = subprocess_state(work, "verify")
    assert verify.returncode == 0, verify.stdout[-3000:]


def subprocess_state(work: Path, *args: str):
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(work / "scripts"))
    cmd = [sys.executable, "-m", "usher_pipeline.state_cli", "--configfile",
           str(e2e.TEST_CONFIG_REL), *args]  # fmt: skip
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
