"""The whole workflow in live mode against the loopback server (tests/live_server.py).

STRING (links + protein info), Reactome and HPA subcellular (with the cilia categories) are
fetched from loopback like the first eight layers' sources; the sources without a live upstream
are named "snapshot only (release ...)" in the candidate list's provenance.

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
from live_server import SOURCE_PATHS, LiveServer  # noqa: E402

# Sources added to live mode with ranking v2's evidence: fetched once, through the same parsers.
V2_SOURCES = ("string_links", "string_info", "reactome_gmt", "hpa_subcellular")
SNAPSHOT_ONLY = ("ht_studies", "ht_study_genes", "nevers_phylogeny", "retina_scrna_markers")

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
    # STRING, Reactome and HPA subcellular came from loopback, one request each
    for key in V2_SOURCES:
        assert run.counts.get(SOURCE_PATHS[key]) == 1, (key, run.counts)
    net_side = json.loads((results / "live/string_network.tsv.provenance.json").read_text())
    step = [s for s in net_side["processing_steps"] if s["name"].startswith("build STRING")][0]
    assert step["details"]["dropped_channels"] == ["textmining"]
    assert step["details"]["pruning"] == {"keep_min_score": 700, "top_per_gene": 3,
                                          "top_min_score": 400}  # fmt: skip
    net = json.loads((results / "layers/network.stats.json").read_text())
    assert net["rows"] > 0
    loc = pl.read_parquet(results / "layers/localization.parquet")
    cilia_cats = {"Primary cilium", "Primary cilium tip", "Primary cilium transition zone",
                  "Basal body"}  # fmt: skip
    seen = set(loc["hpa_ciliary_locations"].explode().drop_nulls().to_list())
    assert cilia_cats & seen, seen  # the current HPA download's cilia categories are scored
    loc_stats = json.loads((results / "layers/localization.stats.json").read_text())
    assert loc_stats["genes_per_hpa_location"]["Primary cilium"] > 0
    # the candidate list's sidecar names the release of every source it used, live or snapshot
    cand = json.loads((results / "candidates.parquet.provenance.json").read_text())
    by_name = {s["name"]: s for s in cand["sources"]}
    for key in V2_SOURCES:
        assert by_name[key]["release"] == "current", key
        assert by_name[key]["url"].endswith(SOURCE_PATHS[key]), key
        assert "note" not in by_name[key]
    manifest = json.loads((work / "workflow/resources/snapshot/manifest.json").read_text())
    entries = {e["key"]: e for e in manifest["files"]}
    for key in SNAPSHOT_ONLY:
        entry = entries[key]
        src = by_name[entry["source"]]
        assert src["note"] == f"snapshot only (release {entry['release']})", src
    # the snapshot's STRING / Reactome / HPA tables were not used, so they are not named
    for key in ("string_network", "reactome_gmt", "hpa_subcellular", "hpa_cilia_flags"):
        assert entries[key]["source"] not in by_name, key
    assert all(s["release"] for s in cand["sources"])
    first = {
        rel: _sha(results / rel)
        for rel in ("candidates.parquet", "gene_evidence.parquet", "candidates.tsv")
    }
    shutil.rmtree(results)
    # the same server again, on the port the run's live.yaml points at, counting every request
    srv = LiveServer()
    with run.port_lock():
        srv.start(port=run.port)
        try:
            res2 = e2e.run_snakemake(args, cwd=work, timeout=900, log_file=base / "run2.log")
        finally:
            srv.stop()
    assert res2.returncode == 0, e2e.describe(res2)
    assert sum(srv.counts.values()) == 0, dict(srv.counts)
    for rel, digest in first.items():
        assert _sha(results / rel) == digest, rel
