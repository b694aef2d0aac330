"""Multi-process safety and crash safety of the state database.

The stress and crash tests are marked ``slow`` (each needs tens of seconds on 2 cores: every
operation opens its own DuckDB connection under the inter-process lock).
"""

from __future__ import annotations

import os
import random
import signal
import time

import duckdb
import pytest
from state_fixtures import crash_writer, lock_holder, mp_context, stress_worker
from usher_pipeline.persistence import LockTimeoutError, PipelineStore, content_hash

N_WORKERS = 16
N_OPS = 200


@pytest.mark.timeout(60)
def test_lock_timeout_names_database_and_holder(tmp_path):
    db = tmp_path / "state.duckdb"
    ctx = mp_context()
    ready = ctx.Event()
    p = ctx.Process(target=lock_holder, args=(str(db), ready, 20.0))
    p.start()
    try:
        assert ready.wait(30)
        store = PipelineStore(db, lock_timeout_s=0.5)
        t0 = time.perf_counter()
        with pytest.raises(LockTimeoutError) as err:
            store.load_dataframe("x")
        assert 0.4 < time.perf_counter() - t0 < 5
        msg = str(err.value)
        assert str(db) in msg
        assert f"pid {p.pid}" in msg and "holder_rule" in msg and "test-hold" in msg
        assert err.value.holder["pid"] == p.pid
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    # the kernel released the lock of the killed holder: no stale lock
    store = PipelineStore(db, lock_timeout_s=5)
    assert store.load_dataframe("x") is None


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_stress_16_processes_200_ops(tmp_path):
    db = str(tmp_path / "stress.duckdb")
    ctx = mp_context()
    q = ctx.Queue()
    procs = [ctx.Process(target=stress_worker, args=(db, w, N_OPS, q)) for w in range(N_WORKERS)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get(timeout=380) for _ in procs]
    for p in procs:
        p.join(30)
    wall = time.perf_counter() - t0
    errors = [e for _, errs, _ in results for e in errs]
    assert errors == [], errors[:10]
    assert all(p.exitcode == 0 for p in procs)
    store = PipelineStore(db)
    shared = store.load_dataframe("shared")
    expected = {(w, i) for w, _, written in results for i in written}
    assert len(expected) == N_WORKERS * N_OPS // 4
    got = set(zip(shared["worker"].to_list(), shared["op"].to_list(), strict=True))
    assert got == expected and shared.height == len(expected)  # 0 lost, 0 duplicated rows
    cp = store.list_checkpoints()
    shared_row = cp.filter(cp["table_name"] == "shared").row(0, named=True)
    assert shared_row["row_count"] == shared.height
    assert shared_row["content_sha256"] == content_hash(shared)
    for w in range(N_WORKERS):
        assert store.load_dataframe(f"own_{w}")["w"].to_list() == [w] * ((N_OPS - 2) % 7 + 1)
    n_ops = store.execute_query("SELECT count(*) AS n, sum(wait_s) AS w FROM _lock_waits")
    assert n_ops["n"][0] >= N_WORKERS * N_OPS
    print(
        f"\nstress: {N_WORKERS}x{N_OPS} ops, wall {wall:.1f}s, errors 0, lost rows 0, "
        f"summed lock wait {n_ops['w'][0]:.1f}s"
    )


def _check_consistent(db: str) -> int:
    """The DB opens; every table marked complete is whole and matches its hash. Returns gen."""
    con = duckdb.connect(db)  # opens (WAL replayed) without any repair step
    con.close()
    store = PipelineStore(db, lock_timeout_s=30)
    cps = store.list_checkpoints()
    tables = set(store.execute_query("SELECT table_name FROM duckdb_tables()")["table_name"])
    assert not any(t.startswith("_stg_") for t in tables), tables
    gen = -1
    for row in cps.iter_rows(named=True):
        assert row["status"] == "complete"
        df = store.load_dataframe(row["table_name"])
        assert df is not None, f"{row['table_name']} recorded complete but missing"
        assert df.height == row["row_count"]
        assert content_hash(df) == row["content_sha256"]
        if row["table_name"] == "crash_t":
            gen = int(df["gen"][0])
            assert set(df["gen"]) == {gen} and df.height == 1000 + gen
            assert row["description"] == f"gen {gen}"
    return gen


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_at_random_instants_20_trials(tmp_path):
    db = str(tmp_path / "crash.duckdb")
    ctx = mp_context()
    rng = random.Random(1234)
    gens = []
    for _ in range(20):
        ready = ctx.Event()
        p = ctx.Process(target=crash_writer, args=(db, ready, False))
        p.start()
        assert ready.wait(60)
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        assert p.exitcode == -signal.SIGKILL
        gens.append(_check_consistent(db))
    assert max(gens) > 0, gens  # the writer made progress between kills
    # a rerun completes normally
    store = PipelineStore(db, lock_timeout_s=30)
    store.save_dataframe(store.load_dataframe("crash_t"), "rerun_copy")
    assert store.has_checkpoint("rerun_copy")
    print(f"\ncrash: 20 SIGKILL trials, generations reached {gens}")


@pytest.mark.timeout(120)
def test_sigkill_mid_write_keeps_previous_version(tmp_path):
    db = str(tmp_path / "midwrite.duckdb")
    ctx = mp_context()
    ready = ctx.Event()
    p = ctx.Process(target=crash_writer, args=(db, ready, True))
    p.start()
    assert ready.wait(60)  # the new table is created, the old dropped, not yet committed
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    gen = _check_consistent(db)
    assert gen == 0  # the complete generation before the killed write is intact
    store = PipelineStore(db, lock_timeout_s=30)
    waits = store.execute_query("SELECT count(*) AS n FROM _lock_waits WHERE pid = ?", [p.pid])
    assert waits["n"][0] >= 1
    # rerun: a fresh writer continues from the stored generation
    ready2 = ctx.Event()
    p2 = ctx.Process(target=crash_writer, args=(db, ready2, False))
    p2.start()
    assert ready2.wait(60)
    time.sleep(0.5)
    os.kill(p2.pid, signal.SIGKILL)
    p2.join()
    assert _check_consistent(db) >= 1
