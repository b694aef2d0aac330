"""The whole workflow in live mode against the loopback server (tests/live_server.py).

gnomAD, GTEx and HPA tissue RNA have no offline copy, so they are switched off with
live.disabled_sources (expression stays NULL; constraint falls back to the snapshot's s_het).
The literature layer uses the default bulk method (gene2pubmed x history-server context sets).
After deleting results/ but keeping the state database, a rerun sends zero requests and
reproduces the same outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from live_server import LiveServer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_live_workflow_then_rerun_without_results_makes_zero_requests():
    run = e2e.live_run()  # the live run, shared with test_state_roundtrip_e2e
    base = e2e.scratch_dir("usher-e2e-live-rerun-")
    work = run.copy_to(base / "wf")
    args = run.args
    first_requests = sum(run.counts.values())
    assert first_requests > 0
    esearch = [q for p, q, _ in run.log if p.endswith("/esearch.fcgi")]
    assert esearch and all("usehistory=y" in q for q in esearch)  # bulk pull, not per_gene
    assert len(esearch) < 200
    results = work / "live_results"
    prov = json.loads((results / "live/pubmed_counts.parquet.provenance.json").read_text())
    src = [s for s in prov["sources"] if s["name"] == "pubmed_eutils"][0]
    assert src["validators"]["method"] == "bulk"
    assert src["validators"]["links"] == "gene2pubmed"
    # the pull's progress lines (done / total, request rate, time left) are in the rule log
    pull_log = (results / "logs/live/pubmed_counts.log").read_text()
    assert re.search(r"pubmed cilia IDs: ([\d,]+)/\1 done, \d+ requests", pull_log), pull_log
    assert "s left" in pull_log
    lit = pl.read_parquet(results / "layers/literature.parquet")
    assert lit["literature_score"].null_count() < lit.height  # context counts used
    assert (lit["pubmed_cilia"] >= 0).all()
    expr = pl.read_parquet(results / "layers/expression.parquet")
    # live tissue RNA disabled: unknown; the layer is the (offline) retina single-cell part
    assert expr["tissue_score"].null_count() == expr.height
    assert expr["retina_photoreceptor_score"].null_count() == 0
    assert expr["expression_score"].equals(expr["retina_photoreceptor_score"], check_names=False)
    cons = pl.read_parquet(results / "layers/constraint.parquet")
    assert cons["s_het"].null_count() < cons.height  # fell back to the snapshot's s_het
    first = {
        rel: _sha(results / rel)
        for rel in ("candidates.parquet", "gene_evidence.parquet", "candidates.tsv")
    }
    shutil.rmtree(results)
    # the same server again, on the port the run's live.yaml points at, counting every request
    srv = LiveServer()
    srv.start(port=run.port)
    try:
        res2 = e2e.run_snakemake(args, cwd=work, timeout=900, log_file=base / "run2.log")
    finally:
        srv.stop()
    assert res2.returncode == 0, e2e.describe(res2)
    assert sum(srv.counts.values()) == 0, dict(srv.counts)
    for rel, digest in first.items():
        assert _sha(results / rel) == digest, rel
