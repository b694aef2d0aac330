"""Live STRING, Reactome and HPA subcellular (with the cilia categories) against the loopback
server: the same parsers as the snapshot, the STRING rebuild (text mining dropped, the snapshot's
pruning rule), fault handling of every new fetcher (truncated download, 429 with Retry-After,
kill -9 mid-download then resume), the snapshot-only sources in the dry-run plan and provenance.

The loopback files are rebuilt from the shared data's real values (tests/live_server.py says how
for each); the hand-made edges of the pruning test are test inputs with test identifiers.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from live_server import SOURCE_PATHS, LiveServer, shared_data_dir  # noqa: E402
from usher_pipeline import rule_bodies  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.fetch import fetch_to  # noqa: E402
from usher_pipeline.live.http import SourceFetchError  # noqa: E402
from usher_pipeline.live.plan import format_plan, live_plan  # noqa: E402
from usher_pipeline.live.sources import SOURCES  # noqa: E402
from usher_pipeline.live.string import (  # noqa: E402
    DEFAULT_PRUNING,
    build_string_network,
    combined_score,
    prune_edges,
    pruning_settings,
)
from usher_pipeline.parsers.cilia import read_reactome_gmt, read_string_edges  # noqa: E402
from usher_pipeline.parsers.hpa import read_hpa_genes, read_hpa_subcellular  # noqa: E402
from usher_pipeline.parsers.ncbi import read_gene_info  # noqa: E402
from usher_pipeline.persistence import FetchCache, PipelineStore  # noqa: E402
from usher_pipeline.sources import (  # noqa: E402
    STEP_SOURCES,
    snapshot_only_sources,
    step_inputs,
)

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "workflow" / "resources" / "snapshot"
DATA = shared_data_dir()
SHARED_STRING = DATA / "string_v12/string_v12_human_entrez_no_textmining.tsv.gz"
NEW_SOURCES = ("string_links", "string_info", "reactome_gmt", "hpa_subcellular")
HPA_CILIA = ("Primary cilium", "Primary cilium tip", "Primary cilium transition zone", "Basal body")


@pytest.fixture(scope="module")
def server():
    with LiveServer() as s:
        yield s


@pytest.fixture
def srv(server):
    server.clear_faults()
    server.reset_counts()
    yield server
    server.clear_faults()


@pytest.fixture(scope="module")
def fetched(server, tmp_path_factory):
    """The new sources and gene_info fetched once from loopback (through the fetch cache)."""
    tmp = tmp_path_factory.mktemp("fetched")
    cfg = server.live_config(tmp)
    for key in (*NEW_SOURCES, "gene_info"):
        fetch_to(key, cfg, tmp / key)
    return tmp


def test_combined_score_formula_reproduces_the_snapshot_scores():
    """STRING's combination rule over the shared table's own channels gives its recomputed score
    (exactly for 95% of edges; STRING's homology correction is not in the channel columns)."""
    df = pl.read_csv(SHARED_STRING, separator="\t")
    channels = [c for c in df.columns if c not in ("entrez_1", "entrez_2", "homology",
                                                   "combined_score")]  # fmt: skip
    got = df.select(combined_score([pl.col(c) for c in channels]).alias("s"))["s"]
    diff = (got - df["combined_score"]).abs()
    assert (diff == 0).mean() > 0.94
    assert (diff <= 1).mean() > 0.97


def test_pruning_rule_keeps_strong_edges_and_each_genes_top_three():
    edges = pl.DataFrame(
        {
            "entrez_1": [1, 1, 1, 1, 1, 1, 7, 8],
            "entrez_2": [2, 3, 4, 5, 6, 9, 9, 9],
            "combined_score": [750, 650, 640, 630, 620, 399, 450, 460],
        }
    )
    out = prune_edges(edges, **DEFAULT_PRUNING)
    pairs = set(out.select("entrez_1", "entrez_2").iter_rows())
    # >= 700 always; 1's top three mid edges (650, 640, 630); 1-6 (620) is gene 6's only edge,
    # so its top one; below 400 never; 7-9 and 8-9 are their genes' top edges
    assert pairs == {(1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (7, 9), (8, 9)}
    assert prune_edges(edges, 700, 0, 400).height == 1
    with pytest.raises(ValueError, match="string_pruning"):
        pruning_settings({"live": {"string_pruning": {"keep_min_score": 300}}})
    assert pruning_settings({}) == {"keep_min_score": 700, "top_per_gene": 3, "top_min_score": 400}


def test_live_string_network_matches_the_snapshot_network(fetched, tmp_path):
    genes = read_gene_info(fetched / "gene_info")
    net, stats = build_string_network(
        fetched / "string_links", fetched / "string_info", genes, DEFAULT_PRUNING
    )
    assert stats["dropped_channels"] == ["textmining"]
    assert stats["proteins_unmapped"] < 0.01 * stats["proteins"]
    # the snapshot's layout, read by the snapshot's parser
    net.write_csv(tmp_path / "net.tsv", separator="\t")
    live = read_string_edges(tmp_path / "net.tsv")
    snap = read_string_edges(SHARED_STRING)
    both = live.join(snap, on=["ncbi_gene_id_1", "ncbi_gene_id_2"], how="inner")
    assert both.height == live.height  # every live edge is a snapshot edge
    assert live.height > 0.95 * snap.height
    assert (both["combined_score"] - both["combined_score_right"]).abs().median() == 0
    # the rule holds on the output: every edge below 700 is a top-3 mid edge of one of its genes
    mid = net.filter(pl.col("combined_score") < 700)
    assert mid["combined_score"].min() >= 400
    assert net.filter(pl.col("combined_score") >= 700).height == stats["edges_at_or_above_keep_min"]


def test_text_mining_is_ignored(fetched, tmp_path):
    """The upstream textmining channel and combined score never enter the live network."""
    with gzip.open(fetched / "string_links", "rt") as fh:
        lines = [next(fh) for _ in range(3000)]
    header = lines[0].split()
    tm, cs = header.index("textmining"), header.index("combined_score")

    def write(name: str, tm_value: str) -> Path:
        out = [lines[0]]
        for line in lines[1:]:
            cells = line.split()
            cells[tm], cells[cs] = tm_value, "999"
            out.append(" ".join(cells) + "\n")
        path = tmp_path / name
        path.write_bytes(gzip.compress("".join(out).encode(), mtime=0))
        return path

    genes = read_gene_info(fetched / "gene_info")
    info = fetched / "string_info"
    a, _ = build_string_network(write("a.gz", "0"), info, genes, DEFAULT_PRUNING)
    b, _ = build_string_network(write("b.gz", "999"), info, genes, DEFAULT_PRUNING)
    assert a.height > 100 and a.equals(b)
    assert (a["combined_score"] < 999).any()


def test_links_naming_an_unlisted_protein_are_an_error(fetched, tmp_path):
    with gzip.open(fetched / "string_links", "rt") as fh:
        head = [next(fh) for _ in range(5)]
    first = head[1].split()
    head.append(f"9606.NOT_IN_INFO {first[1]} " + " ".join(first[2:]) + "\n")
    path = tmp_path / "links.gz"
    path.write_bytes(gzip.compress("".join(head).encode(), mtime=0))
    with pytest.raises(SourceFormatError, match="not listed") as err:
        build_string_network(
            path, fetched / "string_info", read_gene_info(fetched / "gene_info"), DEFAULT_PRUNING
        )
    assert err.value.source == "string_info"


def test_reactome_and_hpa_current_go_through_the_snapshot_parsers(fetched):
    gmt = read_reactome_gmt(fetched / "reactome_gmt")
    snap = read_reactome_gmt(DATA / "reactome_2021/ReactomePathways.gmt.gz")
    assert gmt.equals(snap)
    assert "R-HSA-5617833" in set(gmt["pathway_id"])  # Cilium Assembly
    loc = read_hpa_subcellular(fetched / "hpa_subcellular")
    cats = set(loc["location"])
    assert set(HPA_CILIA) <= cats  # the cilia categories of current releases
    assert read_hpa_genes(fetched / "hpa_subcellular").height == 1237
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    wanted = config["layers"]["localization"]["weights"]["hpa_locations"]
    assert set(HPA_CILIA) <= set(wanted)  # the layer scores them
    cilium = loc.filter(pl.col("location").is_in(list(HPA_CILIA)))["ensembl_gene"].n_unique()
    assert cilium == 757  # HPA v25.1's cilium-compartment genes
    # the v17 layout (no Enhanced column, Validated instead) goes through the same parser
    v17 = read_hpa_subcellular(DATA / "hpa/subcellular_location_v17.tsv.gz")
    assert "Validated" in set(v17["level"]) and not set(HPA_CILIA) & set(v17["location"])


def _cache_rows(cfg) -> pl.DataFrame:
    with PipelineStore.from_config(cfg) as store:
        return FetchCache.from_config(cfg, store).list()


@pytest.mark.parametrize("key", NEW_SOURCES)
def test_truncated_download_is_rejected_and_not_cached(srv, tmp_path, key):
    cfg = srv.live_config(tmp_path)
    path = SOURCE_PATHS[key]
    srv.set_fault(path, "truncate_gzip")  # cuts the body (gzip or zip) to two thirds
    dest = tmp_path / "raw" / key
    with pytest.raises(SourceFormatError, match="truncated") as err:
        fetch_to(key, cfg, dest)
    assert err.value.source == key
    assert not dest.exists()
    assert _cache_rows(cfg).height == 0
    srv.clear_faults()
    out = fetch_to(key, cfg, dest)
    assert not out.from_cache and dest.stat().st_size == out.size


@pytest.mark.parametrize("key", NEW_SOURCES)
def test_429_with_retry_after_is_honoured(srv, tmp_path, key):
    cfg = srv.live_config(tmp_path)  # backoff_max_s 0.2: waiting longer is Retry-After's doing
    path = SOURCE_PATHS[key]
    srv.set_fault(path, "429", times=2, retry_after=0.5)
    t0 = time.monotonic()
    fetch_to(key, cfg, tmp_path / key)
    assert time.monotonic() - t0 >= 1.0
    assert srv.status_counts[429] == 2 and srv.counts[path] == 3
    srv.reset_counts()
    srv.set_fault(path, "429", times=None, retry_after=0.05)
    cfg2 = srv.live_config(tmp_path, sources={key: {"url": srv.url(path), "release": "other"}})
    with pytest.raises(SourceFetchError, match="429"):
        fetch_to(key, cfg2, tmp_path / "other")
    assert not (tmp_path / "other").exists()


CHILD = r"""
import json, sys
from usher_pipeline.live.fetch import fetch_to
cfg = json.load(open(sys.argv[1]))
for key in sys.argv[3:]:
    fetch_to(key, cfg, sys.argv[2] + "/" + key)
"""


@pytest.mark.parametrize("key", NEW_SOURCES)
def test_kill_9_mid_download_then_resume(tmp_path, key):
    """A fetch killed mid-body leaves no output and no checkpoint; the rerun takes what was
    checkpointed before the kill from the cache and downloads the killed file once."""
    before = "mgi_hmd"  # checkpointed before the kill
    with LiveServer() as srv:
        cfg = srv.live_config(tmp_path)
        (tmp_path / "cfg.json").write_text(json.dumps(cfg))
        srv.set_fault(SOURCE_PATHS[key], "pause", times=1, stall_s=30)
        raw = tmp_path / "raw"
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / "cfg.json"), str(raw), before, key],
            env=dict(os.environ),
        )
        try:
            assert srv.paused.wait(90), "the download never started"
            assert proc.poll() is None
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        assert (raw / before).exists() and not (raw / key).exists()
        cached = _cache_rows(cfg)
        assert cached["source"].to_list() == [before]
        srv.reset_counts()
        for k in (before, key):
            fetch_to(k, cfg, raw / k)
        assert srv.counts[SOURCE_PATHS[before]] == 0
        assert srv.counts[SOURCE_PATHS[key]] == 1
        served = srv._body_for(SOURCE_PATHS[key])[0]
        assert (raw / key).read_bytes() == served
        srv.reset_counts()
        fetch_to(key, cfg, raw / key)
        assert sum(srv.counts.values()) == 0


