"""End-to-end tests of the workflow on the 52-gene fixture config (.test/config/config.yaml).

Each test works in a fresh copy of the working tree (tests/e2e_fixtures.py), like a fresh clone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.layers import LAYER_NAMES  # noqa: E402
from usher_pipeline.persistence import validate_sidecar  # noqa: E402
from usher_pipeline.summary import format_summary, read_run_summary  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FINAL = [
    "candidates.tsv",
    "candidates.parquet",
    "gene_evidence.parquet",
    "validation/metrics.tsv",
    "plots/score_distribution.png",
    "plots/layer_contributions.png",
    "plots/tier_breakdown.png",
    "report/candidates_table.html",
    "reproducibility_report.md",
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fresh_run(prefix: str, *extra: str, overlay: dict | None = None, cores: int = 2):
    base = e2e.scratch_dir(prefix)
    work = e2e.copy_workflow(base / "wf")
    args = ["--cores", str(cores), "--configfile", str(e2e.TEST_CONFIG_REL)]
    if overlay is not None:
        (work / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        args.append("overlay.yaml")
    res = e2e.run_snakemake([*args, *extra], cwd=work, timeout=900, log_file=base / "run.log")
    return work, res


def test_outputs_rows_and_sidecars():
    run = e2e.local_run()
    res = run.results
    for rel in FINAL:
        assert (res / rel).is_file(), rel
    genes = pl.read_parquet(res / "universe/genes.parquet")
    evidence = pl.read_parquet(res / "gene_evidence.parquet")
    candidates = pl.read_parquet(res / "candidates.parquet")
    subset = [
        line.strip()
        for line in (run.workdir / ".test/config/genes.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # the universe stays whole (the model sees every gene); the subset selects what is reported
    flags = pl.read_parquet(res / "universe/subset.parquet")
    assert flags["gene_id"].to_list() == genes["gene_id"].to_list()
    assert genes.height > 19000 and int(flags["in_subset"].sum()) == len(subset) == 52
    reported = set(flags.filter("in_subset")["gene_id"])
    # every reported gene, once
    assert evidence.height == len(reported)
    assert evidence["gene_id"].is_unique().all()
    assert set(evidence["gene_id"]) == reported
    # one candidate row per non-known gene, known genes excluded, ranks 1..n in both views
    known = set(evidence.filter("is_known")["gene_id"])
    assert known and len(known) < len(reported)
    assert set(candidates["gene_id"]) == reported - known
    assert candidates["rank"].to_list() == list(range(1, candidates.height + 1))
    assert sorted(candidates["usher_rank"]) == list(range(1, candidates.height + 1))
    assert set(candidates["tier"].unique()) <= {"HIGH", "MEDIUM", "LOW"}
    assert set(candidates["usher_tier"].unique()) <= {"HIGH", "MEDIUM", "LOW"}
    # the Usher view: P(ciliary) x P(Usher-like | ciliary)
    prod = candidates["score"] * candidates["usher_given_cilia"]
    assert (candidates["usher_score"] - prod).abs().max() < 1e-12
    for col in ("score", "localization_score", "mouse_phenotype_score", "evidence_summary"):
        assert col in candidates.columns
    tsv = pl.read_csv(res / "candidates.tsv", separator="\t")
    assert tsv.height == candidates.height
    assert tsv["gene_id"].to_list() == candidates["gene_id"].to_list()
    # every layer: one row per universe gene; expression is unknown (NULL) offline, never 0
    for layer in LAYER_NAMES:
        table = pl.read_parquet(res / f"layers/{layer}.parquet")
        assert table.height == genes.height and table["gene_id"].is_unique().all(), layer
    # expression offline: tissue RNA unknown (NULL), retina single-cell markers cover every gene
    expr = pl.read_parquet(res / "layers/expression.parquet")
    assert expr["tissue_score"].null_count() == expr.height
    assert expr["expression_score"].null_count() == 0
    # learned integration: every gene scored out of fold, contributions sum to the evidence part
    assert evidence["cv_fold"].null_count() == 0
    contrib = [c for c in evidence.columns if c.startswith("contrib_")]
    total = evidence.select(pl.sum_horizontal(contrib) - pl.col("evidence_logodds")).to_series()
    assert total.abs().max() < 1e-9
    assert (res / "validation/model_weights.tsv").is_file()
    # provenance: every output file has a schema-valid sidecar, distinct for same-stem outputs
    outputs = [
        p
        for p in res.rglob("*")
        if p.is_file()
        and not p.name.endswith(".provenance.json")
        and "logs" not in p.parts
        and "benchmarks" not in p.parts
        and p.name != "report.html"
    ]
    assert len(outputs) >= 30
    for out in outputs:
        side = Path(str(out) + ".provenance.json")
        assert side.is_file(), f"no sidecar for {out}"
        meta = json.loads(side.read_text())
        validate_sidecar(meta)
        assert meta["rule"], out
    tsv_meta = json.loads((res / "candidates.tsv.provenance.json").read_text())
    pq_meta = json.loads((res / "candidates.parquet.provenance.json").read_text())
    assert tsv_meta != pq_meta
    out_paths = {o["path"] for o in pq_meta["outputs"]}
    assert any(p.endswith("candidates.parquet") for p in out_paths)
    sources = {
        s["name"]
        for s in json.loads((res / "layers/localization.parquet.provenance.json").read_text())[
            "sources"
        ]
    }
    assert any("gene2go" in s for s in sources) and any("Protein Atlas" in s for s in sources)
    # the final list names every release it descends from (through its inputs' sidecars)
    final = {s["name"] for s in pq_meta["sources"]}
    layer_sources = set()
    for side in (res / "layers").glob("*.parquet.provenance.json"):
        layer_sources |= {s["name"] for s in json.loads(side.read_text())["sources"]}
    assert layer_sources and layer_sources <= final, layer_sources - final
    assert any("STRING" in s for s in final) and any("gene2go" in s for s in final)


def test_nothing_to_do_after_run_and_run_history():
    run = e2e.local_run()
    res = e2e.run_snakemake(
        ["-n", "--configfile", str(e2e.TEST_CONFIG_REL)], cwd=run.workdir, timeout=300
    )
    assert res.returncode == 0, e2e.describe(res)
    assert "Nothing to be done" in res.output
    assert "lock" not in run.result.output.lower() or "LockTimeout" not in run.result.output
    cfg = e2e.fixture_config()
    db = run.workdir / cfg["state"]["db"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT rule, status FROM _runs").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM _checkpoints").fetchall()}
    finally:
        con.close()
    rules = {r for r, s in rows if s == "ok"}
    expected = {"verify_snapshot", "gene_universe", "integrate", "validate", "publish_candidates",
                "plots"}  # fmt: skip
    expected |= {f"layer_{name}" for name in LAYER_NAMES}
    assert expected <= rules
    assert not [r for r in rows if r[1] != "ok"]
    assert {"candidates", "gene_evidence", "universe_genes", "validation_metrics"} <= tables


def test_two_clean_runs_byte_identical_and_parallel_without_lock_errors():
    first = e2e.local_run()
    work, res = _fresh_run("usher-e2e-second-", cores=4)
    assert res.returncode == 0, e2e.describe(res)
    for word in ("Could not set lock", "LockTimeoutError", "IO Error"):
        assert word not in res.output
    second = e2e.results_dir(work)
    for rel in (
        "candidates.parquet",
        "gene_evidence.parquet",
        "candidates.tsv",
        *[f"layers/{name}.parquet" for name in LAYER_NAMES],
        "universe/genes.parquet",
        "report/index.html",
        "report/landing.rst",
        "report/candidates_table.html",
    ):
        assert _sha(first.results / rel) == _sha(second / rel), rel


def test_failed_gate_fails_run_with_clear_message():
    cfg = e2e.fixture_config()
    cfg["validation"]["gates"]["min_cv_recall"] = 0.999
    work, res = _fresh_run("usher-e2e-gate-", overlay={"validation": cfg["validation"]})
    assert res.returncode != 0
    assert "validation gate(s) failed" in res.output
    assert "cv_recall_mean" in res.output and "min_cv_recall" in res.output
    results = e2e.results_dir(work)
    assert not (results / "validation/metrics.tsv").exists()
    assert not (results / "reproducibility_report.md").exists()
    # no candidate list looks valid: only the unvalidated intermediate exists
    for name in ("candidates.tsv", "candidates.parquet", "report/candidates_table.html",
                 "report/landing.rst"):  # fmt: skip
        assert not (results / name).exists(), name
    # the start page of a failed run says FAILED (no earlier run passed: nothing to restore)
    page = (results / "report/index.html").read_text()
    assert "FAILED" in page and "PASSED" not in page and "validate.log" in page
    assert "No earlier run passed validation" in page
    # the end-of-run summary says it plainly, naming the gate and where the details are
    summary = read_run_summary(results)
    assert summary.status == "failed"
    assert any(m.startswith("cv_recall_mean") for m in summary.failed), summary.failed
    text = format_summary(summary)
    assert text.startswith("validation: FAILED") and "logs/validate.log" in text, text
    assert (results / "unvalidated/candidates.parquet").is_file()
    con = duckdb.connect(str(work / cfg["state"]["db"]), read_only=True)
    try:
        metrics = dict(con.execute("SELECT metric, passed FROM validation_metrics").fetchall())
    finally:
        con.close()
    assert metrics["cv_recall_mean"] is False


def test_bad_config_fails_before_any_job():
    work, res = _fresh_run("usher-e2e-badcfg-", overlay={"scoring": {"weigths": {}}})
    assert res.returncode != 0
    assert "weigths" in res.output
    assert not e2e.results_dir(work).exists()


def test_altered_snapshot_file_is_a_clear_error():
    base = e2e.scratch_dir("usher-e2e-snap-")
    work = e2e.copy_workflow(base / "wf")
    target = work / "workflow/resources/snapshot/mgi/HMD_HumanPhenotype.rpt.gz"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    res = e2e.run_snakemake(
        ["--cores", "2", "--configfile", str(e2e.TEST_CONFIG_REL)], cwd=work, timeout=600
    )
    assert res.returncode != 0
    assert "HMD_HumanPhenotype.rpt.gz" in res.output and "altered" in res.output
    assert not (e2e.results_dir(work) / "universe/genes.parquet").exists()


def test_explain_genes_of_the_run():
    run = e2e.local_run()
    from usher_pipeline.cli import main

    for query in ("USH2A", "CEP290", "HGNC:29021"):
        assert main(["explain", query, "--results", str(run.results)]) == 0
    assert main(["explain", "NOTAGENE42", "--results", str(run.results)]) == 2


def test_explain_prints_evidence_and_names_unknown_symbol(capsys):
    run = e2e.local_run()
    from usher_pipeline.cli import main

    capsys.readouterr()
    main(["explain", "USH2A", "--results", str(run.results)])
    out = capsys.readouterr().out
    assert "USH2A" in out and "positive control" in out
    from usher_pipeline.explain import layer_label

    for layer in ("localization", "network", "ht_studies", "phylogeny", "expression"):
        assert f"\n  {layer_label(layer)}: sub-score" in out  # layer names in words
    main(["explain", "NOTAGENE42", "--results", str(run.results)])
    err = capsys.readouterr().err
    assert "NOTAGENE42" in err
    # both views, the sensory evidence and the retina / inner-ear evidence in words
    for symbol in ("USH2A", "CEP290", "PCDH15"):
        assert main(["explain", symbol, "--results", str(run.results)]) == 0
        out = capsys.readouterr().out
        assert "  Cilia view: is this gene ciliary?" in out, out
        assert "  Usher view (sensory cilia): could it cause Usher-like deaf-blindness" in out, out
        assert "inner-ear hair-cell enrichment (mouse, Scheffer 2015):" in out, out
        assert "rod photoreceptors:" in out and "cone photoreceptors:" in out, out
        assert "Inner-ear hair cells (Scheffer 2015): sub-score" in out, out
        assert "hair cells vs surrounding cells" in out, out


def test_subset_genes_score_as_with_the_whole_universe_model():
    """The fixture run is a 52-gene gene_subset: its genes carry exactly the scores (both views)
    of the model fitted on the whole universe, here refitted in-process from the run's own layer
    tables without any subset."""
    from usher_pipeline.cli import load_config
    from usher_pipeline.layers import SEEDED_LAYERS
    from usher_pipeline.model import assemble_table
    from usher_pipeline.usher_model import score_views

    run = e2e.local_run()
    res = run.results
    cfg = load_config([str(run.workdir / e2e.TEST_CONFIG_REL)], [])
    table = assemble_table(
        res / "universe/genes.parquet",
        res / "universe/gene_sets.parquet",
        {layer: res / f"layers/{layer}.parquet" for layer in LAYER_NAMES},
    )
    assert table.height > 19000
    folds = {"folds": cfg["validation"]["folds"], "seed": cfg["validation"]["seed"]}
    whole, _ = score_views(table, cfg["scoring"], folds,
                           {k: cfg["layers"][k] for k in SEEDED_LAYERS})  # fmt: skip
    ev = pl.read_parquet(res / "gene_evidence.parquet").select("gene_id", "score", "usher_score")
    both = ev.join(whole.select("gene_id", "score", "usher_score"), on="gene_id", suffix="_whole")
    assert both.height == ev.height == 52
    assert both["score"].to_list() == both["score_whole"].to_list()
    assert both["usher_score"].to_list() == both["usher_score_whole"].to_list()


def test_subset_of_only_known_genes_runs_and_says_so():
    """A gene_subset of known genes only: nothing to rank, and the run says so (integrate log,
    summary); only the steps after scoring rerun on the shared run's copy."""
    work = e2e.copy_local_run("usher-e2e-knownonly-")
    base = work.parent
    (work / "known_only.txt").write_text("USH2A\nMYO7A\nCEP290\nBBS1\n")
    # the fixture config enforces its gates on its subset; four known genes cannot be measured
    overlay = {"gene_subset": "known_only.txt", "validation": {"subset_gates": "not_applicable"}}
    (work / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    args = ["--cores", "2", "--configfile", str(e2e.TEST_CONFIG_REL), "overlay.yaml"]
    res = e2e.run_snakemake(args, cwd=work, timeout=900, log_file=base / "run.log")
    assert res.returncode == 0, e2e.describe(res)
    ran = e2e.job_stats(res.output)
    assert not any(rule.startswith("layer_") for rule in ran), ran
    assert "gene_subset" in ran and "integrate" in ran
    results = e2e.results_dir(work)
    assert pl.read_parquet(results / "candidates.parquet").height == 0
    ev = pl.read_parquet(results / "gene_evidence.parquet")
    assert sorted(ev["symbol"]) == ["BBS1", "CEP290", "MYO7A", "USH2A"] and ev["is_known"].all()
    log = (results / "logs/integrate.log").read_text()
    assert "no candidates: every reported gene is a known gene" in log
    text = format_summary(read_run_summary(results))
    assert "every reported gene is a known gene" in text, text
