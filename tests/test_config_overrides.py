"""``--config`` overrides of nested settings: Snakemake 9 accepts ``KEY=VALUE`` with a top-level
KEY only and reads a mapping VALUE with YAML's base loader (every nested scalar a string). The
Snakefile types those strings by the schema and merges them key by key (sibling keys keep their
values); ``usher-pipeline run`` also accepts dotted keys and sends the nested form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from e2e_fixtures import (
    REPO,
    TEST_CONFIG_REL,
    copy_workflow,
    describe,
    probe_workflow,
    run_snakemake,
)
from snakemake.cli import parse_config
from usher_pipeline.cli import expand_dotted, load_config
from usher_pipeline.config_check import typed_overrides

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def test_nested_strings_typed_by_the_schema() -> None:
    raw = parse_config(
        [
            "validation={gates: {min_cv_recall: 0.4, min_temporal_top_hits: 7}, folds: 4}",
            "scoring={learned: {tiers: {HIGH: {min_score: 0.6, min_evidence: 4}}}}",
            'live={ncbi_email: null, sources: {gene_info: {release: "1.0"}}, workers: x}',
            "allow_results_outside_project=true",
        ]
    )
    assert raw["validation"]["gates"]["min_cv_recall"] == "0.4"  # what Snakemake hands over
    typed = typed_overrides(raw, SCHEMA)
    assert typed["validation"] == {
        "gates": {"min_cv_recall": 0.4, "min_temporal_top_hits": 7},
        "folds": 4,
    }
    assert typed["scoring"]["learned"]["tiers"]["HIGH"] == {"min_score": 0.6, "min_evidence": 4}
    assert typed["live"]["ncbi_email"] is None
    assert typed["live"]["sources"]["gene_info"]["release"] == "1.0"  # a string setting stays one
    assert typed["live"]["workers"] == "x"  # not a number: left for the schema to refuse
    assert typed["allow_results_outside_project"] is True


def test_dotted_keys_expanded_to_the_nested_form() -> None:
    entries = expand_dotted(
        ["validation.gates.min_cv_recall=0.4", "validation.folds=4", "mode=snapshot",
         "scoring.evidence_layers=[network, localization]", "live.eutils_base=https://h:1/x"]
    )  # fmt: skip
    assert entries[2] == "mode=snapshot"
    typed = typed_overrides(parse_config(entries), SCHEMA)
    assert typed["validation"] == {"gates": {"min_cv_recall": 0.4}, "folds": 4}
    assert typed["scoring"]["evidence_layers"] == ["network", "localization"]
    assert typed["live"]["eutils_base"] == "https://h:1/x"
    cfg = load_config(None, ["validation.gates.min_cv_recall=0.4"])
    assert cfg["validation"]["gates"]["min_cv_recall"] == 0.4
    assert cfg["validation"]["gates"]["min_temporal_auroc"] == 0.8  # sibling kept
    assert cfg["validation"]["folds"] == 5


# The params the validate rule sees.
_PARAMS = 'print("PROBE_JSON " + json.dumps(wf.get_rule("validate").params.validation))'


@pytest.mark.parametrize(
    "entries",
    [
        ["validation={gates: {min_cv_recall: 0.4}, folds: 4}"],
        ['validation={"gates": {"min_cv_recall": 0.4}}', "validation={folds: 4}"],
        expand_dotted(["validation.gates.min_cv_recall=0.4", "validation.folds=4"]),
    ],
    ids=["yaml", "json", "dotted"],
)
def test_nested_override_reaches_rule_params_and_keeps_siblings(entries) -> None:
    seen = probe_workflow(_PARAMS, TEST_CONFIG_REL, entries)
    fixture = yaml.safe_load((REPO / TEST_CONFIG_REL).read_text())["validation"]
    assert seen["gates"]["min_cv_recall"] == 0.4 and seen["folds"] == 4
    expected = dict(fixture, folds=4, gates=dict(fixture["gates"], min_cv_recall=0.4))
    assert seen == expected  # every sibling key kept its value from the config files


def test_snakemake_dry_run_takes_nested_number_and_refuses_a_bad_one(tmp_path: Path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    base = ["-n", "--configfile", str(TEST_CONFIG_REL), "--config"]
    ok = run_snakemake([*base, "validation={gates: {min_cv_recall: 0.4}}"], cwd=wf, timeout=300)
    assert ok.returncode == 0, describe(ok)
    assert "This was a dry-run" in ok.output
    bad = run_snakemake([*base, "validation={gates: {min_cv_recall: high}}"], cwd=wf, timeout=300)
    assert bad.returncode != 0, describe(bad)
    assert "min_cv_recall" in bad.output and "'high' is not of type 'number'" in bad.output
