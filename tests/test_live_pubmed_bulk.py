"""Bulk literature pull (live.literature.method: bulk) against the loopback PubMed.

Date slicing over the 10,000-ID limit, resume after SIGKILL mid-slice (counted at the server),
a slice whose IDs do not add up, a union that misses records, a truncated gene2pubmed download,
429 + Retry-After on the history-server calls, and the per-gene counts against an independent
intersection of gene2pubmed with the server's context sets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from live_server import ESEARCH_PATH, SOURCE_PATHS, LiveServer  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.fetch import (  # noqa: E402
    bulk_request,
    fetch_to,
    pubmed_release,
    pull_pubmed_bulk,
)
from usher_pipeline.live.plan import format_plan, live_plan  # noqa: E402
from usher_pipeline.live.pubmed_bulk import (  # noqa: E402
    FETCHER_VERSION,
    DateSlice,
    gene_context_counts,
    split_slice,
)
from usher_pipeline.persistence import FetchCache, PipelineStore  # noqa: E402

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def universe(tmp_path_factory) -> pl.DataFrame:
    with LiveServer() as srv:
        info = pl.read_csv(
            srv.data_dir / "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
            separator="\t",
            quote_char=None,
            infer_schema=False,
        )
    return (
        info.select(
            pl.col("dbXrefs").str.extract(r"HGNC:(HGNC:\d+)").alias("gene_id"),
            pl.col("GeneID").cast(pl.Int64).alias("ncbi_gene_id"),
        )
        .drop_nulls()
        .unique("gene_id")
        .sort("gene_id")
    )


def _slice_requests(srv: LiveServer) -> list[dict[str, str]]:
    """Slice requests seen by the server: context (from the WebEnv), mindate, maxdate."""
    hist = srv._history_server()
    out = []
    for path, query, _ in srv.log:
        q = {k: v[0] for k, v in parse_qs(query).items()}
        if path == ESEARCH_PATH and q.get("term", "").startswith("#"):
            ctx = hist.envs.get(q.get("WebEnv", ""), {}).get(q["term"][1:], "?")
            out.append({"context": ctx, "mindate": q["mindate"], "maxdate": q["maxdate"]})
    return out


def _checkpoint(cfg: dict) -> object:
    cache = FetchCache.from_config(cfg, PipelineStore.from_config(cfg))
    return cache.batches("pubmed", pubmed_release(cfg), bulk_request(cfg), FETCHER_VERSION)


def test_split_slice_is_contiguous_and_deterministic():
    top = DateSlice(date(1700, 1, 1), date(2100, 12, 31))
    parts = split_slice(top, 300_000)
    assert parts == split_slice(top, 300_000)
    assert parts[0].lo == top.lo and parts[-1].hi == top.hi
    for a, b in zip(parts, parts[1:], strict=False):
        assert (b.lo - a.hi).days == 1 and a.lo <= a.hi
    # the prior cuts recent decades finer than the 18th century
    recent = [p for p in parts if p.lo.year >= 2000]
    assert recent and max(p.days for p in recent) < parts[0].days
    assert len(split_slice(DateSlice(date(2020, 1, 1), date(2020, 1, 2)), 50_000)) == 2
    with pytest.raises(ValueError, match="cannot be split further"):
        split_slice(DateSlice(date(2020, 1, 1), date(2020, 1, 1)), 20_000)


def test_gene_context_counts_hand_made():
    uni = pl.DataFrame({"gene_id": ["G1", "G2", "G3"], "ncbi_gene_id": [1, 2, 3]})
    links = pl.DataFrame({"ncbi_gene_id": [1, 1, 1, 2, 9], "pmid": [10, 11, 12, 10, 10]})
    out = gene_context_counts(uni, links, {"cilia": pl.Series([10, 12, 99])})
    assert out.to_dicts() == [
        {"gene_id": "G1", "pubmed_total": 3, "pubmed_cilia": 2},
        {"gene_id": "G2", "pubmed_total": 1, "pubmed_cilia": 1},
        {"gene_id": "G3", "pubmed_total": 0, "pubmed_cilia": 0},
    ]


def test_bulk_counts_equal_independent_intersection_and_rerun_is_free(universe, tmp_path):
    with LiveServer() as srv:
        cfg = srv.live_config(tmp_path)
        # this test counts requests exactly: a client time-out on a loaded machine would add a
        # retried request (the fault tests use the short time-out on purpose)
        cfg["live"]["timeout_s"] = 120
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        srv.reset_counts()
        out, stats = pull_pubmed_bulk(cfg, universe, g2p)
        first = srv.counts[ESEARCH_PATH]
        assert first == stats["requests"] and 0 < first < 200
        sets = srv.pubmed_context_sets()
        links = pl.read_csv(
            srv.data_dir / "ncbi_2022-09-12/gene2pubmed_human.gz", separator="\t"
        ).filter(pl.col("#tax_id") == 9606)
        by_gene: dict[int, set[int]] = {}
        for gid, pmid in links.select("GeneID", "PubMed_ID").iter_rows():
            by_gene.setdefault(gid, set()).add(pmid)
        for row in out.join(universe, on="gene_id").sample(300, seed=1).iter_rows(named=True):
            pm = by_gene.get(row["ncbi_gene_id"], set())
            assert row["pubmed_total"] == len(pm)
            for ctx in ("cilia", "sensory", "photoreceptor"):
                assert row[f"pubmed_{ctx}"] == len(pm & sets[ctx]), (row, ctx)
        assert out.height == universe.height
        assert out["pubmed_cilia"].sum() > 0
        srv.reset_counts()
        again, stats2 = pull_pubmed_bulk(cfg, universe, g2p)
        assert srv.counts[ESEARCH_PATH] == 0 and stats2["requests"] == 0
        assert again.equals(out)


def test_slices_over_10000_are_split_and_union_is_complete(universe, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="usher_pipeline")
    with LiveServer() as srv:
        srv.set_pubmed_context_sizes({"cilia": 25_000, "sensory": 10_001, "photoreceptor": 0})
        cfg = srv.live_config(tmp_path)
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        srv.reset_counts()
        _, stats = pull_pubmed_bulk(cfg, universe.head(50), g2p)
        slices = _slice_requests(srv)
        assert stats["totals"] == {"cilia": 25_000, "sensory": 10_001, "photoreceptor": 0}
        assert stats["slices"]["sensory"] >= 2 and stats["slices"]["cilia"] >= 3
        assert stats["slices"]["photoreceptor"] == 1
        # every slice was requested once; the server's answers were within the 10,000 limit
        keys = [(s["context"], s["mindate"], s["maxdate"]) for s in slices]
        assert len(keys) == len(set(keys))
        saved = _checkpoint(cfg).load_all()
        assert saved is not None
        ids = saved.drop_nulls("pmid")
        for ctx, want in srv.pubmed_context_sets().items():
            got = set(ids.filter(pl.col("context") == ctx)["pmid"].to_list())
            assert got == want, ctx
        leaf_sizes = ids.group_by("context", "lo", "hi").len()["len"]
        assert leaf_sizes.max() <= 10_000
    # progress in the log: items done / total, request rate, time left
    lines = [r.getMessage() for r in caplog.records if "pubmed cilia IDs" in r.getMessage()]
    assert lines and re.search(r"25,000/25,000 done, \d+ requests \([\d.]+/s\)", lines[-1])
    assert lines[-1].endswith("s left")


def test_slice_short_of_its_count_fails_and_saves_nothing_of_it(universe, tmp_path):
    with LiveServer() as srv:
        srv.set_pubmed_context_sizes({"cilia": 500, "sensory": 500, "photoreceptor": 500})
        cfg = srv.live_config(tmp_path)
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        srv.set_fault(ESEARCH_PATH, "short_ids")
        with pytest.raises(SourceFormatError, match=r"cilia slice .* reports 500 .* 499 IDs"):
            pull_pubmed_bulk(cfg, universe.head(10), g2p)
        assert _checkpoint(cfg).done_batch_ids() == {"cilia|total"}


def test_union_short_of_total_is_an_error(universe, tmp_path):
    with LiveServer() as srv:
        srv.set_pubmed_context_sizes({"cilia": 3000, "sensory": 10, "photoreceptor": 10})
        cfg = srv.live_config(tmp_path, literature={"date_range": ["1990/01/01", "2100/12/31"]})
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        with pytest.raises(SourceFormatError, match=r"hold \d+ distinct PMIDs but the query"):
            pull_pubmed_bulk(cfg, universe.head(10), g2p)


def test_truncated_gene2pubmed_is_rejected_and_not_cached(tmp_path):
    with LiveServer() as srv:
        cfg = srv.live_config(tmp_path)
        srv.set_fault(SOURCE_PATHS["gene2pubmed"], "truncate_gzip")
        dest = tmp_path / "raw" / "gene2pubmed"
        with pytest.raises(SourceFormatError, match="truncated gzip"):
            fetch_to("gene2pubmed", cfg, dest)
        assert not dest.exists()
        cache = FetchCache.from_config(cfg, PipelineStore.from_config(cfg))
        assert cache.list().height == 0
        srv.clear_faults()
        fetch_to("gene2pubmed", cfg, dest)
        assert dest.exists()


def test_429_with_retry_after_on_history_calls(universe, tmp_path):
    with LiveServer() as srv:
        srv.set_pubmed_context_sizes({"cilia": 200, "sensory": 200, "photoreceptor": 200})
        cfg = srv.live_config(tmp_path)
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        srv.reset_counts()
        srv.set_fault(ESEARCH_PATH, "429", times=3, retry_after=0.2)
        out, stats = pull_pubmed_bulk(cfg, universe.head(10), g2p)
        assert srv.status_counts[429] == 3
        assert srv.counts[ESEARCH_PATH] == stats["requests"] + 3
        assert out.height == 10


CHILD = r"""
import json, sys
import polars as pl
from usher_pipeline.live.fetch import pull_pubmed_bulk
cfg = json.load(open(sys.argv[1]))
pull_pubmed_bulk(cfg, pl.read_parquet(sys.argv[2]), sys.argv[3])
"""


@pytest.mark.slow
def test_kill_9_mid_slice_repeats_at_most_one_slice(universe, tmp_path):
    sizes = {"cilia": 60_000, "sensory": 20_000, "photoreceptor": 5_000}
    with LiveServer(latency_s=0.15) as srv:
        srv.set_pubmed_context_sizes(sizes)
        cfg = srv.live_config(tmp_path)
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        universe.head(100).write_parquet(tmp_path / "u.parquet")
        (tmp_path / "cfg.json").write_text(json.dumps(cfg))
        srv._history_server()
        srv.reset_counts()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(tmp_path / "cfg.json"),
                str(tmp_path / "u.parquet"),
                str(g2p),
            ],
            env=dict(os.environ),
        )
        deadline = time.monotonic() + 120
        while len(_slice_requests(srv)) < 6:
            assert proc.poll() is None, "child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        # kill while the next slice request is in flight (the server holds it for latency_s)
        n = srv.counts[ESEARCH_PATH]
        while srv.counts[ESEARCH_PATH] == n:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = {(s["context"], s["mindate"], s["maxdate"]) for s in _slice_requests(srv)}
        srv.reset_counts()
        out, stats = pull_pubmed_bulk(cfg, universe.head(100), g2p)
        second = {(s["context"], s["mindate"], s["maxdate"]) for s in _slice_requests(srv)}
        assert len(first & second) <= 1, sorted(first & second)
        assert stats["totals"] == sizes
        assert out.height == 100
        srv.reset_counts()
        pull_pubmed_bulk(cfg, universe.head(100), g2p)
        assert srv.counts[ESEARCH_PATH] == 0


def test_dry_run_plan_counts_what_is_left(universe, tmp_path):
    with LiveServer() as srv:
        srv.set_pubmed_context_sizes({"cilia": 25_000, "sensory": 500, "photoreceptor": 0})
        cfg = srv.live_config(tmp_path, literature={"expected_records": 100_000})
        cfg["snapshot_dir"] = str(Path(__file__).parent / "fixtures" / "snapshot_mini")
        before = {r.source: r for r in live_plan(cfg)}
        assert not (tmp_path / "state").exists()  # a dry run creates no state file
        assert before["gene2pubmed"].todo_requests == 1
        assert before["pubmed (bulk)"].todo_requests > 3 * 10  # 3 contexts x 100,000 records
        assert before["uniprot"].todo_requests > 0
        g2p = tmp_path / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        srv.reset_counts()
        pull_pubmed_bulk(cfg, universe.head(10), g2p)
        sent = sum(srv.counts.values())
        after = {r.source: r for r in live_plan(cfg)}
        assert sum(srv.counts.values()) == sent  # the plan sends no request
        assert after["gene2pubmed"].todo_requests == 0
        assert after["gene2pubmed"].done.startswith("checkpointed")
        assert after["pubmed (bulk)"].todo_requests == 0
        assert after["pubmed (bulk)"].done == "cilia done; sensory done; photoreceptor done"
        text = format_plan(list(after.values()), cfg)
        assert "pubmed (bulk)" in text and "127.0.0.1" in text


def test_cli_dry_run_prints_the_plan_then_runs_snakemake_n(tmp_path, monkeypatch, capsys):
    from usher_pipeline import cli

    cfg = {
        "results_dir": str(tmp_path / "results"),
        "state": {"db": str(tmp_path / "state" / "usher.duckdb")},
        "live": {"literature": {"method": "per_gene"}, "disabled_sources": ["uniprot"]},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    calls: list[list[str]] = []
    monkeypatch.setattr(cli, "_call", lambda cmd: calls.append(cmd) or 0)
    argv = ["run", "--configfile", str(tmp_path / "c.yaml"), "--config", "mode=live", "--dry-run"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    # 19,464 genes (universe not built yet) x 4 requests, nothing checkpointed
    assert re.search(r"pubmed \(per_gene\)\s+77,856 req\s+7\.\d h", out), out
    assert "uniprot" in out and "disabled (live.disabled_sources): uniprot" in out
    assert len(calls) == 1 and "--dry-run" in calls[0]
    assert not (tmp_path / "state").exists()
