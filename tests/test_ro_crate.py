"""The Provenance Run Crate: content checks and offline rocrate-validator runs (REQUIRED level)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest
from crate_validation import PROFILE, offline_cache, validate
from state_fixtures import fake_snakemake
from usher_pipeline.crate import PROFILES, RO_CRATE_CONTEXT, SHA256_TERM, build_crate
from usher_pipeline.persistence import PipelineStore, RuleRun, sidecar_path

sys.path.insert(0, str(Path(__file__).parent))
import e2e_fixtures as e2e  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def validator_cache(tmp_path_factory):
    return offline_cache(tmp_path_factory.mktemp("rocv"))


def _graph(data: dict) -> dict[str, dict]:
    return {e["@id"]: e for e in data["@graph"]}


def _ids(value) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v["@id"] for v in items if isinstance(v, dict)]


@pytest.fixture
def small_run(tmp_path):
    """Two chained jobs writing into ``tmp_path/results``, one with a source and a wildcard."""
    (tmp_path / "raw_in.tsv").write_text("gene\nA\nB\nC\n")
    sm1 = fake_snakemake(
        tmp_path, rule="parse", inputs=["raw_in.tsv"], outputs=["results/parsed.tsv"]
    )
    with RuleRun(sm1) as run:
        run.add_source("hgnc", "2026-06", "https://example.org/hgnc.tsv", sha256="ab" * 32)
        run.write_tsv(pl.read_csv(tmp_path / "raw_in.tsv"), sm1.output[0])
    sm2 = fake_snakemake(
        tmp_path,
        rule="score",
        inputs=["results/parsed.tsv"],
        outputs=["results/layers/scored.parquet"],
        wildcards={"layer": "scored"},
    )
    with RuleRun(sm2) as run:
        df = pl.read_csv(sm2.input[0], separator="\t").with_columns(pl.lit(1).alias("s"))
        run.write_parquet(df, sm2.output[0], table_name="scored", sort_by="gene")
    store = PipelineStore(sm1.config["state"]["db"])
    return tmp_path, store, sm1.config, [sm1.output[0], sm2.output[0]]


def test_crate_content(small_run):
    root, store, config, outputs = small_run
    results = root / "results"
    data = build_crate(store, config, results, REPO / "Snakefile", final_outputs=[outputs[1]])
    assert data["@context"] == RO_CRATE_CONTEXT == "https://w3id.org/ro/crate/1.1/context"
    on_disk = json.loads((results / "ro-crate-metadata.json").read_text())
    assert on_disk == data
    g = _graph(data)
    assert set(_ids(g["./"]["conformsTo"])) == {p[0] for p in PROFILES}
    assert "https://w3id.org/ro/wfrun/provenance/0.5" in _ids(g["./"]["conformsTo"])
    wf = g[_ids(g["./"]["mainEntity"])[0]]
    assert "ComputationalWorkflow" in wf["@type"] and wf["@id"] == "workflow/Snakefile"
    assert wf[SHA256_TERM] == _sha(results / "workflow" / "Snakefile")
    # every output and its sidecar, with the sha256 and size of the file on disk
    for out in outputs:
        rel = Path(out).relative_to(results).as_posix()
        assert (
            g[rel][SHA256_TERM] == _sha(Path(out))
            and g[rel]["contentSize"] == Path(out).stat().st_size
        )
        side = sidecar_path(out)
        side_rel = side.relative_to(results).as_posix()
        assert g[side_rel][SHA256_TERM] == _sha(side) and _ids(g[side_rel]["about"]) == [rel]
    # the input outside the crate is described, with its hash, as a contextual entity
    raw = g[f"#input/{root / 'raw_in.tsv'}"]
    assert raw["@type"] == "CreativeWork" and raw[SHA256_TERM] == _sha(root / "raw_in.tsv")
    # one CreateAction per job, its rule as instrument, times, inputs and outputs
    jobs = [e for e in data["@graph"] if e["@id"].startswith("#job-") and "/" not in e["@id"]]
    assert sorted(_ids(j["instrument"])[0] for j in jobs) == ["#rule-parse", "#rule-score"]
    score = next(j for j in jobs if _ids(j["instrument"]) == ["#rule-score"])
    assert _ids(score["result"]) == ["layers/scored.parquet"]
    assert "parsed.tsv" in _ids(score["object"])
    wildcard = next(g[i] for i in _ids(score["object"]) if g[i]["@type"] == "PropertyValue")
    assert (wildcard["name"], wildcard["value"]) == ("layer", "scored")
    assert g[_ids(wildcard["exampleOfWork"])[0]]["@type"] == "FormalParameter"
    assert score["startTime"] <= score["endTime"]
    # workflow run, engine, sources, config parameters
    run = g["#workflow-run"]
    assert _ids(run["instrument"]) == ["workflow/Snakefile"]
    assert _ids(run["result"]) == ["layers/scored.parquet"]
    assert _ids(g["#engine-run"]["instrument"]) == ["#snakemake"]
    assert len(_ids(g["#engine-run"]["object"])) == 2
    src = g["#source/hgnc/2026-06"]
    assert (src["version"], src["url"]) == ("2026-06", "https://example.org/hgnc.tsv")
    assert "#source/hgnc/2026-06" in _ids(run["object"])
    state_pv = g["#pv/state"]
    assert state_pv["@type"] == "PropertyValue" and json.loads(state_pv["value"]) == config["state"]


def test_validator_passes_offline_and_is_not_vacuous(small_run, validator_cache):
    root, store, config, outputs = small_run
    results = root / "results"
    build_crate(store, config, results, REPO / "Snakefile", final_outputs=[outputs[1]])
    report = validate(results, validator_cache)
    stats = report["statistics"]
    assert report["passed"] and report["_returncode"] == 0, report.get("issues")
    assert stats["total_skipped_checks"] == 0 and stats["total_failed_checks"] == 0
    assert PROFILE in stats["profiles"]
    # a crate without its OrganizeAction's engine is refused: the checks really run
    crate = results / "ro-crate-metadata.json"
    data = json.loads(crate.read_text())
    for e in data["@graph"]:
        if e["@id"] == "#engine-run":
            del e["instrument"]
    crate.write_text(json.dumps(data))
    bad = validate(results, validator_cache)
    assert not bad["passed"] and bad["_returncode"] != 0
    assert any("OrganizeAction" in i["message"] for i in bad["issues"]), bad["issues"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_crate_of_a_full_run_lists_every_output_and_validates(validator_cache):
    run = e2e.local_run()
    results = run.results
    crate = results / "ro-crate-metadata.json"
    data = json.loads(crate.read_text())
    assert data["@context"] == RO_CRATE_CONTEXT
    g = _graph(data)
    own = {crate, results / "workflow" / "Snakefile"}  # written by the crate rule itself
    listed = 0
    for side in sorted(results.rglob("*.provenance.json")):
        out = side.with_name(side.name[: -len(".provenance.json")])
        if out in own:
            continue
        rel = out.relative_to(results).as_posix() + ("/" if out.is_dir() else "")
        assert rel in g, f"{rel} is not in the crate"
        if out.is_file():
            assert g[rel][SHA256_TERM] == _sha(out), rel
            assert g[rel]["contentSize"] == out.stat().st_size, rel
        listed += 1
    assert listed >= 20
    run_action = g["#workflow-run"]
    assert "candidates.parquet" in _ids(run_action["result"])
    report = validate(results, validator_cache)
    assert report["passed"] and report["_returncode"] == 0, report.get("issues")
    assert report["statistics"]["total_skipped_checks"] == 0
