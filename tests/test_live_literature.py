"""Literature layer: PubMed query syntax, zero handling, checkpoints, kill -9 resume, rerun."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from live_server import LiveServer  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.fetch import pull_pubmed_counts  # noqa: E402
from usher_pipeline.live.literature import (  # noqa: E402
    DEFAULT_CONTEXTS,
    build_queries,
    gene_names,
    parse_esearch_count,
)

pytestmark = pytest.mark.timeout(180)
ESEARCH = "/entrez/eutils/esearch.fcgi"


@pytest.fixture(scope="module")
def server():
    with LiveServer() as s:
        yield s


@pytest.fixture(scope="module")
def genes(server) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A real universe slice: HGNC ID, symbol and NCBI synonyms from NCBI gene_info."""
    info = pl.read_csv(
        server.data_dir / "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    info = info.with_columns(
        pl.col("dbXrefs").str.extract(r"HGNC:(HGNC:\d+)").alias("gene_id")
    ).filter(pl.col("gene_id").is_not_null())
    universe = info.select("gene_id", pl.col("Symbol").alias("symbol"), "GeneID")
    aliases = (
        info.select("gene_id", pl.col("Synonyms").str.split("|").alias("alias"))
        .explode("alias")
        .filter(pl.col("alias") != "-")
    )
    return universe, aliases


def _terms(server) -> list[str]:
    return [parse_qs(q)["term"][0] for p, q, _ in server.log if p == ESEARCH]


def test_query_syntax():
    q = build_queries(["USH2A", "USH2"], {"cilia": "cilia[tiab] OR cilium[tiab]"})
    assert q["total"] == '("USH2A"[tiab] OR "USH2"[tiab])'
    assert q["cilia"] == '("USH2A"[tiab] OR "USH2"[tiab]) AND (cilia[tiab] OR cilium[tiab])'


def test_alias_filter_drops_short_and_other_symbols():
    uni = pl.DataFrame({"gene_id": ["G1", "G2"], "symbol": ["USH2A", "MYO7A"]})
    al = pl.DataFrame({"gene_id": ["G1"] * 5, "alias": ["US", "MYO7A", "RP39", '"X"', "123"]})
    assert gene_names(uni, al) == {"G1": ["USH2A", "RP39"], "G2": ["MYO7A"]}


def test_zero_and_phrases_not_found():
    ok = {"esearchresult": {"count": "0"}}
    assert parse_esearch_count(ok, ["ABC"], "u") == 0
    # PubMed drops unmatched quoted phrases and counts the rest: must be 0 for the gene
    dropped = {"esearchresult": {"count": "912345", "errorlist": {"phrasesnotfound": ["abc"]}}}
    assert parse_esearch_count(dropped, ["ABC"], "u") == 0
    partial = {"esearchresult": {"count": "7", "errorlist": {"phrasesnotfound": ["ABC1"]}}}
    assert parse_esearch_count(partial, ["ABC", "ABC1"], "u") == 7
    with pytest.raises(SourceFormatError, match="count"):
        parse_esearch_count({"esearchresult": {"idlist": []}}, ["ABC"], "http://x/esearch")


def test_counts_match_gene2pubmed_and_rerun_sends_nothing(server, genes, tmp_path):
    universe, aliases = genes
    sub = universe.filter(pl.col("symbol").is_in(["USH2A", "MYO7A", "CDH23", "A1BG", "IFT88"]))
    server.reset_counts()
    cfg = server.live_config(tmp_path, batch_size=2)
    out = pull_pubmed_counts(cfg, sub, aliases.head(0))
    assert server.counts[ESEARCH] == 5 * 4
    # independent check of the totals: PMIDs linked in gene2pubmed to the gene's GeneID
    with gzip.open(server.data_dir / "ncbi_2022-09-12/gene2pubmed_human.gz", "rt") as fh:
        g2p = pl.read_csv(fh.read().encode(), separator="\t")
    expect = dict(g2p.group_by("GeneID").agg(pl.col("PubMed_ID").n_unique()).iter_rows())
    got = dict(out.join(sub, on="gene_id").select("GeneID", "pubmed_total").iter_rows())
    assert {int(k): v for k, v in got.items()} == {int(k): expect[int(k)] for k in got}
    assert (out["pubmed_cilia"] <= out["pubmed_total"]).all()
    assert out.schema["pubmed_total"] == pl.Int64
    server.reset_counts()
    again = pull_pubmed_counts(cfg, sub, aliases.head(0))
    assert server.counts[ESEARCH] == 0
    assert again.equals(out)


