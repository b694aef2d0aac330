"""Recovery after kill -9: stale Snakemake lock, dead ``running`` rows, orphan temporary files
(usher_pipeline.recovery, called by ``usher-pipeline run``)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from usher_pipeline.persistence import PipelineStore
from usher_pipeline.recovery import (
    LiveRunError,
    RunLock,
    live_snakemake_pids,
    orphan_tmp_files,
    pid_alive,
    recover,
)

sys.path.insert(0, str(Path(__file__).parent))
import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.layers import LAYER_NAMES  # noqa: E402


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(0)


def test_orphan_tmp_files_only_of_dead_writers(tmp_path) -> None:
    dead = _dead_pid()
    (tmp_path / "layers").mkdir()
    orphan = tmp_path / "layers" / f"network.parquet.tmp-{dead}"
    orphan.write_text("half")
    mine = tmp_path / f"candidates.tsv.tmp-{os.getpid()}"
    mine.write_text("being written")
    (tmp_path / "notes.tmp-x").write_text("not ours")
    assert orphan_tmp_files(tmp_path) == [orphan]


def _store_with_runs(tmp_path: Path) -> tuple[PipelineStore, int]:
    store = PipelineStore(tmp_path / "state" / "s.duckdb")
    for run_id in ("dead1", "alive1", "done1"):
        store.start_run(run_id, f"rule_{run_id}", "{}", config_hash=None)
    store.finish_run("done1", status="ok", rows=1, sidecar_sha256=None)
    dead = _dead_pid()
    with store._transaction("test") as con:
        con.execute("UPDATE _runs SET pid = ? WHERE run_id = 'dead1'", [dead])
    return store, dead


def test_mark_interrupted_only_dead_running_rows_of_this_host(tmp_path) -> None:
    import socket

    store, dead = _store_with_runs(tmp_path)
    with store._transaction("test") as con:
        con.execute("INSERT INTO _runs SELECT * REPLACE ('other' AS run_id, 'node7' AS host) "
                    "FROM _runs WHERE run_id = 'dead1'")  # fmt: skip
    changed = store.mark_interrupted(socket.gethostname(), pid_alive)
    assert [r["run_id"] for r in changed] == ["dead1"] and changed[0]["pid"] == dead
    status = dict(store.execute_query("SELECT run_id, status FROM _runs").iter_rows())
    assert status == {"dead1": "interrupted", "alive1": "running", "done1": "ok",
                      "other": "running"}  # fmt: skip
    assert store.mark_interrupted(socket.gethostname(), pid_alive) == []


def test_recover_unlocks_marks_and_cleans_when_no_run_is_alive(tmp_path) -> None:
    store, dead = _store_with_runs(tmp_path)
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    (tmp_path / "results").mkdir()
    tmp = tmp_path / "results" / f"gene_evidence.parquet.tmp-{dead}"
    tmp.write_text("x")
    calls = []
    rec = recover(tmp_path, "results", "state/s.duckdb", unlock=lambda: calls.append(1) or 0,
                  unlock_command="snakemake --unlock", live_pids=lambda: [])  # fmt: skip
    assert calls == [1] and rec.unlocked and rec.removed_tmp == [tmp] and not tmp.exists()
    assert [r["run_id"] for r in rec.interrupted_runs] == ["dead1"]


def test_recover_refuses_when_a_run_is_alive_names_its_pid_and_never_advises_unlock(
    tmp_path,
) -> None:
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("x")
    with pytest.raises(LiveRunError) as err:
        recover(tmp_path, "results", None, unlock=lambda: pytest.fail("must not unlock"),
                unlock_command="snakemake --unlock --directory x",
                live_pids=lambda: [4242])  # fmt: skip
    msg = str(err.value)
    assert "pid 4242" in msg and "kill 4242" in msg and "\n" not in msg
    assert "--unlock" not in msg


def _lock_holder(folder: Path) -> subprocess.Popen:
    """Another process that holds the run lock of ``folder`` (until killed); returns once held."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; sys.path.insert(0, sys.argv[1]);"
         "from usher_pipeline.recovery import RunLock;"
         "lock = RunLock(sys.argv[2]); lock.acquire(); print('held', flush=True); time.sleep(60)",
         str(Path(__file__).resolve().parents[1] / "scripts"), str(folder)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if holder.stdout is None or holder.stdout.readline().strip() != "held":
        holder.kill()
        holder.wait()
        raise AssertionError("the lock holder did not report holding the lock")
    return holder


