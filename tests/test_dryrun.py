"""Dry-run inspection: what a user runs before spending cluster hours.

snakemake -n (job list and count), --summary, --list-changes params, --rulegraph/--dag
rendered with graphviz, and the committed rule-graph SVG of the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_fixtures import (
    REPO,
    TEST_CONFIG,
    TEST_CONFIG_REL,
    copy_workflow,
    describe,
    job_stats,
    local_run,
    run_snakemake,
    snakemake_bin,
)

SVG = REPO / "workflow" / "report" / "rulegraph.svg"
MAKE_DAG = REPO / "workflow" / "report" / "make_dag.sh"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A copy of the workflow with nothing built: every job is pending."""
    return copy_workflow(tmp_path_factory.mktemp("dryrun") / "wf")


def _fixture_genes() -> list[str]:
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    subset = REPO / cfg["gene_subset"]
    return [g.strip() for g in subset.read_text().splitlines() if g.strip()]


def _list_rules(workdir: Path) -> set[str]:
    res = run_snakemake(["--list-rules", "--configfile", str(TEST_CONFIG_REL)], cwd=workdir)
    assert res.returncode == 0, describe(res)
    return {line.strip() for line in res.output.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}


def _dot() -> str:
    dot = shutil.which("dot")
    assert dot, "graphviz `dot` is required (apt-get install graphviz)"
    return dot


_DRY: dict[Path, Any] = {}


def _fixture_dry_run(workdir: Path) -> Any:
    """``snakemake -n`` of the fixture config in ``workdir`` (made once per module)."""
    if workdir not in _DRY:
        _DRY[workdir] = run_snakemake(["-n", "--configfile", str(TEST_CONFIG_REL)], cwd=workdir)
    return _DRY[workdir]


def test_dry_run_lists_every_job_without_per_gene_fanout(fresh):
    res = _fixture_dry_run(fresh)
    assert res.returncode == 0, describe(res)
    assert "This was a dry-run" in res.output
    stats = job_stats(res.output)
    total = sum(stats.values())
    assert 1 <= total <= 100, stats
    # every rule of the workflow has a job on a fresh tree, and nothing else
    assert set(stats) == _list_rules(fresh)
    # no job is per gene: no wildcard value is one of the fixture's gene symbols
    genes = set(_fixture_genes())
    wildcard_values = set()
    for line in res.output.splitlines():
        if line.strip().startswith("wildcards:"):
            wildcard_values.update(v.strip() for v in re.findall(r"=([^,]+)", line))
    assert not wildcard_values & genes, wildcard_values & genes


def test_job_count_does_not_grow_with_the_gene_universe(fresh):
    """The full-size config plans exactly the jobs of the 52-gene fixture (dry run only)."""
    small = _fixture_dry_run(fresh)
    full = run_snakemake(["-n"], cwd=fresh)  # config/config.yaml: all protein-coding genes
    assert small.returncode == 0, describe(small)
    assert full.returncode == 0, describe(full)
    assert job_stats(full.output) == job_stats(small.output)


def test_summary_before_and_after_a_run(fresh):
    before = run_snakemake(["--summary", "--configfile", str(TEST_CONFIG_REL)], cwd=fresh)
    assert before.returncode == 0, describe(before)
    rows = _summary_rows(before.output)
    assert rows, before.output
    assert all(r["status"] == "missing" for r in rows), rows

    run = local_run()
    after = run_snakemake(["--summary", "--configfile", str(TEST_CONFIG_REL)], cwd=run.workdir)
    assert after.returncode == 0, describe(after)
    rows_after = _summary_rows(after.output)
    assert {r["output_file"] for r in rows_after} == {r["output_file"] for r in rows}
    assert all(r["status"] == "ok" for r in rows_after), [
        r for r in rows_after if r["status"] != "ok"
    ]
    for r in rows_after:
        assert (run.workdir / r["output_file"]).exists(), r


def _summary_rows(output: str) -> list[dict[str, str]]:
    lines = [line for line in output.splitlines() if "\t" in line]
    if not lines:
        return []
    header = lines[0].split("\t")
    assert header[:3] == ["output_file", "date", "rule"], header
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:]]


