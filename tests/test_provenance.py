"""ProvenanceTracker and RuleRun: sidecars (naming, schema), store records, failure cleanup."""

from __future__ import annotations

import json
import logging

import jsonschema
import polars as pl
import pytest
from state_fixtures import fake_snakemake, gene_table
from usher_pipeline.persistence import (
    SCHEMA_PATH,
    PipelineStore,
    ProvenanceTracker,
    RuleRun,
    config_hash,
    read_parquet_metadata,
    sha256_file,
    sidecar_path,
    validate_sidecar,
)


def _validate(path):
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(path.read_text()), schema, cls=jsonschema.Draft202012Validator)


def test_sidecar_names_keep_full_file_name(tmp_path):
    assert sidecar_path("r/candidates.tsv").name == "candidates.tsv.provenance.json"
    assert sidecar_path("r/candidates.parquet").name == "candidates.parquet.provenance.json"
    assert sidecar_path("r/x.tsv.provenance.json").name == "x.tsv.provenance.json"


def test_tracker_metadata_and_sidecars(tmp_path):
    cfg = {"b": 1, "a": {"y": 2, "x": 1}}
    tr = ProvenanceTracker.from_config(cfg)
    assert tr.config_hash == config_hash({"a": {"x": 1, "y": 2}, "b": 1})  # key order irrelevant
    src = tmp_path / "hgnc.tsv"
    src.write_text("a\tb\n1\t2\n")
    tr.add_source(
        "hgnc",
        "2026-06",
        "https://example.org/hgnc.txt",
        path=src,
        retrieved_at="2026-06-01T00:00:00Z",
        validators={"etag": '"abc"', "last_modified": "Mon, 01 Jun 2026 00:00:00 GMT"},
    )
    tr.add_input(src)
    tr.record_step("parse", {"rows": 1})
    tsv = tmp_path / "candidates.tsv"
    pq_ = tmp_path / "candidates.parquet"
    tsv.write_text("g\nA\nB\n")
    gene_table(5).write_parquet(pq_)
    tr.add_output(tsv)
    tr.add_output(pq_)
    meta = tr.create_metadata()
    assert meta["pipeline"]["version"]
    assert meta["sources"][0]["sha256"] == sha256_file(src)
    assert meta["sources"][0]["validators"]["etag"] == '"abc"'
    assert meta["processing_steps"][0]["name"] == "parse"
    assert meta["processing_steps"][0]["timestamp"].endswith("Z")
    assert meta["inputs"][0]["rows"] == 1
    assert {o["rows"] for o in meta["outputs"]} == {2, 5}
    assert {"python", "polars", "duckdb"} <= set(meta["software"])
    s1 = tr.save_sidecar(tsv)
    s2 = tr.save_sidecar(pq_)
    assert s1 != s2 and s1.exists() and s2.exists()
    _validate(s1)
    _validate(s2)
    assert ProvenanceTracker.load_sidecar(tsv)["output"]["path"] == str(tsv)
    assert ProvenanceTracker.load_sidecar(s2)["output"]["rows"] == 5
    assert not list(tmp_path.glob("*.tmp-*"))


def test_provenance_hash_is_time_independent(tmp_path):
    cfg = {"x": 1}
    a = ProvenanceTracker("1.0", cfg)
    b = ProvenanceTracker("1.0", cfg)
    a.record_step("s")
    assert a.provenance_hash() == b.provenance_hash()
    f = tmp_path / "in.txt"
    f.write_text("x")
    a.add_input(f)
    assert a.provenance_hash() != b.provenance_hash()
    assert ProvenanceTracker("1.0", {"x": 2}).provenance_hash() != b.provenance_hash()


def test_schema_rejects_bad_sidecar(tmp_path):
    tr = ProvenanceTracker("1.0", {})
    out = tmp_path / "o.txt"
    out.write_text("x")
    tr.add_output(out)
    meta = tr.create_metadata()
    meta["output"] = tr.outputs[0]
    validate_sidecar(meta)
    for mutate in (
        lambda m: m.pop("config_hash"),
        lambda m: m.__setitem__("created_at", "yesterday"),
        lambda m: m["output"].__setitem__("sha256", "nothex"),
        lambda m: m.__setitem__("processing_steps", [{"name": "x"}]),
    ):
        bad = json.loads(json.dumps(meta))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate_sidecar(bad)