def test_run_lock_second_holder_is_refused_naming_the_first_pid(tmp_path) -> None:
    holder = _lock_holder(tmp_path)
    try:
        with pytest.raises(LiveRunError) as err:
            RunLock(tmp_path).acquire()
        msg = str(err.value)
        assert f"pid {holder.pid}" in msg and "--unlock" not in msg and "\n" not in msg
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path) as lock:  # the dead holder left nothing behind
        assert lock.path.read_text().startswith(str(os.getpid()))


def test_usher_pipeline_run_refuses_in_one_line_while_another_run_holds_the_folder(
    tmp_path, monkeypatch, capsys
) -> None:
    from usher_pipeline import cli

    holder = _lock_holder(tmp_path)
    try:
        monkeypatch.setattr(cli, "REPO", tmp_path)
        monkeypatch.setattr(cli, "_call", lambda cmd: pytest.fail(f"ran {cmd}"))
        assert cli.main(["run", "--cores", "1"]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {holder.pid}" in err[0] and "--unlock" not in err[0]
    finally:
        holder.kill()
        holder.wait()


def test_live_snakemake_pids_finds_a_process_by_working_directory(tmp_path) -> None:
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    fake.write_text("import sys; sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, str(fake)], cwd=tmp_path, stdin=subprocess.PIPE)
    try:
        # until the child has exec'd (right after fork its command line is still the parent's)
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 30
        while str(fake).encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.pid in live_snakemake_pids(tmp_path)
        assert proc.pid not in live_snakemake_pids(tmp_path / "bin")
    finally:
        proc.stdin.close()
        proc.wait()
    assert proc.pid not in live_snakemake_pids(tmp_path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_for(cond, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _wait_gone(pgid: int, timeout: float) -> None:
    """Until no process of the group is left (SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} still alive {timeout}s after SIGKILL")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_kill_9_mid_run_then_run_again_recovers() -> None:
    clean = e2e.local_run()
    base = e2e.scratch_dir("usher-e2e-kill-")
    work = e2e.copy_workflow(base / "wf")
    env = dict(os.environ, PYTHONPATH=str(work / "scripts"), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "usher_pipeline.cli", "run", "--cores", "2", "--no-report",
           "--configfile", str(e2e.TEST_CONFIG_REL)]  # fmt: skip
    results = e2e.results_dir(work)
    logs = results / "logs"

    def a_layer_job_started() -> bool:
        return any("started" in p.read_text(errors="replace") for p in logs.glob("layer_*.log"))

    with open(base / "killed.log", "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=out,
                                start_new_session=True)  # fmt: skip
        try:
            _wait_for(a_layer_job_started, proc, 600, "a layer job started")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            e2e.note_workflow_run(cmd, time.monotonic() - started)
    _wait_gone(proc.pid, 60)  # every job of the group, not only the wrapper, is dead
    assert list((work / ".snakemake" / "locks").iterdir()), "kill -9 left no lock to recover"
    db = work / e2e.fixture_config()["state"]["db"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        running = con.execute("SELECT count(*) FROM _runs WHERE status = 'running'").fetchone()[0]
    finally:
        con.close()
    assert running >= 1
    # an atomic write the killed job left half done (its pid is dead)
    orphan = results / "layers" / f"network.parquet.tmp-{proc.pid}"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"half a parquet file")

    started = time.monotonic()
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    e2e.note_workflow_run(cmd, time.monotonic() - started)
    output = res.stdout + res.stderr
    assert res.returncode == 0, output[-5000:]
    assert "removed the stale Snakemake lock" in output and "marked interrupted" in output
    assert f"removed orphan temporary file {orphan}" in output
    con = duckdb.connect(str(db), read_only=True)
    try:
        statuses = dict(con.execute("SELECT status, count(*) FROM _runs GROUP BY 1").fetchall())
    finally:
        con.close()
    assert "running" not in statuses and statuses.get("interrupted", 0) >= 1, statuses
    assert not list(results.rglob("*.tmp-*"))
    for rel in ("candidates.parquet", "candidates.tsv", "gene_evidence.parquet",
                "universe/genes.parquet", *[f"layers/{n}.parquet" for n in LAYER_NAMES]):  # fmt: skip
        assert _sha(results / rel) == _sha(clean.results / rel), rel
