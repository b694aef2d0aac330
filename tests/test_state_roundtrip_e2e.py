"""The round trip of a whole run: export the state of a workflow run, import it in a fresh clone.

* snapshot mode: the fixture run's state (tables, checkpoints, runs, provenance) arrives identical
  by content hash, outputs restored from the bag pass ``state verify``;
* live mode: a run against the loopback server, exported ``--with-cache --with-outputs``, imported
  into a fresh clone with the server stopped, reruns with 0 requests and byte-identical results.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.persistence.transfer import table_digests  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

LOCAL_ONLY = ("_lock_waits", "_lock_log", "_imports", "_imported_runs")


def _state(cwd: Path, *args: str, config: str = str(e2e.TEST_CONFIG_REL)):
    cmd = [sys.executable, "-m", "usher_pipeline.state_cli", "--configfile", config, *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def _digests(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {k: v for k, v in table_digests(con).items() if k not in LOCAL_ONLY}
    finally:
        con.close()


class ConnectionTrap:
    """Listens on a port where nothing serves any more and counts connection attempts."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.attempts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.attempts += 1
            conn.close()  # answer nothing: a request fails as if the host were down

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_snapshot_run_round_trip_identical(tmp_path):
    run = e2e.local_run()
    src = run.workdir
    db_rel = e2e.fixture_config()["state"]["db"]
    bag = tmp_path / "snapshot-run.tar"
    res = _state(src, "export", str(bag), "--with-outputs")
    assert res.returncode == 0, res.stderr
    assert _state(src, "verify").returncode == 0

    dest = e2e.copy_workflow(tmp_path / "clone")
    res = _state(dest, "inspect", str(bag))
    assert res.returncode == 0 and "valid bag" in res.stdout, res.stderr
    assert "crate: ro-crate-metadata.json" in res.stdout  # the bag carries the run's crate
    with tarfile.open(bag) as tf:
        member = next(m for m in tf.getnames() if m.endswith("data/ro-crate-metadata.json"))
        carried = tf.extractfile(member).read()
    assert carried == (run.results / "ro-crate-metadata.json").read_bytes()
    res = _state(dest, "import", str(bag))  # the state only, first
    assert res.returncode == 0, res.stderr
    assert _digests(dest / db_rel) == _digests(src / db_rel)
    res = _state(dest, "verify")  # outputs not restored is said so, and is no failure
    assert res.returncode == 0 and "NOT RESTORED" in res.stdout, res.stdout[-2000:]
    assert "MISSING" not in res.stdout and "not restored (not a problem)" in res.stdout
    # --restore-outputs works on the bag already imported
    res = _state(dest, "import", str(bag), "--restore-outputs")
    assert res.returncode == 0 and "already imported" in res.stdout, res.stderr
    assert re.search(r"[1-9]\d* files restored", res.stdout), res.stdout
    assert _digests(dest / db_rel) == _digests(src / db_rel)
    for rel in ("candidates.parquet", "gene_evidence.parquet", "candidates.tsv"):
        assert _sha(e2e.results_dir(dest) / rel) == _sha(run.results / rel)
    res = _state(dest, "verify")
    assert res.returncode == 0 and "NOT RESTORED" not in res.stdout, res.stdout[-2000:]
    # the restored results are up to date: a rerun does no work
    dry = e2e.run_snakemake(["-n", "--cores", "2", "--configfile", str(e2e.TEST_CONFIG_REL)],
                            cwd=dest)  # fmt: skip
    assert dry.returncode == 0 and "Nothing to be done" in dry.output, e2e.describe(dry)
    # a restored output changed afterwards is a MISMATCH, not "not restored"
    changed = e2e.results_dir(dest) / "candidates.tsv"
    changed.write_text(changed.read_text() + "extra\n")
    res = _state(dest, "verify")
    assert res.returncode == 1 and "MISMATCH" in res.stdout and "candidates.tsv" in res.stdout


def test_live_run_round_trip_without_network(tmp_path):
    run = e2e.live_run()  # the live run, shared with test_workflow_live_e2e; server stopped
    base = e2e.scratch_dir("usher-e2e-live-rt-")
    work = run.copy_to(base / "wf")
    clone = e2e.copy_workflow(base / "clone")
    bag = base / "live-run.tar"
    args = run.args
    cfg_args = {"config": "live.yaml"}
    shutil.copyfile(work / "live.yaml", clone / "live.yaml")
    assert sum(run.counts.values()) > 0
    port = run.port
    first = {
        rel: _sha(work / "live_results" / rel)
        for rel in ("candidates.parquet", "gene_evidence.parquet")
    }
    res = _state(work, "export", str(bag), "--with-cache", "--with-outputs", **cfg_args)
    assert res.returncode == 0, res.stderr
    assert _state(work, "verify", **cfg_args).returncode == 0

    # the fresh clone: no server, no results, no state; only the bag
    res = _state(clone, "import", str(bag), **cfg_args)
    assert res.returncode == 0, res.stderr
    with run.port_lock():  # no other test listens there meanwhile
        trap = ConnectionTrap(port)  # the server is gone; any request would be counted here
        try:
            res = e2e.run_snakemake(args, cwd=clone, timeout=900, log_file=base / "run2.log")
        finally:
            trap.close()
    assert res.returncode == 0, e2e.describe(res)
    assert trap.attempts == 0
    for rel, digest in first.items():
        assert _sha(clone / "live_results" / rel) == digest, rel
    res = _state(clone, "verify", **cfg_args)
    assert res.returncode == 0, res.stdout[-2000:]
