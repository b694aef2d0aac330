"""The faster store: reads write nothing, lock-wait records are folded exactly once, the schema is
checked once per file and process, and a rule's whole record is one commit."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from state_fixtures import fake_snakemake
from usher_pipeline.persistence import PipelineStore, RuleRun
from usher_pipeline.persistence import store as store_mod
from usher_pipeline.persistence.stress import run_stress


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reads_leave_the_database_file_untouched(tmp_path):
    db = tmp_path / "s.duckdb"
    store = PipelineStore(db)
    store.save_dataframe(pl.DataFrame({"a": [1, 2]}), "t")
    before = _sha(db)
    for _ in range(3):
        assert store.has_checkpoint("t")
        assert store.load_dataframe("t").height == 2
        assert store.execute_query("SELECT count(*) AS n FROM t")["n"][0] == 2
        store.list_checkpoints()
    assert _sha(db) == before  # no WAL, no checkpoint: nothing written by 12 reads
    assert not (tmp_path / "s.duckdb.wal").exists()
    ops = store.execute_query("SELECT operation FROM _lock_waits")["operation"].to_list()
    assert ops.count("has:t") == 3 and ops.count("load:t") == 3 and ops.count("save:t") == 1
    assert ops.count("list_checkpoints") == 3 and ops.count("query") == 3


def test_lock_wait_records_are_folded_exactly_once(tmp_path):
    db = tmp_path / "s.duckdb"
    store = PipelineStore(db)
    store.save_dataframe(pl.DataFrame({"a": [1]}), "t")
    store.has_checkpoint("t")
    log = store_mod.lock_log_path(db)
    saved = log.read_bytes()  # the record of has:t, not yet folded
    n1 = store.execute_query("SELECT count(*) AS n FROM _lock_waits")["n"][0]
    assert not log.exists() or log.read_bytes().count(b"\n") == 2  # folded, then the query's own
    # a crash between COMMIT and removing the log leaves the folded lines behind, and the next
    # record is appended to that same log: the folded lines must not be inserted again
    own = log.read_bytes().split(b"\n", 1)[1]  # the query's own record (a new log was begun)
    log.write_bytes(saved + own)
    n2 = store.execute_query("SELECT count(*) AS n FROM _lock_waits")["n"][0]
    assert n2 == n1 + 1  # only the previous query's own record is new
    ops = store.execute_query("SELECT operation FROM _lock_waits")["operation"].to_list()
    assert ops.count("has:t") == 1


def test_schema_checked_once_per_file_and_process(tmp_path, monkeypatch):
    calls = []
    real = store_mod.ensure_schema
    monkeypatch.setattr(store_mod, "ensure_schema", lambda con: (calls.append(1), real(con)))
    db = tmp_path / "s.duckdb"
    for _ in range(3):
        s = PipelineStore(db)  # a new store each time, like one per rule job
        s.save_dataframe(pl.DataFrame({"a": [1]}), "t")
        s.has_checkpoint("t")
    assert len(calls) == 1
    # a file swapped in (new inode, as import and gc do) is checked again
    other = tmp_path / "o.duckdb"
    PipelineStore(other).save_dataframe(pl.DataFrame({"b": [2]}), "u")
    other.replace(db)
    assert PipelineStore(db).load_dataframe("u")["b"].to_list() == [2]
    assert len(calls) == 3


def test_a_rule_commits_its_tables_with_its_run(tmp_path):
    sm = fake_snakemake(tmp_path, rule="two_tables", outputs=["r/a.parquet", "r/b.parquet"])
    with RuleRun(sm) as run:
        run.write_parquet(pl.DataFrame({"x": [1]}), sm.output[0], table_name="ta")
        run.write_parquet(pl.DataFrame({"y": [2]}), sm.output[1], table_name="tb")
        assert not run.store.has_checkpoint("ta")  # not before the job succeeds
    store = PipelineStore(sm.config["state"]["db"])
    assert store.has_checkpoint("ta") and store.has_checkpoint("tb")
    ops = store.execute_query("SELECT operation FROM _lock_waits WHERE rule = 'two_tables'")[
        "operation"
    ].to_list()
    writes = [o for o in ops if not o.startswith(("has:", "load:", "query"))]
    assert writes == ["run_start:two_tables", "run_end:ok"]  # two commits for the whole job
    # a failing job stores none of its tables
    sm2 = fake_snakemake(tmp_path, rule="fails", outputs=["r/c.parquet"])
    with pytest.raises(RuntimeError), RuleRun(sm2) as run:
        run.write_parquet(pl.DataFrame({"z": [3]}), sm2.output[0], table_name="tc")
        raise RuntimeError("boom")
    assert not store.has_checkpoint("tc")


@pytest.mark.timeout(600)
def test_16_processes_save_check_pairs(tmp_path):
    res = run_stress(tmp_path / "pairs.duckdb", workers=16, pairs=5)
    assert res.errors == [], res.errors[:5]
    assert res.exitcodes == [0] * 16
    assert res.rows_found == res.rows_expected == 80 and res.lost == 0 and res.duplicated == 0
    assert res.ok and res.wall_s < 120  # 80 of the 1,600 pairs bench_state.py runs
    print(f"\n16 x 5 save+check pairs: {res.wall_s:.1f} s, 0 errors, 0 lost rows")
