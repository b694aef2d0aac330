"""One rate limit per upstream API across the whole run.

With --cores 4, live rules that call the same API (here the NCBI downloads) never run at the same
time, because they declare the ncbi_api resource and the profile (or, without one, live.smk) sets
its total to 1. Each job's start and end come from the state database's run records (RuleRun). A
control run that raises the total to 4 does overlap, so the check can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from e2e_fixtures import note_workflow_run  # noqa: E402
from live_server import LiveServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NCBI_KEYS = ("gene_info", "gene2go", "gene2pubmed", "mane")
OTHER_KEYS = ("hpo_obo", "mgi_hmd")


def _run(srv: LiveServer, tmp: Path, extra: list[str]) -> list[tuple[str, str, str]]:
    """Fetch the NCBI files and two others with --cores 4; (key, started, ended) per job."""
    tmp.mkdir(parents=True)
    cfg = srv.live_config(tmp)
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg))
    (tmp / "Snakefile").write_text(
        f'configfile: "{ROOT / "config/config.yaml"}"\n'
        f'include: "{ROOT / "workflow/rules/common.smk"}"\n'
        f'include: "{ROOT / "workflow/rules/live.smk"}"\n'
    )
    bindir = Path(sys.executable).parent
    targets = [f"{tmp}/results/live/raw/{k}" for k in NCBI_KEYS + OTHER_KEYS]
    cmd = [
        str(bindir / "snakemake"),
        "-s",
        str(tmp / "Snakefile"),
        "--configfile",
        str(tmp / "config.yaml"),
        "--cores",
        "4",
        "-d",
        str(tmp),
        *targets,
        *extra,
    ]
    env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '')}")
    started = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    note_workflow_run(cmd, time.monotonic() - started)
    assert r.returncode == 0, r.stderr[-3000:]
    con = duckdb.connect(str(tmp / "state" / "usher.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT wildcards, started_at, ended_at FROM _runs "
            "WHERE rule = 'live_fetch_source' AND status = 'ok'"
        ).fetchall()
    finally:
        con.close()
    out = []
    for wc, start, end in rows:
        key = yaml.safe_load(wc)["key"]
        out.append((key, start, end))
    assert sorted(k for k, _, _ in out) == sorted(NCBI_KEYS + OTHER_KEYS)
    return out


def _overlaps(jobs: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    ncbi = sorted((s, e, k) for k, s, e in jobs if k in NCBI_KEYS)
    return [(a[2], b[2]) for a, b in zip(ncbi, ncbi[1:], strict=False) if b[0] < a[1]]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ncbi_rules_never_overlap_at_cores_4(tmp_path):
    # every request is held 1 s by the server, so each fetch job lasts well over a second
    with LiveServer(latency_s=1.0) as srv:
        profile = ["--profile", str(ROOT / "workflow/profiles/default")]
        jobs = _run(srv, tmp_path / "limited", profile)
        assert _overlaps(jobs) == [], jobs
        # other hosts are not held back: a non-NCBI fetch ran while an NCBI fetch did
        ncbi = [(s, e) for k, s, e in jobs if k in NCBI_KEYS]
        other = [(s, e) for k, s, e in jobs if k in OTHER_KEYS]
        assert any(s1 < e2 and s2 < e1 for s1, e1 in other for s2, e2 in ncbi), jobs
        # without a profile live.smk sets the same total (1)
        assert _overlaps(_run(srv, tmp_path / "no_profile", [])) == []
        # control: with the total raised to 4 the same jobs do overlap
        control = _run(srv, tmp_path / "unlimited", [*profile, "--resources", "ncbi_api=4"])
        assert _overlaps(control), control