def test_snapshot_only_sources_come_from_the_step_registry(monkeypatch):
    why = snapshot_only_sources(SNAPSHOT)
    assert {"ht_studies", "ht_study_genes", "nevers_phylogeny", "retina_scrna_markers"} <= set(why)
    assert not {"string_network", "reactome_gmt", "hpa_subcellular", "hpa_cilia_flags"} & set(why)
    assert set(why.values()) == {"snapshot only"}
    off = snapshot_only_sources(SNAPSHOT, ["gnomad_constraint"])
    assert off["shet"] == "snapshot (live source gnomad_constraint disabled)"
    # a new snapshot-only source is one registry entry: a step reading the (so far unused)
    # MGI vocabulary makes it "snapshot only" everywhere
    monkeypatch.setitem(STEP_SOURCES, "new_layer", ("mgi_mp",))
    assert snapshot_only_sources(SNAPSHOT)["mgi_mp"] == "snapshot only"
    inputs = step_inputs("network", "live", SNAPSHOT, "res")
    assert inputs == {"string_network": "res/live/string_network.tsv"}


def test_dry_run_plan_lists_every_source_with_url_or_snapshot_only(srv, tmp_path):
    cfg = srv.live_config(tmp_path)
    cfg["snapshot_dir"] = str(SNAPSHOT)
    rows = {r.source: r for r in live_plan(cfg)}
    for key in ("string_links", "string_info", "reactome_gmt", "hpa_subcellular"):
        assert rows[key].origin == srv.url(SOURCE_PATHS[key]), key
        assert rows[key].todo_requests == 1
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text())
    release = {e["key"]: e["release"] for e in manifest["files"]}
    for key in ("ht_studies", "ht_study_genes", "nevers_phylogeny", "retina_scrna_markers"):
        assert rows[key].origin == f"snapshot only (release {release[key]})", key
    text = format_plan(list(rows.values()), cfg)
    assert "snapshot only (release CilioGenics 2023)" in text
    # every source a live run reads is listed: its fetched files, or the snapshot file
    for step in STEP_SOURCES:
        for key, path in step_inputs(
            step, "live", str(SNAPSHOT), str(tmp_path / "results")
        ).items():
            if key == "string_network":
                assert "string_links" in rows and "string_info" in rows
            else:
                assert key in rows, (step, key, path)
    assert sum(srv.counts.values()) == 0  # the plan sends no request