def test_save_to_store(tmp_path):
    store = PipelineStore(tmp_path / "s.duckdb")
    tr = ProvenanceTracker("1.0", {"a": 1})
    out = tmp_path / "o.tsv"
    out.write_text("a\n1\n")
    tr.add_output(out)
    side = tr.save_sidecar(out)
    tr.save_to_store(store)
    rows = store.execute_query("SELECT * FROM _provenance").to_dicts()
    assert len(rows) == 1
    assert rows[0]["output_path"] == str(out)
    assert rows[0]["sidecar_sha256"] == sha256_file(side)
    assert json.loads(rows[0]["metadata_json"])["config_hash"] == tr.config_hash


def test_rule_run_success(tmp_path):
    (tmp_path / "in.tsv").write_text("gene\tn\nA\t1\nB\t2\n")
    sm = fake_snakemake(
        tmp_path,
        rule="score_genes",
        inputs=["in.tsv"],
        outputs={"parquet": "results/candidates.parquet", "tsv": "results/candidates.tsv"},
        wildcards={"dataset": "demo"},
        params={"threshold": 3},
    )
    with RuleRun(sm) as run:
        assert run.params.threshold == 3
        assert run.config["state"]["db"].endswith("state.duckdb")
        df = gene_table(12)
        run.record_step("score", {"n": df.height})
        run.add_source("hgnc", "2026-06", "https://example.org/hgnc")
        run.write_parquet(df, sm.output.parquet, table_name="candidates", sort_by="hgnc_id")
        run.write_tsv(df, sm.output.tsv)
        run.log.info("hello from the rule")
    for out in (sm.output.parquet, sm.output.tsv):
        side = sidecar_path(out)
        _validate(side)
        meta = json.loads(side.read_text())
        assert meta["rule"] == "score_genes"
        assert meta["wildcards"] == {"dataset": "demo"}
        assert meta["inputs"][0]["sha256"] == sha256_file(tmp_path / "in.tsv")
        assert meta["output"]["rows"] == 12
    pmeta = read_parquet_metadata(sm.output.parquet)
    assert (
        pmeta["usher_pipeline.provenance_sha256"]
        == json.loads(sidecar_path(sm.output.parquet).read_text())["provenance_sha256"]
    )
    assert "hello from the rule" in (tmp_path / "logs" / "demo.log").read_text()
    store = PipelineStore.from_config(sm.config)
    runs = store.execute_query("SELECT * FROM _runs").to_dicts()
    assert len(runs) == 1
    r = runs[0]
    assert r["status"] == "ok" and r["rule"] == "score_genes" and r["rows"] == 24
    assert json.loads(r["wildcards"]) == {"dataset": "demo"}
    assert r["started_at"] <= r["ended_at"]
    assert r["sidecar_sha256"] == sha256_file(sidecar_path(sm.output.parquet))
    files = store.execute_query("SELECT direction, path, sha256 FROM _run_files").to_dicts()
    assert {(f["direction"], f["path"]) for f in files} == {
        ("input", str(tmp_path / "in.tsv")),
        ("output", sm.output.parquet),
        ("output", sm.output.tsv),
        ("table", "candidates"),  # what the run stored, by content hash (for state gc)
    }
    assert store.has_checkpoint("candidates")
    assert store.execute_query("SELECT count(*) AS n FROM _provenance")["n"][0] == 2


def test_sources_travel_downstream_through_sidecars(tmp_path):
    """A job that reads only intermediate files still names every release its outputs descend
    from: sources recorded by upstream jobs come in through the inputs' sidecars, marked ``via``
    the input, once each, and they enter the provenance hash."""
    (tmp_path / "raw.tsv").write_text("gene\nA\n")
    first = fake_snakemake(tmp_path, rule="layer", inputs=["raw.tsv"],
                           outputs=["results/layer.parquet"])  # fmt: skip
    with RuleRun(first) as run:
        run.add_source("gene2go", "2022-09-12", "https://example.org/gene2go", tmp_path / "raw.tsv")
        run.write_parquet(gene_table(3), first.output[0])
    second = fake_snakemake(tmp_path, rule="other_layer", outputs=["results/other.parquet"])
    with RuleRun(second) as run:
        run.add_source("hpo", "2025-01-16", "https://example.org/hpo")
        run.write_parquet(gene_table(3), second.output[0])
    third = fake_snakemake(tmp_path, rule="integrate", inputs=[first.output[0], second.output[0]],
                           outputs=["results/final.parquet"])  # fmt: skip
    with RuleRun(third) as run:
        run.write_parquet(gene_table(3), third.output[0])
    meta = json.loads(sidecar_path(third.output[0]).read_text())
    _validate(sidecar_path(third.output[0]))
    got = {(s["name"], s["via"]) for s in meta["sources"]}
    assert got == {("gene2go", first.output[0]), ("hpo", second.output[0])}
    assert meta["sources"][0]["sha256"] == sha256_file(tmp_path / "raw.tsv")
    # a fourth job reading the third's output gets both again, once each, via the third's output
    fourth = fake_snakemake(tmp_path, rule="publish", inputs=[third.output[0], first.output[0]],
                            outputs=["results/published.parquet"])  # fmt: skip
    with RuleRun(fourth) as run:
        run.write_parquet(gene_table(3), fourth.output[0])
    meta4 = json.loads(sidecar_path(fourth.output[0]).read_text())
    assert sorted(s["name"] for s in meta4["sources"]) == ["gene2go", "hpo"]
    assert {s["via"] for s in meta4["sources"]} == {third.output[0]}
    bare = json.loads(sidecar_path(second.output[0]).read_text())
    assert "via" not in bare["sources"][0]  # read by that job itself


