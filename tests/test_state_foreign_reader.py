"""A DuckDB connection opened on the state database by a process outside the pipeline (a notebook)
makes the store wait (up to ``state.lock_timeout_s``) instead of failing; on timeout the error
names the database and the holder (persistence/connection.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from usher_pipeline.persistence import LockTimeoutError, PipelineStore
from usher_pipeline.persistence import connection as conn_mod
from usher_pipeline.persistence.connection import (
    DatabaseBusyError,
    holder_cmdline,
    parse_lock_conflict,
    retry_lock_conflict,
)

# Captured from duckdb 2.0.1 (the installed version): a second process opening a file that a
# read-only connection holds (read-write open), and one a read-write connection holds.
REAL_HOLDER_READ_ONLY = (
    'IO Error: Could not set lock on file "/tmp/lockexp/t.duckdb": Conflicting lock is held in '
    "/root/.pyenv/versions/3.11.7/bin/python3.11 (PID 30067). However, you would be able to open "
    "this database in read-only mode, e.g. by using the -readonly parameter in the CLI. See also "
    "https://duckdb.org/docs/current/connect/concurrency"
)
REAL_HOLDER_WRITER = (
    'IO Error: Could not set lock on file "/tmp/lockexp/t.duckdb": Conflicting lock is held in '
    "/root/.pyenv/versions/3.11.7/bin/python3.11 (PID 30125). See also "
    "https://duckdb.org/docs/current/connect/concurrency"
)
# Reported in public issues (duckdb 1.x on macOS with the user; NFS without a pid; before 0.10).
WITH_USER = (
    'IO Error: Could not set lock on file "/Users/me/data.duckdb": Conflicting lock is held in '
    "/Users/me/mambaforge/bin/python3.10 (PID 3347) by user me.name. See also "
    "https://duckdb.org/docs/stable/connect/concurrency"
)
PID_ZERO = (
    'IO Error: Could not set lock on file "/storage/my_db.duckdb": Conflicting lock is held in '
    "PID 0. See also https://duckdb.org/docs/connect/concurrency"
)
OLD_STYLE = (
    'IO Error: Could not set lock on file "./water.duckdb": Resource temporarily unavailable'
)
NO_LOCKS = (
    'IO Error: Could not set lock on file "/Volumes/home/test1.db": Operation not supported. '
    "See also https://duckdb.org/docs/connect/concurrency"
)

HOLD_SCRIPT = (
    "import sys, time, duckdb\n"
    "con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro')\n"
    "print('ready', flush=True)\n"
    "time.sleep(float(sys.argv[3]))\n"
    "con.close()\n"
)


def test_parse_real_messages_of_the_installed_duckdb() -> None:
    ro = parse_lock_conflict(REAL_HOLDER_READ_ONLY)
    assert ro is not None
    assert ro.path == "/tmp/lockexp/t.duckdb" and ro.pid == 30067
    assert ro.program == "/root/.pyenv/versions/3.11.7/bin/python3.11" and ro.holder_read_only
    rw = parse_lock_conflict(REAL_HOLDER_WRITER)
    assert rw is not None and rw.pid == 30125 and not rw.holder_read_only and rw.user is None


def test_parse_other_message_forms() -> None:
    user = parse_lock_conflict(WITH_USER)
    assert user is not None and user.pid == 3347 and user.user == "me.name"
    assert user.program == "/Users/me/mambaforge/bin/python3.10"
    zero = parse_lock_conflict(PID_ZERO)
    assert zero is not None and zero.pid is None and zero.path == "/storage/my_db.duckdb"
    old = parse_lock_conflict(OLD_STYLE)
    assert old is not None and old.pid is None and old.path == "./water.duckdb"
    assert parse_lock_conflict(NO_LOCKS) is None  # no lock support: not worth waiting for
    assert parse_lock_conflict('Catalog Error: Table with name "x" does not exist!') is None


def test_the_parser_reads_what_duckdb_says_now(tmp_path) -> None:
    """Capture the message live: a holder process, and a read-write open from this one."""
    db = tmp_path / "live.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(db), "ro", "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(duckdb.Error) as err:
            duckdb.connect(str(db))
        conflict = parse_lock_conflict(str(err.value))
        assert conflict is not None, str(err.value)
        assert conflict.pid == holder.pid and conflict.holder_read_only
        assert Path(conflict.path).resolve() == db.resolve()
        cmd = holder_cmdline(holder.pid)
        assert cmd is not None and "read_only" in cmd
    finally:
        holder.kill()
        holder.wait()


def test_backoff_grows_to_one_second_then_names_the_holder(monkeypatch, tmp_path) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    monkeypatch.setattr(conn_mod.time, "monotonic", lambda: now[0])
    calls = []

    def busy() -> None:
        calls.append(now[0])
        raise duckdb.IOException(REAL_HOLDER_READ_ONLY)

    db = tmp_path / "s.duckdb"
    with pytest.raises(DatabaseBusyError) as err:
        retry_lock_conflict(busy, db, 5.0, sleep=sleep)
    assert slept[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(slept) == 1.0 and now[0] == pytest.approx(5.0)
    assert isinstance(err.value, LockTimeoutError) and err.value.holder["pid"] == 30067
    msg = str(err.value)
    assert str(db) in msg and "pid 30067" in msg and "opened read-only" in msg
    assert "usher-pipeline state query" in msg and "state.lock_timeout_s" in msg


def test_other_errors_are_not_retried(tmp_path) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise duckdb.IOException(NO_LOCKS)

    with pytest.raises(duckdb.IOException):
        retry_lock_conflict(broken, tmp_path / "x.duckdb", 30, sleep=lambda s: None)
    assert calls == [1]
    assert retry_lock_conflict(lambda: 7, tmp_path / "x.duckdb", 0) == 7


def _holder(db: Path, mode: str, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(db), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.timeout(60)
def test_save_waits_for_a_read_only_connection_of_another_process(tmp_path) -> None:
    db = tmp_path / "state.duckdb"
    store = PipelineStore(db, lock_timeout_s=30)
    store.save_dataframe(pl.DataFrame({"x": [1]}), "t")
    holder = _holder(db, "ro", 3)
    try:
        t0 = time.monotonic()
        store.save_dataframe(pl.DataFrame({"x": [1, 2]}), "t")
        waited = time.monotonic() - t0
        assert holder.wait(10) == 0  # the holder ran its course: the save waited for it
    finally:
        holder.kill()
        holder.wait()
    assert 1.5 < waited < 20
    assert store.load_dataframe("t")["x"].to_list() == [1, 2]


@pytest.mark.timeout(60)
def test_timeout_names_the_database_and_the_holders_pid_and_command(tmp_path) -> None:
    db = tmp_path / "state.duckdb"
    PipelineStore(db).save_dataframe(pl.DataFrame({"x": [1]}), "t")
    holder = _holder(db, "ro", 10)
    try:
        store = PipelineStore(db, lock_timeout_s=1)
        t0 = time.monotonic()
        with pytest.raises(LockTimeoutError) as err:
            store.save_dataframe(pl.DataFrame({"x": [2]}), "t")
        assert 0.9 < time.monotonic() - t0 < 5
        assert holder.poll() is None  # still holding: the store gave up, nothing broke it
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(err.value, DatabaseBusyError)
    msg = str(err.value)
    assert str(db) in msg and f"pid {holder.pid}" in msg
    assert "read_only" in msg  # its command line, read from /proc
    assert f"end pid {holder.pid}" in msg and "usher-pipeline state query" in msg
    assert err.value.holder["pid"] == holder.pid
    # the store lock was released: once the holder is gone the store works again
    assert store.load_dataframe("t")["x"].to_list() == [1]


@pytest.mark.timeout(60)
def test_gc_waits_for_a_read_write_connection_of_another_process(tmp_path) -> None:
    from usher_pipeline.persistence.gc import collect_garbage

    db = tmp_path / "state.duckdb"
    store = PipelineStore(db, lock_timeout_s=30)
    store.save_dataframe(pl.DataFrame({"x": [1]}), "orphan")  # no run references it: gc drops it
    holder = _holder(db, "rw", 2)
    try:
        plan = collect_garbage(store, keep_last=1)
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        holder.wait()
    assert [t["table_name"] for t in plan.tables_dropped] == ["orphan"]
    assert store.load_dataframe("orphan") is None


def test_every_duckdb_connect_of_the_package_is_reviewed() -> None:
    """Outside connection.py (the helper), a ``duckdb.connect`` of the package may open only a
    private file; a new one must be reviewed (and go through connect_state_db if it opens the
    state database)."""
    import re

    import usher_pipeline

    root = Path(usher_pipeline.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        if path.name == "connection.py":
            continue
        for m in re.finditer(r"duckdb\.connect\((.*)$", path.read_text(), re.M):
            found.add((path.relative_to(root).as_posix(), m.group(1).strip()))
    assert found == {
        ("persistence/gc.py", ")"),  # in-memory; ATTACHes the state DB via retry_lock_conflict
        ("persistence/transfer.py", "str(snap))"),  # export: a copy in a temporary folder
        ("persistence/transfer.py", "str(dest))"),  # import: the bag's dump, a new file
        ("persistence/transfer.py", "str(work))"),  # import: the private copy swapped in
        # import: the bag's staged dump, read-only, for the sha256 its own runs record
        ("persistence/transfer.py", "str(staged), read_only=True)"),
    }, found
