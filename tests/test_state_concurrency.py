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
from state_fixtures import (
    crash_writer,
    lock_holder,
    mixed_stress,
    mixed_stress_problems,
    mp_context,
)
from usher_pipeline.persistence import LockTimeoutError, PipelineStore, content_hash

N_WORKERS = 16
N_OPS = 24  # 16 x 200: benchmarks/bench_state.py (e)


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
def test_stress_16_processes_mixed_ops(tmp_path):
    """16 processes on one file, every kind of operation; the 16 x 200 size of the issue-3
    acceptance runs in ``benchmarks/bench_state.py`` (same worker, same checks)."""
    db = str(tmp_path / "stress.duckdb")
    res = mixed_stress(db, N_WORKERS, N_OPS)
    errors = res["errors"]
    assert errors == [], errors[:10]
    assert all(code == 0 for code in res["exitcodes"])
    expected = res["expected"]
    assert len(expected) == N_WORKERS * N_OPS // 4
    assert res["got"] == expected and res["shared_height"] == len(expected)  # 0 lost/duplicated
    assert res["checkpoint_rows"] == res["shared_height"]
    assert res["checkpoint_hash_ok"]
    for w in range(N_WORKERS):
        assert res["own"][w] == [w] * ((N_OPS - 2) % 7 + 1)
    assert res["lock_ops"] >= N_WORKERS * N_OPS
    assert mixed_stress_problems(res, N_WORKERS, N_OPS) == []
    print(
        f"\nstress: {N_WORKERS}x{N_OPS} ops, wall {res['wall_s']:.1f}s, errors 0, lost rows 0, "
        f"summed lock wait {res['lock_wait_s']:.1f}s"
    )


def test_mixed_stress_problems_names_a_lost_row_and_a_bad_own_table():
    """The checker the benchmark relies on finds what the test asserts."""
    good = {"errors": [], "exitcodes": [0, 0], "expected": {(0, 0), (1, 0)},
            "got": {(0, 0), (1, 0)}, "shared_height": 2, "checkpoint_rows": 2,
            "checkpoint_hash_ok": True, "own": {0: [0] * 3, 1: [1] * 3}, "lock_ops": 8}  # fmt: skip
    assert mixed_stress_problems(good, 2, 4) == []
    lost = {**good, "got": {(0, 0)}, "shared_height": 1, "checkpoint_rows": 1}
    assert any("1 lost" in p for p in mixed_stress_problems(lost, 2, 4))
    bad_own = {**good, "own": {0: [0] * 3, 1: [1] * 2}}
    assert mixed_stress_problems(bad_own, 2, 4) == ["own_1 holds [1, 1]"]
    assert mixed_stress_problems({**good, "exitcodes": [0, -9]}, 2, 4)


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
