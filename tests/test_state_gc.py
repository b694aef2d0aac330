"""``state gc``: drops only what no kept run and no current output references."""

from __future__ import annotations

import polars as pl
from state_fixtures import fake_snakemake
from usher_pipeline.persistence import FetchCache, PipelineStore, RuleRun
from usher_pipeline.persistence.gc import collect_garbage
from usher_pipeline.state_cli import main


def _fetch(cache: FetchCache, url: str, text: str):
    return cache.get_or_fetch("src", "r1", {"url": url}, "v1", lambda p: p.write_text(text))


def _run_score(tmp_path, version: int, *, fetch_url: str, batch_q: str, table: str = "scored"):
    """One run of a rule that uses a fetch and a batched pull and stores a table."""
    sm = fake_snakemake(tmp_path, rule="score", outputs=["r/scored.parquet"])
    with RuleRun(sm) as run:
        cache = FetchCache(run.store, tmp_path / "dl")
        got = _fetch(cache, fetch_url, f"payload {fetch_url}\n")
        b = cache.batches("pubmed", "r1", {"q": batch_q}, "v1")
        if not b.done_batch_ids():
            b.save_batch("0", pl.DataFrame({"n": [version]}))
        b.load_all()
        df = pl.DataFrame({"gene": ["A", "B"], "v": [version, version], "src": [got.sha256] * 2})
        run.write_parquet(df, sm.output[0], table_name=table, sort_by="gene")
    return sm.config["state"]["db"]


def _tables(db) -> set[str]:
    return set(PipelineStore(db).list_checkpoints()["table_name"])


def test_gc_keeps_referenced_and_frees_the_rest(tmp_path, capsys):
    db = _run_score(tmp_path, 1, fetch_url="https://a.org/old", batch_q="old", table="scored_v1")
    db = _run_score(tmp_path, 2, fetch_url="https://a.org/new", batch_q="new")
    store = PipelineStore(db)
    # a table nobody produced any more, and a fetch no run used
    store.save_dataframe(pl.DataFrame({"x": [1, 2, 3]}), "orphan")
    stray = _fetch(FetchCache(store, tmp_path / "dl"), "https://a.org/stray", "stray\n")
    old_file = next(
        p["path"]
        for p in store.execute_query(
            "SELECT path FROM _fetch_checkpoints WHERE path LIKE '%src%'"
        ).to_dicts()
        if "old" in open(p["path"]).read()
    )
    assert len(store.execute_query("SELECT * FROM _runs")) == 2

    plan = collect_garbage(store, keep_last=1, dry_run=True)
    assert [r["rule"] for r in plan.runs_dropped] == ["score"]
    assert {t["table_name"] for t in plan.tables_dropped} == {"scored_v1", "orphan"}
    assert {f["path"] for f in plan.fetches_dropped} == {old_file, str(stray.path)}
    assert [b["rows"] for b in plan.batches_dropped] == [1]
    # the dry run changed nothing
    assert _tables(db) == {"scored_v1", "scored", "orphan"}
    assert main(["--db", db, "gc", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would drop table orphan" in out and "nothing changed" in out

    assert main(["--db", db, "gc"]) == 0
    out = capsys.readouterr().out
    assert "dropped table orphan" in out and "freed 1 runs, 2 tables" in out
    # what the kept (newest) run references survives, by content hash
    assert _tables(db) == {"scored"}
    assert store.load_dataframe("scored")["v"].to_list() == [2, 2]
    cache = FetchCache(store, tmp_path / "dl")
    hit = cache.lookup("src", "r1", {"url": "https://a.org/new"}, "v1")
    assert hit is not None and hit.path.exists()
    assert cache.batches("pubmed", "r1", {"q": "new"}, "v1").load_all()["n"].to_list() == [2]
    # what it did not reference is gone, files included
    assert cache.lookup("src", "r1", {"url": "https://a.org/old"}, "v1") is None
    assert not stray.path.exists()
    assert cache.batches("pubmed", "r1", {"q": "old"}, "v1").load_all() is None
    assert len(store.execute_query("SELECT * FROM _runs")) == 1
    # a second gc has nothing left to do
    again = collect_garbage(store, keep_last=1)
    assert again.empty


def test_gc_keeps_the_run_behind_a_current_output(tmp_path):
    """A current output whose producer is not among the last N runs keeps that run alive."""
    db = _run_score(tmp_path, 1, fetch_url="https://a.org/x", batch_q="x")
    store = PipelineStore(db)
    # a newer run of the same rule whose output went elsewhere (different wildcards: none) ...
    sm = fake_snakemake(tmp_path, rule="score", outputs=["r/other.parquet"])
    with RuleRun(sm) as run:
        run.write_parquet(pl.DataFrame({"g": ["Z"]}), sm.output[0])
    plan = collect_garbage(store, keep_last=1, dry_run=True)
    assert plan.runs_dropped == []  # the first run still produced r/scored.parquet on disk
    assert plan.tables_dropped == []
    # once that output changes on disk, its producer is no longer current
    (tmp_path / "r" / "scored.parquet").write_bytes(b"changed")
    plan = collect_garbage(store, keep_last=1, dry_run=True)
    assert len(plan.runs_dropped) == 1 and plan.tables_dropped[0]["table_name"] == "scored"
    assert collect_garbage(store, keep_last=2, dry_run=True).runs_dropped == []


def test_runs_shows_size(tmp_path, capsys):
    db = _run_score(tmp_path, 1, fetch_url="https://a.org/x", batch_q="x")
    size = (tmp_path / "r" / "scored.parquet").stat().st_size
    assert main(["--db", db, "runs"]) == 0
    out = capsys.readouterr().out
    assert "size" in out.splitlines()[0] and f" {size} " in out
