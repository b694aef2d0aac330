"""Config checked for meaning before any job (usher_pipeline.config_check) and gene subsets given
as symbols, previous symbols, aliases, HGNC IDs or Ensembl gene IDs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from core_fixtures import aliases, gene_id, genes, paths
from e2e_fixtures import REPO, TEST_CONFIG_REL, copy_workflow, describe, run_snakemake
from usher_pipeline import steps
from usher_pipeline.config_check import check_config, key_location, read_gene_subset
from usher_pipeline.errors import ConfigError, MappingError
from usher_pipeline.universe import resolve_identifiers

CONFIG = REPO / "config" / "config.yaml"


def _config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def _check(cfg: dict, tmp_path: Path | None = None, files=(CONFIG,)) -> None:
    check_config(cfg, files, REPO, REPO)


def test_shipped_configs_pass() -> None:
    _check(_config())
    fixture = yaml.safe_load((REPO / TEST_CONFIG_REL).read_text())
    check_config(fixture, [REPO / TEST_CONFIG_REL], REPO, REPO)


@pytest.mark.parametrize("table", [("tiers",), ("learned", "tiers")])
def test_high_tier_below_medium_names_key_file_and_line(table) -> None:
    cfg = _config()
    node = cfg["scoring"]
    for part in table:
        node = node[part]
    node["HIGH"]["min_score"] = 0.1  # MEDIUM is 0.2
    with pytest.raises(ConfigError) as err:
        _check(cfg)
    key = ".".join(("scoring", *table, "HIGH", "min_score"))
    msg = str(err.value)
    assert key in msg and "below MEDIUM min_score" in msg
    # the line of that key in config/config.yaml
    line = key_location([CONFIG], ["scoring", *table, "HIGH", "min_score"])
    assert line and line in msg
    text = CONFIG.read_text().splitlines()
    assert "HIGH:" in text[int(line.rsplit(":", 1)[1]) - 1]


def test_tier_evidence_order_checked_too() -> None:
    cfg = _config()
    cfg["scoring"]["tiers"]["HIGH"]["min_evidence"] = 1
    with pytest.raises(ConfigError, match=r"scoring\.tiers\.HIGH\.min_evidence"):
        _check(cfg)
    cfg = _config()
    cfg["scoring"]["tiers"]["HIGH"] = dict(cfg["scoring"]["tiers"]["MEDIUM"])
    _check(cfg)  # equal thresholds are allowed


def test_all_weights_zero_refused() -> None:
    cfg = _config()
    cfg["scoring"]["weights"] = {k: 0 for k in cfg["scoring"]["weights"]}
    with pytest.raises(ConfigError, match=r"scoring\.weights: no layer has a positive weight"):
        _check(cfg)
    cfg["scoring"]["weights"]["phylogeny"] = 0.1
    _check(cfg)


def test_results_dir_empty_root_or_outside_project(tmp_path) -> None:
    for bad, expected in (("", "is empty"), ("  ", "is empty"), (".", "project folder itself"),
                          ("../elsewhere", "outside the project"),
                          (str(tmp_path / "out"), "outside the project")):  # fmt: skip
        cfg = _config()
        cfg["results_dir"] = bad
        with pytest.raises(ConfigError) as err:
            _check(cfg)
        assert "results_dir" in str(err.value) and expected in str(err.value), bad
    cfg = _config()
    cfg["results_dir"] = str(tmp_path / "out")
    cfg["allow_results_outside_project"] = True
    _check(cfg)
    cfg["results_dir"] = str(REPO / "results" / "sub")
    cfg["allow_results_outside_project"] = False
    _check(cfg)


def test_every_problem_reported_at_once() -> None:
    cfg = _config()
    cfg["scoring"]["tiers"]["HIGH"]["min_score"] = 0.0
    cfg["scoring"]["weights"] = {"localization": 0}
    cfg["results_dir"] = "/"
    with pytest.raises(ConfigError) as err:
        _check(cfg)
    msg = str(err.value)
    assert "scoring.tiers.HIGH.min_score" in msg and "scoring.weights" in msg
    assert "results_dir" in msg


def test_gene_subset_file_checks(tmp_path) -> None:
    cfg = _config()
    cfg["gene_subset"] = str(tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match=r"gene_subset: file .*missing\.txt does not exist"):
        _check(cfg)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    cfg["gene_subset"] = str(empty)
    with pytest.raises(ConfigError, match=r"gene_subset: .*empty\.txt lists no gene"):
        _check(cfg)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"USH2A\nMYO7A\nG\xe8ne\n")
    cfg["gene_subset"] = str(latin)
    with pytest.raises(ConfigError, match=r"latin1\.txt line 3 is not UTF-8"):
        _check(cfg)
    folder = tmp_path / "dir"
    folder.mkdir()
    cfg["gene_subset"] = str(folder)
    with pytest.raises(ConfigError, match="is not a file"):
        _check(cfg)


def test_gene_subset_bom_and_comments_tolerated(tmp_path) -> None:
    f = tmp_path / "genes.txt"
    f.write_bytes("\ufeffUSH2A\r\n# note\r\n\r\nHGNC:7606  # MYO7A\r\n".encode())
    assert read_gene_subset(f) == [(1, "USH2A"), (4, "HGNC:7606")]


def test_subset_accepts_hgnc_and_ensembl_ids() -> None:
    res = resolve_identifiers(
        ["HGNC:12601", "hgnc:7606", "ENSG00000292063", "ENSG00000171124.9", "ENSG00000175164",
         "USH2A", "HGNC:999999", "ENSG00000000000"],
        genes(), aliases(),
    )  # fmt: skip
    got = dict(zip(res["symbol"], res["gene_id"], strict=True))
    assert got["HGNC:12601"] == gene_id("USH2A") == got["USH2A"]
    assert got["hgnc:7606"] == gene_id("MYO7A")
    # FUT3: the MANE Ensembl ID and the retired gene_info xref both resolve
    assert got["ENSG00000292063"] == got["ENSG00000171124.9"] == gene_id("FUT3")
    assert got["ENSG00000175164"] == gene_id("ABO")
    assert got["HGNC:999999"] is None and got["ENSG00000000000"] is None


def test_universe_step_subset_by_ids_and_error_names_file_and_lines(tmp_path) -> None:
    g, _, summary = steps.universe_step(paths(), [(1, "HGNC:12601"), (2, "ENSG00000175164")])
    assert sorted(g["symbol"]) == ["ABO", "USH2A"] and summary["subset_genes"] == 2
    with pytest.raises(MappingError) as err:
        steps.universe_step(
            paths(), [(1, "USH2A"), (3, "NOTAGENE"), (7, "ENSG00000000000")], "my_genes.txt"
        )
    msg = str(err.value)
    assert "my_genes.txt" in msg and "line 3: NOTAGENE" in msg
    assert "line 7: ENSG00000000000" in msg and "USH2A" not in msg


def _write_config(workdir: Path, **changes) -> Path:
    cfg = yaml.safe_load((workdir / TEST_CONFIG_REL).read_text())
    for dotted, value in changes.items():
        node = cfg
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = value
    path = workdir / ".test" / "config" / "bad.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(cfg), sort_keys=False))
    return path


def test_snakemake_refuses_bad_config_before_any_job(tmp_path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    bad = _write_config(wf, **{"scoring.tiers": {"HIGH": {"min_score": 0.1, "min_evidence": 3},
                                                  "MEDIUM": {"min_score": 0.2, "min_evidence": 2}}})  # fmt: skip
    res = run_snakemake(["-n", "--configfile", str(bad.relative_to(wf))], cwd=wf)
    assert res.returncode != 0, describe(res)
    assert "scoring.tiers.HIGH.min_score" in res.output, describe(res)
    assert ".test/config/bad.yaml:" in res.output, describe(res)
    assert not (wf / ".test" / "results").exists()


def test_unresolvable_subset_line_stops_before_scoring(tmp_path) -> None:
    """A gene_subset line that resolves to no gene fails the gene_subset job, naming the file,
    line and entry; nothing is scored or published, and the universe (which a subset no longer
    restricts: the model sees every gene) is left in place."""
    wf = copy_workflow(tmp_path / "wf")
    subset = wf / ".test" / "config" / "genes_bad.txt"
    subset.write_text("USH2A\nHGNC:7606\nENSG00000042781\nNOT_A_GENE_XYZ\n")
    bad = _write_config(wf, gene_subset=".test/config/genes_bad.txt")
    res = run_snakemake(
        ["--cores", "2", "--configfile", str(bad.relative_to(wf))], cwd=wf, timeout=600
    )
    assert res.returncode != 0, describe(res)
    results = wf / ".test" / "results"
    log = (results / "logs" / "gene_subset.log").read_text()
    assert "genes_bad.txt" in log and "line 4: NOT_A_GENE_XYZ" in log, log
    assert "HGNC:7606" not in log.split("resolve to no single")[1]
    assert (results / "universe" / "genes.parquet").is_file()
    assert not (results / "universe" / "subset.parquet").exists()
    for name in ("gene_evidence.parquet", "candidates.tsv", "candidates.parquet"):
        assert not (results / name).exists(), name


def test_unknown_key_is_one_line_with_file_line_and_the_closest_key(tmp_path) -> None:
    from usher_pipeline.config_check import check_schema

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["validation"]["gates"]["min_cv_recal"] = 0.5
    extra = tmp_path / "typo.yaml"
    extra.write_text("validation:\n  gates:\n    min_cv_recal: 0.5\n")
    with pytest.raises(ConfigError) as err:
        check_schema(cfg, REPO / "workflow/schemas/config.schema.yaml",
                     [REPO / "config/config.yaml", extra])  # fmt: skip
    assert str(err.value) == (
        f"unknown config key 'validation.gates.min_cv_recal' in {extra}:3; "
        "did you mean validation.gates.min_cv_recall?"
    )


def test_empty_config_value_and_wrong_type_are_one_line_each() -> None:
    from usher_pipeline.config_check import check_schema

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["results_dir"] = None
    cfg["validation"]["folds"] = "x"
    with pytest.raises(ConfigError) as err:
        check_schema(cfg, REPO / "workflow/schemas/config.schema.yaml",
                     [REPO / "config/config.yaml"],
                     {"results_dir": None, "validation": {"folds": "x"}})  # fmt: skip
    lines = str(err.value).splitlines()
    assert lines == [
        "--config results_dir= gives results_dir no value; write one, e.g. "
        "--config results_dir=VALUE (or leave results_dir out to keep the config file's)",
        "validation.folds: 'x' is not of type 'integer' (from --config)",
    ]


def test_snakemake_prints_one_line_for_a_typo_key_and_an_empty_value(tmp_path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    (wf / "typo.yaml").write_text("validation:\n  gates:\n    min_cv_recal: 0.5\n")
    res = run_snakemake(["-n", "--configfile", str(TEST_CONFIG_REL), "typo.yaml"], cwd=wf)
    assert res.returncode != 0, describe(res)
    ours = [ln for ln in res.output.splitlines() if ln.startswith("usher-pipeline:")]
    assert ours == [
        f"usher-pipeline: unknown config key 'validation.gates.min_cv_recal' in {wf / 'typo.yaml'}:3; "
        "did you mean validation.gates.min_cv_recall?"
    ], describe(res)
    assert "Failed validating" not in res.output and "Traceback" not in res.output
    assert len(res.output.splitlines()) <= 3, describe(res)
    res = run_snakemake(["-n", "--configfile", str(TEST_CONFIG_REL), "--config", "results_dir="],
                        cwd=wf)  # fmt: skip
    assert res.returncode != 0, describe(res)
    assert "usher-pipeline: --config results_dir= gives results_dir no value" in res.output
    assert "None is not of type" not in res.output and len(res.output.splitlines()) <= 3


def test_cli_wrong_configfile_path_is_one_line_without_traceback(capsys) -> None:
    from usher_pipeline.cli import main

    assert main(["run", "--configfile", "no/such/config.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"usher-pipeline run: --configfile no/such/config.yaml: no such file (relative paths "
        f"are read from {REPO})"
    ]
    assert main(["summary", "--configfile", "no/such/config.yaml"]) == 2
    assert "Traceback" not in capsys.readouterr().err
