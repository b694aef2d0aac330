"""The ``usher-pipeline state`` command, called through state_cli.main([...])."""

from __future__ import annotations

import json

import polars as pl
import pytest
from state_fixtures import fake_snakemake, lock_holder, mp_context
from usher_pipeline.persistence import FetchCache, PipelineStore, RuleRun
from usher_pipeline.state_cli import main


@pytest.fixture
def workflow_state(tmp_path):
    """Two chained rule runs (raw -> scored) plus a fetch and a stored table."""
    (tmp_path / "raw_in.tsv").write_text("gene\nA\nB\nC\n")
    sm1 = fake_snakemake(tmp_path, rule="parse", inputs=["raw_in.tsv"], outputs=["r/parsed.tsv"])
    with RuleRun(sm1) as run:
        run.write_tsv(pl.read_csv(tmp_path / "raw_in.tsv"), sm1.output[0])
    sm2 = fake_snakemake(
        tmp_path, rule="score", inputs=["r/parsed.tsv"], outputs=["r/scored.parquet"]
    )
    with RuleRun(sm2) as run:
        df = pl.read_csv(sm2.input[0], separator="\t").with_columns(pl.lit(1).alias("s"))
        run.write_parquet(df, sm2.output[0], table_name="scored", sort_by="gene")
    db = sm1.config["state"]["db"]
    FetchCache(PipelineStore(db)).get_or_fetch(
        "hgnc", "2026-06", {"url": "https://x.org"}, "v1", lambda p: p.write_text("a\n1\n")
    )
    return tmp_path, db


def test_checkpoints_and_runs(workflow_state, capsys):
    tmp_path, db = workflow_state
    assert main(["--db", db, "checkpoints"]) == 0
    out = capsys.readouterr().out
    assert "scored" in out and "hgnc" in out and "2026-06" in out
    assert main(["--db", db, "runs"]) == 0
    out = capsys.readouterr().out
    assert "parse" in out and "score" in out and out.count(" ok ") >= 2
    assert main(["--db", db, "runs", "--rule", "parse"]) == 0
    out = capsys.readouterr().out
    assert "parse" in out and "score " not in out