class _FakeRun:
    def __init__(self, config):
        self.config = config
        self.sources: list[dict] = []

    def add_source(self, name, release, url, **kw):
        self.sources.append({"name": name, "release": release, **kw})


def test_provenance_marks_snapshot_only_sources_in_live_mode():
    keys = ["ht_studies", "string_network", "nevers_phylogeny"]
    live = _FakeRun({"mode": "live", "snapshot_dir": str(SNAPSHOT), "live": {}})
    rule_bodies._add_snapshot_sources(live, keys)
    notes = {s["release"]: s["note"] for s in live.sources}
    assert notes == {
        "CilioGenics 2023": "snapshot only (release CilioGenics 2023)",
        "Nevers et al., MBE 2017 (JSON of 2025-10-19)":
            "snapshot only (release Nevers et al., MBE 2017 (JSON of 2025-10-19))",
    }  # fmt: skip
    # the snapshot's STRING table is not used in live mode: not recorded as a source
    snap = _FakeRun({"mode": "snapshot", "snapshot_dir": str(SNAPSHOT)})
    rule_bodies._add_snapshot_sources(snap, keys)
    assert len(snap.sources) == 3 and all(s["note"] is None for s in snap.sources)


def test_registry_entries_of_the_new_sources():
    assert SOURCES["string_links"].default_url.startswith("https://stringdb-downloads.org/")
    assert "links.detailed" in SOURCES["string_links"].default_url
    assert SOURCES["reactome_gmt"].default_url.endswith("/current/ReactomePathways.gmt.zip")
    assert SOURCES["hpa_subcellular"].default_url.endswith("/subcellular_location.tsv.zip")


