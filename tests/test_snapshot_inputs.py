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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_altered_snapshot_file_with_kept_mtime_stops_the_job_reading_it() -> None:
    base = e2e.scratch_dir("usher-e2e-snapjob-")
    work = e2e.copy_workflow(base / "wf")
    cfg = ["--configfile", str(e2e.TEST_CONFIG_REL)]
    results = e2e.results_dir(work)
    target = str((results / "snapshot/verified.json").relative_to(work))
    first = e2e.run_snakemake([target, "--cores", "2", *cfg], cwd=work, timeout=600)
    assert first.returncode == 0, e2e.describe(first)
    altered = work / "workflow/resources/snapshot/mgi/HMD_HumanPhenotype.rpt.gz"
    _alter_keep_mtime(altered)
    res = e2e.run_snakemake(["--cores", "2", *cfg], cwd=work, timeout=900)
    assert res.returncode != 0, e2e.describe(res)
    stats = e2e.job_stats(res.output)
    assert "verify_snapshot" not in stats, stats  # the snapshot check did not rerun ...
    log = (results / "logs/layer_mouse_phenotype.log").read_text()
    # ... the job that reads the file caught it, naming it
    assert "HMD_HumanPhenotype.rpt.gz" in log and "altered" in log, log[-3000:]
    assert "HMD_HumanPhenotype.rpt.gz" in res.output
    assert not (results / "layers/mouse_phenotype.parquet").exists()
