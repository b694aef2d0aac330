"""The ``usher-pipeline state`` command, called through state_cli.main([...])."""

from __future__ import annotations

import json

import polars as pl
import pytest
from state_fixtures import fake_snakemake
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