def test_param_change_is_visible_before_rerunning(tmp_path):
    """Changing one config value: --list-changes params and --summary name its outputs.

    Snakemake 9.27's --list-changes params over-reports: ParamsChange.__or__ keeps the file
    set of an unchanged output, so it prints one output of *every* job even when nothing
    changed. It still lists every truly changed output, which is asserted here; which outputs
    changed and which did not is read from --summary's status column (per-file check, right).
    """
    run = local_run()
    cfg = ["--configfile", str(TEST_CONFIG_REL)]
    unchanged = run_snakemake(["--summary", *cfg], cwd=run.workdir)
    assert unchanged.returncode == 0, describe(unchanged)
    assert not [r for r in _summary_rows(unchanged.output) if r["status"] != "ok"]

    override = tmp_path / "more_rows.yaml"
    rows = yaml.safe_load(TEST_CONFIG.read_text())["report"]["table_rows"]
    override.write_text(yaml.safe_dump({"report": {"table_rows": rows + 1}}))
    cfg_changed = [*cfg, str(override)]

    listed_res = run_snakemake(["--list-changes", "params", *cfg_changed], cwd=run.workdir)
    assert listed_res.returncode == 0, describe(listed_res)
    listed = _listed_files(listed_res.output, run.workdir)
    assert any(f.endswith("report/candidates_table.html") for f in listed), listed_res.output

    summary = run_snakemake(["--summary", *cfg_changed], cwd=run.workdir)
    assert summary.returncode == 0, describe(summary)
    status = {r["output_file"]: r["status"] for r in _summary_rows(summary.output)}
    changed = {f for f, st in status.items() if st == "params changed"}
    assert any(f.endswith("report/candidates_table.html") for f in changed), status
    # the layer tables and the scores do not depend on report.table_rows
    assert not any("/layers/" in f or f.endswith("candidates.tsv") for f in changed), changed

    # a dry run plans exactly the jobs whose outputs changed, with the reason
    dry = run_snakemake(["-n", *cfg_changed], cwd=run.workdir)
    assert dry.returncode == 0, describe(dry)
    planned = set(job_stats(dry.output))
    assert "candidates_table" in planned, dry.output[-3000:]
    assert not any(r.startswith("layer_") for r in planned), planned
    assert re.search(r"[Pp]arams have changed", dry.output), dry.output[-3000:]


def _listed_files(output: str, workdir: Path) -> set[str]:
    """File paths --list-changes printed (one per line, relative to the working directory)."""
    files = set()
    for line in output.splitlines():
        candidate = line.strip()
        if candidate and " " not in candidate and (workdir / candidate).exists():
            files.add(candidate)
    return files


@pytest.mark.parametrize("flag", ["--rulegraph", "--dag"])
def test_graph_renders_with_graphviz(fresh, flag):
    rules = _list_rules(fresh)
    res = subprocess.run(
        [snakemake_bin(), flag, "--quiet", "all", "--configfile", str(TEST_CONFIG_REL)],
        cwd=fresh,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.lstrip().startswith("digraph"), res.stdout[:500]
    svg = subprocess.run(
        [_dot(), "-Tsvg"], input=res.stdout, capture_output=True, text=True, timeout=120
    )
    assert svg.returncode == 0, svg.stderr
    assert "<svg" in svg.stdout
    labels = set(re.findall(r"<text[^>]*>([^<]+)</text>", svg.stdout))
    assert rules <= labels, rules - labels


def test_committed_rulegraph_svg_is_current(tmp_path):
    assert SVG.exists(), f"{SVG} missing: run bash {MAKE_DAG.relative_to(REPO)}"
    _dot()
    fresh_svg = tmp_path / "rulegraph.svg"
    res = subprocess.run(
        ["bash", str(MAKE_DAG)],
        env={**os.environ, "OUT": str(fresh_svg), "SNAKEMAKE": snakemake_bin()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]

    def nodes_and_edges(text: str) -> tuple[set[str], int]:
        labels = set(re.findall(r"<text[^>]*>([^<]+)</text>", text))
        return labels, text.count('class="edge"')

    assert nodes_and_edges(SVG.read_text()) == nodes_and_edges(fresh_svg.read_text()), (
        f"{SVG.relative_to(REPO)} is out of date: run bash {MAKE_DAG.relative_to(REPO)}"
    )
