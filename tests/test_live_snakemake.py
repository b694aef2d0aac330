"""live.smk end to end: localrule fetches through the cache (and the live STRING network built from
three of them); a forced rerun sends zero requests and rebuilds the same bytes.

Works on a copy of the shared live fixture run (tests/e2e_fixtures.py): its first pull is the
fetch under test, then the forced rerun of the same targets runs against the same loopback server
again (on the port the run's live.yaml points at), which counts every request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from live_server import LiveServer  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_live_rules_and_zero_request_rerun():
    run = e2e.live_run()
    base = e2e.scratch_dir("usher-e2e-live-rules-")
    work = run.copy_to(base / "wf")
    live = Path("live_results/live")
    targets = [
        str(live / "raw/gene2go"),
        str(live / "raw/hpa_subcellular"),
        str(live / "uniprot_features.parquet"),
        str(live / "string_network.tsv"),
    ]
    first = sum(run.counts.values())
    assert first >= 3
    feats = pl.read_parquet(work / targets[2])
    assert feats["accession"].is_unique().all() and feats.height > 19000
    assert (work / (targets[0] + ".provenance.json")).exists()
    # the STRING network is built from three fetched files and names each one's release
    net_prov = json.loads((work / (targets[3] + ".provenance.json")).read_text())
    names = {s["name"]: s["release"] for s in net_prov["sources"]}
    assert {"string_links", "string_info", "gene_info"} <= set(names)
    net = (work / targets[3]).read_bytes()
    assert net.startswith(b"entrez_1\tentrez_2\t")
    srv = LiveServer()
    with run.port_lock():
        srv.start(port=run.port)
        try:
            res = e2e.run_snakemake([*targets, "--forceall", *run.args], cwd=work, timeout=600,
                                    log_file=base / "forced.log")  # fmt: skip
        finally:
            srv.stop()
    assert res.returncode == 0, e2e.describe(res)
    ran = e2e.job_stats(res.output)
    assert {"live_fetch_source", "build_string_network"} <= set(ran), ran
    assert sum(srv.counts.values()) == 0, dict(srv.counts)
    assert (work / targets[3]).read_bytes() == net  # rebuilt from the cache: same bytes