def test_provenance_and_lineage(workflow_state, capsys):
    tmp_path, db = workflow_state
    target = str(tmp_path / "r" / "scored.parquet")
    assert main(["--db", db, "provenance", target]) == 0
    text = capsys.readouterr().out
    meta = json.loads(text[text.index("{") :])
    assert meta["rule"] == "score"
    # without the sidecar, the _provenance table answers
    (tmp_path / "r" / "scored.parquet.provenance.json").unlink()
    assert main(["--db", db, "provenance", target]) == 0
    assert "_provenance table" in capsys.readouterr().out
    assert main(["--db", db, "lineage", target]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "rule score" in lines[0]
    assert any("parsed.tsv" in ln and "rule parse" in ln for ln in lines[1:])
    assert any("raw_in.tsv" in ln and "source file" in ln for ln in lines)
    assert main(["--db", db, "lineage", str(tmp_path / "unknown.tsv")]) == 1


def test_verify_detects_changes(workflow_state, capsys):
    tmp_path, db = workflow_state
    assert main(["--db", db, "verify"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    parsed = tmp_path / "r" / "parsed.tsv"
    parsed.write_text("gene\nA\nB\nX\n")
    assert main(["--db", db, "verify"]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH  {parsed}" in out
    (tmp_path / "r" / "scored.parquet").unlink()
    assert main(["--db", db, "verify"]) == 1
    out = capsys.readouterr().out
    assert "MISSING" in out and "scored.parquet" in out and "2 problem(s)" in out


def test_invalidate(workflow_state, capsys):
    tmp_path, db = workflow_state
    assert main(["--db", db, "invalidate", "scored"]) == 0
    assert not PipelineStore(db).has_checkpoint("scored")
    assert main(["--db", db, "invalidate", "hgnc"]) == 0
    assert FetchCache(PipelineStore(db)).list().height == 0
    assert main(["--db", db, "invalidate", "nothing_like_this"]) == 1
    assert "nothing matches" in capsys.readouterr().err


def test_db_from_configfile(workflow_state, tmp_path, capsys):
    _, db = workflow_state
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"state:\n  db: {db}\n  lock_timeout_s: 5\n")
    assert main(["--configfile", str(cfg), "checkpoints"]) == 0
    assert "scored" in capsys.readouterr().out


def test_missing_db_is_refused_naming_the_path_and_nothing_is_created(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # not the repository root: no config/config.yaml, no state/
    assert main(["verify"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "state" / "usher_pipeline.duckdb") in err and "repository root" in err
    assert not (tmp_path / "state").exists()
    nope = tmp_path / "elsewhere" / "nope.duckdb"
    for command in (["verify"], ["runs"], ["checkpoints"]):
        assert main(["--db", str(nope), *command]) == 2
        assert str(nope) in capsys.readouterr().err
    assert not nope.parent.exists()


def test_verify_outside_the_root_refuses_relative_recorded_paths(tmp_path, monkeypatch, capsys):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "Snakefile").write_text("")
    monkeypatch.chdir(root)
    (root / "in.tsv").write_text("gene\nA\n")
    sm = fake_snakemake(root, rule="parse", inputs=["in.tsv"], outputs=["r/out.tsv"])
    sm.output = type(sm.output)(["r/out.tsv"])  # recorded relative, as Snakemake gives paths
    with RuleRun(sm) as run:
        run.write_tsv(pl.read_csv(root / "in.tsv"), "r/out.tsv")
    db = sm.config["state"]["db"]
    assert main(["--db", db, "verify"]) in (0, 1)
    assert "OK        r/out.tsv" in capsys.readouterr().out
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert main(["--db", db, "verify"]) == 2
    err = capsys.readouterr().err
    assert "not the repository root" in err and "r/out.tsv" in err


def test_verify_rehashes_snapshot_files(workflow_state, capsys):
    import shutil

    from core_fixtures import MINI

    tmp_path, db = workflow_state
    snap = tmp_path / "snap"
    shutil.copytree(MINI, snap)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"snapshot_dir: {snap}\nstate:\n  db: {db}\n")
    assert main(["--configfile", str(cfg), "verify"]) == 0
    out = capsys.readouterr().out
    n = len(json.loads((snap / "manifest.json").read_text())["files"])
    assert f"{n} snapshot files, 0 problem(s)" in out
    entry = json.loads((snap / "manifest.json").read_text())["files"][0]
    target = snap / entry["path"]
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0x01
    target.write_bytes(bytes(data))
    import os

    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime
    assert main(["--configfile", str(cfg), "verify"]) == 1
    out = capsys.readouterr().out
    assert f"CHANGED   {target}" in out and entry["key"] in out and "1 problem(s)" in out
    target.unlink()
    assert main(["--configfile", str(cfg), "verify"]) == 1
    assert f"MISSING   {target}" in capsys.readouterr().out


def test_verify_names_the_rule_that_recorded_a_changed_output(workflow_state, capsys):
    tmp_path, db = workflow_state
    parsed = tmp_path / "r" / "parsed.tsv"
    parsed.write_text("gene\nZ\n")
    assert main(["--db", db, "verify"]) == 1
    assert "changed after rule parse recorded it" in capsys.readouterr().out


def test_query_prints_a_table_and_writes_tsv_csv_json(workflow_state, capsys, tmp_path):
    _, db = workflow_state
    sql = "SELECT rule, status FROM _runs ORDER BY rule"
    assert main(["--db", db, "query", sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rule", "status"]
    assert [ln.split() for ln in lines[1:]] == [["parse", "ok"], ["score", "ok"]]
    assert main(["--db", db, "query", sql, "--format", "tsv"]) == 0
    assert capsys.readouterr().out == "rule\tstatus\nparse\tok\nscore\tok\n"
    out = tmp_path / "q.csv"
    assert main(["--db", db, "query", sql, "--format", "csv", "--output", str(out)]) == 0
    assert out.read_text() == "rule,status\nparse,ok\nscore,ok\n"
    assert capsys.readouterr().out == ""
    assert (
        main(["--db", db, "query", "SELECT 1 AS n, NULL AS v, 'a,b' AS s", "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out == 'n,v,s\n1,,"a,b"\n'
    assert main(["--db", db, "query", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"rule": "parse", "status": "ok"},
        {"rule": "score", "status": "ok"},
    ]
    nan_sql = "SELECT 'nan'::DOUBLE AS x, 'inf'::DOUBLE AS y, 1.5::DOUBLE AS z"
    assert main(["--db", db, "query", nan_sql, "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text  # not JSON
    assert json.loads(text) == [{"x": None, "y": None, "z": 1.5}]


def test_query_refuses_statements_that_write(workflow_state, capsys, tmp_path):
    _, db = workflow_state
    before = PipelineStore(db).execute_query("SELECT count(*) AS n FROM _runs")["n"][0]
    for sql in ("DELETE FROM _runs", "DROP TABLE scored", "CREATE TABLE t AS SELECT 1 AS x"):
        assert main(["--db", db, "query", sql]) == 2
        err = capsys.readouterr().err
        assert "read-only" in err and db in err
    target = tmp_path / "copy.csv"
    assert main(["--db", db, "query", f"COPY _runs TO '{target}'"]) == 2  # no writing files either
    assert not target.exists()
    assert main(["--db", db, "query", "SET enable_external_access = true"]) == 2
    capsys.readouterr()
    store = PipelineStore(db)
    assert store.execute_query("SELECT count(*) AS n FROM _runs")["n"][0] == before
    assert store.load_dataframe("scored").height == 3


def test_query_refuses_a_missing_database_and_creates_nothing(tmp_path, capsys):
    nope = tmp_path / "elsewhere" / "nope.duckdb"
    assert main(["--db", str(nope), "query", "SELECT 1"]) == 2
    assert str(nope) in capsys.readouterr().err
    assert not nope.parent.exists()


@pytest.mark.timeout(60)
def test_query_waits_for_the_store_lock_and_for_a_foreign_writer(workflow_state, capsys):
    import subprocess
    import sys
    import time

    _, db = workflow_state
    script = (
        "import sys, time, duckdb\n"
        "con = duckdb.connect(sys.argv[1])\n"  # read-write: a read-only open must wait too
        "print('ready', flush=True)\n"
        "time.sleep(2)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, db], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        assert main(["--db", db, "query", "SELECT count(*) AS n FROM scored"]) == 0
        assert time.monotonic() - t0 > 1.0
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        holder.wait()
    assert capsys.readouterr().out.split() == ["n", "3"]
    # a pipeline process holding the store lock is waited for as well (the query takes it too)
    ctx = mp_context()
    ready = ctx.Event()
    locker = ctx.Process(target=lock_holder, args=(db, ready, 2.0))
    locker.start()
    try:
        assert ready.wait(30)
        t0 = time.monotonic()
        assert main(["--db", db, "query", "SELECT count(*) AS n FROM scored"]) == 0
        assert time.monotonic() - t0 > 1.0
    finally:
        locker.join(30)
    assert capsys.readouterr().out.split() == ["n", "3"]