def test_unknown_gene_counts_zero_not_all_pubmed(server, tmp_path):
    uni = pl.DataFrame({"gene_id": ["HGNC:0"], "symbol": ["NOTAGENEXYZ"]})
    cfg = server.live_config(tmp_path)
    out = pull_pubmed_counts(cfg, uni, pl.DataFrame(schema={"gene_id": pl.Utf8, "alias": pl.Utf8}))
    assert out.row(0, named=True)["pubmed_total"] == 0
    assert out.row(0, named=True)["pubmed_cilia"] == 0


def test_retry_on_429_in_item_pull(server, genes, tmp_path):
    universe, aliases = genes
    sub = universe.filter(pl.col("symbol").is_in(["USH2A", "MYO7A"]))
    server.reset_counts()
    server.set_fault(ESEARCH, "429", times=3, retry_after=0.2)
    try:
        out = pull_pubmed_counts(server.live_config(tmp_path), sub, aliases.head(0))
    finally:
        server.clear_faults()
    assert out["pubmed_total"].null_count() == 0
    assert server.status_counts[429] == 3
    assert server.counts[ESEARCH] == 8 + 3


CHILD = r"""
import json, sys
import polars as pl
from usher_pipeline.live.fetch import pull_pubmed_counts
cfg = json.load(open(sys.argv[1]))
uni = pl.read_parquet(sys.argv[2])
al = pl.read_parquet(sys.argv[3])
pull_pubmed_counts(cfg, uni, al)
"""


@pytest.mark.slow
def test_kill_9_resumes_with_at_most_one_batch_repeated(genes, tmp_path):
    universe, aliases = genes
    sub = universe.sort("gene_id").head(120)
    al = aliases.filter(pl.col("gene_id").is_in(sub["gene_id"].to_list()))
    sub.write_parquet(tmp_path / "u.parquet")
    al.write_parquet(tmp_path / "a.parquet")
    batch = 10
    with LiveServer(latency_s=0.01) as server:
        cfg = server.live_config(tmp_path, batch_size=batch, workers=2)
        cfg_path = tmp_path / "cfg.json"
        cfg_path.write_text(json.dumps(cfg))
        per_batch = batch * (1 + len(DEFAULT_CONTEXTS))
        env = dict(os.environ)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(cfg_path),
                str(tmp_path / "u.parquet"),
                str(tmp_path / "a.parquet"),
            ],
            env=env,
        )
        deadline = time.monotonic() + 90
        while server.counts[ESEARCH] < int(3.5 * per_batch):
            assert proc.poll() is None, "child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = _terms(server)
        assert 3 * per_batch < len(first) < len(sub) * (1 + len(DEFAULT_CONTEXTS))
        server.reset_counts()
        out = pull_pubmed_counts(cfg, sub, al)
        second = _terms(server)
        repeated = set(first) & set(second)
        # every query of the rerun is new except those of the one interrupted batch
        assert len(repeated) <= per_batch
        assert len(set(first) | set(second)) == len(sub) * (1 + len(DEFAULT_CONTEXTS))
        assert out.height == len(sub) and out["pubmed_total"].null_count() == 0
        server.reset_counts()
        pull_pubmed_counts(cfg, sub, al)
        assert server.counts[ESEARCH] == 0