def test_reproducibility_report_says_which_snapshot_files_a_live_run_read():
    from usher_pipeline.repro import reproducibility_markdown

    manifest = json.loads((SNAPSHOT / "manifest.json").read_text())
    uni = {f"{p}_{k}": 1 for p in ("with", "rate")
           for k in ("ensembl_gene", "uniprot_acc", "mane_refseq_nuc")}  # fmt: skip

    def report(mode: str) -> str:
        return reproducibility_markdown(
            config={"mode": mode, "snapshot_dir": str(SNAPSHOT), "live": {}},
            verified={"verified": manifest["files"]},
            mapping={"universe": {"genes": 2, **uni}, "gene_sets": {}},
            layer_stats=[],
            evidence=pl.DataFrame({"is_known": [True, False], "tier": ["HIGH", "LOW"]}),
            validation={"metrics": {}, "gates": {}, "failed": []},
            pipeline_version="x",
            config_hash="y",
        )

    live = {line.split(" | ")[0].lstrip("| "): line for line in report("live").splitlines()}
    assert live["ht_studies"].endswith("| snapshot only (release CilioGenics 2023) |")
    assert live["string_network"].endswith("| not read (live source or unused) |")
    assert "in this live run" in report("live") and "in this live run" not in report("snapshot")


def test_localization_layer_scores_the_live_cilia_categories(fetched):
    """The live HPA download replaces v17 + the 2022 flags: the layer counts the cilium
    compartments (none in v17) through the snapshot's HPA parser."""
    import core_fixtures as cf
    from usher_pipeline import steps

    live_paths = {k: v for k, v in cf.paths().items() if k != "hpa_cilia_flags"}
    live_paths["hpa_subcellular"] = str(fetched / "hpa_subcellular")
    table, stats = steps.layer_step("localization", live_paths, cf.genes(), cf.config(),
                                    context={"aliases": cf.aliases()})  # fmt: skip
    snap_stats = cf.layer_stats("localization")
    assert stats["genes_per_hpa_location"]["Primary cilium"] > 0
    assert snap_stats["genes_per_hpa_location"]["Primary cilium"] == 0  # v17 has no cilium
    ift88 = cf.row(table, "IFT88")
    # HPA v25.1: IFT88 at the basal body, primary cilium and centriolar satellites
    assert {"Basal body", "Primary cilium"} <= set(ift88["hpa_ciliary_locations"])
    assert ift88["hpa_cilia_flag"] is None  # the 2022 flags are superseded in live mode