def test_rule_run_failure_removes_outputs_and_records(tmp_path):
    sm = fake_snakemake(tmp_path, outputs=["results/a.parquet", "results/b.tsv"])
    with pytest.raises(RuntimeError, match="boom"):
        with RuleRun(sm) as run:
            run.write_parquet(pl.DataFrame({"a": [1]}), sm.output[0])
            raise RuntimeError("boom")
    assert not (tmp_path / "results" / "a.parquet").exists()
    assert not list((tmp_path / "results").glob("*"))
    store = PipelineStore.from_config(sm.config)
    r = store.execute_query("SELECT status, error, ended_at FROM _runs").to_dicts()[0]
    assert r["status"] == "failed" and "boom" in r["error"] and r["ended_at"]
    assert "boom" in (tmp_path / "logs" / "demo.log").read_text()


def test_rule_run_missing_declared_output_fails(tmp_path):
    sm = fake_snakemake(tmp_path, outputs=["results/a.tsv", "results/never.tsv"], log=None)
    with pytest.raises(FileNotFoundError, match="never.tsv"):
        with RuleRun(sm) as run:
            run.write_tsv(pl.DataFrame({"a": [1]}), sm.output[0])
    assert not (tmp_path / "results" / "a.tsv").exists()
    store = PipelineStore.from_config(sm.config)
    assert store.execute_query("SELECT status FROM _runs")["status"].to_list() == ["failed"]


def test_rule_run_directory_output_and_register(tmp_path):
    sm = fake_snakemake(tmp_path, outputs=["results/plots"])
    with RuleRun(sm) as run:
        d = tmp_path / "results" / "plots"
        d.mkdir(parents=True)
        (d / "a.txt").write_text("a")
        (d / "b.txt").write_text("b")
        extra = tmp_path / "results" / "extra.json"
        extra.write_text("{}")
        run.register_output(extra)
    side = sidecar_path(tmp_path / "results" / "plots")
    meta = json.loads(side.read_text())
    assert meta["output"]["kind"] == "directory" and meta["output"]["n_files"] == 2
    _validate(side)
    assert sidecar_path(tmp_path / "results" / "extra.json").exists()


def test_rule_run_preexisting_untouched_output_kept_on_failure(tmp_path):
    keep = tmp_path / "results" / "keep.tsv"
    keep.parent.mkdir(parents=True)
    keep.write_text("a\n1\n")
    sm = fake_snakemake(tmp_path, outputs=["results/keep.tsv"])
    with pytest.raises(ValueError):
        with RuleRun(sm):
            raise ValueError("early")
    assert keep.exists()


def test_rule_run_logger_is_isolated(tmp_path):
    sm = fake_snakemake(tmp_path, outputs=[], log="logs/x.log")
    with RuleRun(sm) as run:
        assert isinstance(run.log, logging.Logger)
        run.log.info("one")
    assert not run.log.handlers


def test_rule_run_logs_where_the_job_time_went(tmp_path):
    """The `timing:` line bench_pipeline reads: process start-up before RuleRun, RuleRun's entry
    and exit bookkeeping, and the body, each in seconds."""
    import re
    import time

    from usher_pipeline.persistence.rule_run import process_age

    age = process_age()
    assert age is not None and 0 < age < 24 * 3600  # this test process started before now
    sm = fake_snakemake(tmp_path, outputs=[], log="logs/x.log")
    with RuleRun(sm):
        time.sleep(0.05)
    text = (tmp_path / "logs" / "x.log").read_text()
    m = re.search(r"timing: startup_s=([\d.]+) enter_s=([\d.]+) body_s=([\d.]+) exit_s=([\d.]+)",
                  text)  # fmt: skip
    assert m, text
    assert float(m.group(1)) >= age
    assert float(m.group(3)) >= 0.05
