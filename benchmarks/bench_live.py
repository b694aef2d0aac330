"""Live-mode benchmark on the loopback server (no internet).

1. Achieved E-utilities request rate vs the configured per-host limit, with added server latency
   (so a serial client could not reach the limit; worker threads share the token bucket). The
   server answers 429 when it sees more than the limit within one second (as NCBI does); the count
   of 429s that reached the caller unhandled (failed pulls) is reported too.
2. Time of a rerun that short-circuits through the checkpoints, vs the first run.
3. Literature pull, bulk vs per_gene, for the full universe at NCBI's 3 requests/s: the loopback
   PubMed's three default contexts match 60,000 / 300,000 / 200,000 records (realistic sizes, fake
   IDs with deterministic publication dates). bulk runs in full (history search + date slices of
   at most 10,000 IDs, then the local intersection with gene2pubmed); the gene2pubmed transfer is
   timed apart. per_gene is measured on a sample of genes (at a higher rate, to keep the benchmark
   short) and extrapolated to the universe with its request formula genes x (1 + contexts).

    .venv/bin/python benchmarks/bench_live.py [--rate 10] [--latency 0.15] [--genes 60]
    .venv/bin/python benchmarks/bench_live.py --only literature
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from live_server import ESEARCH_PATH, LiveServer  # noqa: E402
from usher_pipeline.live.fetch import (  # noqa: E402
    fetch_to,
    pull_pubmed_bulk,
    pull_pubmed_counts,
)
from usher_pipeline.live.http import SourceFetchError  # noqa: E402
from usher_pipeline.live.literature import DEFAULT_CONTEXTS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=10.0, help="configured requests/s")
    ap.add_argument("--latency", type=float, default=0.15, help="added server latency, s")
    ap.add_argument("--genes", type=int, default=60)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=30, help="genes per checkpoint batch")
    ap.add_argument("--only", choices=["rate", "literature"], help="run one part")
    ap.add_argument("--eutils-rate", type=float, default=3.0, help="NCBI limit without a key")
    ap.add_argument(
        "--context-sizes",
        default="cilia=60000,sensory=300000,photoreceptor=200000",
        help="records per context of the loopback PubMed",
    )
    ap.add_argument("--sample-genes", type=int, default=60, help="per_gene sample size")
    args = ap.parse_args()
    if args.only != "literature":
        bench_rate(args)
    if args.only != "rate":
        bench_literature(args)


def _universe(srv: LiveServer, n: int | None = None) -> pl.DataFrame:
    info = pl.read_csv(
        srv.data_dir / "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
        separator="\t",
        quote_char=None,
        infer_schema=False,
    )
    uni = (
        info.select(
            pl.col("dbXrefs").str.extract(r"HGNC:(HGNC:\d+)").alias("gene_id"),
            pl.col("Symbol").alias("symbol"),
            pl.col("GeneID").cast(pl.Int64).alias("ncbi_gene_id"),
        )
        .drop_nulls()
        .unique("gene_id")
        .sort("gene_id")
    )
    return uni if n is None else uni.head(n)


def bench_literature(args: argparse.Namespace) -> None:
    sizes = {k: int(v) for k, v in (p.split("=") for p in args.context_sizes.split(","))}
    rate = args.eutils_rate
    with tempfile.TemporaryDirectory() as tmpd, LiveServer() as srv:
        tmp = Path(tmpd)
        srv.set_pubmed_context_sizes(sizes)
        srv._history_server()  # build the emulation outside the timed window
        srv.esearch_rate_limit = rate  # 429 above NCBI's limit, as NCBI does
        cfg = srv.live_config(tmp, rate_limits={"127.0.0.1": rate, "default": rate})
        universe = _universe(srv)
        contexts = len(sizes)

        srv.reset_counts()
        t0 = time.monotonic()
        g2p = tmp / "raw" / "gene2pubmed"
        fetch_to("gene2pubmed", cfg, g2p)
        transfer = time.monotonic() - t0
        g2p_bytes = g2p.stat().st_size

        srv.reset_counts()
        t1 = time.monotonic()
        table, stats = pull_pubmed_bulk(cfg, universe, g2p)
        bulk_wall = time.monotonic() - t1
        bulk_requests = srv.counts[ESEARCH_PATH]
        bulk_429 = srv.status_counts[429]

        srv.reset_counts()
        t2 = time.monotonic()
        pull_pubmed_bulk(cfg, universe, g2p)
        bulk_rerun = time.monotonic() - t2
        rerun_requests = srv.counts[ESEARCH_PATH]

        # per_gene on a sample, at a higher rate (its time at 3/s follows from its request count)
        sample = _universe(srv, args.sample_genes)
        srv.esearch_rate_limit = None
        fast = max(rate, 20.0)
        cfg_pg = srv.live_config(
            tmp / "pg", rate_limits={"127.0.0.1": fast, "default": fast}, batch_size=30
        )
        aliases = pl.DataFrame(schema={"gene_id": pl.Utf8, "alias": pl.Utf8})
        srv._esearch_index()
        srv.reset_counts()
        t3 = time.monotonic()
        pull_pubmed_counts(cfg_pg, sample, aliases)
        pg_sample_wall = time.monotonic() - t3
        pg_sample_requests = srv.counts[ESEARCH_PATH]

    safety = 0.95
    pg_full = universe.height * (1 + contexts)
    pg_time = pg_full / (rate * safety)
    ratio = bulk_requests / pg_full
    print()
    print(f"literature pull, full universe ({universe.height:,} genes), limit {rate:g} req/s")
    print(
        "  loopback PubMed contexts: "
        + ", ".join(f"{k} {v:,} records" for k, v in sizes.items())
        + f" (slices returned: {stats['slices']})"
    )
    print(
        f"  bulk     : {bulk_requests} E-utilities requests, {bulk_wall:.1f} s wall incl. the "
        "local intersection "
        f"({bulk_requests / bulk_wall:.2f} req/s; 429 from server: {bulk_429}), "
        f"{table.height:,} genes counted"
    )
    print(
        f"             + gene2pubmed transfer {g2p_bytes / 1e6:.1f} MB in {transfer:.2f} s "
        "(loopback, human-only file; 1 request, reported apart)"
    )
    print(f"             rerun: {rerun_requests} requests, {bulk_rerun:.2f} s")
    print(
        f"  per_gene : measured on a {sample.height}-gene sample: {pg_sample_requests} requests "
        f"(formula {sample.height} x (1 + {contexts}) = {sample.height * (1 + contexts)}), "
        f"{pg_sample_wall:.1f} s at {fast:g} req/s"
    )
    print(
        f"             full universe EXTRAPOLATED from the formula: {pg_full:,} requests, "
        f"{pg_time / 3600:.1f} h at {rate:g} req/s ({safety:.0%} of the limit)"
    )
    print(
        f"  bulk / per_gene requests: {100 * ratio:.3f}% (target <= 0.5%: "
        f"{'PASS' if ratio <= 0.005 else 'FAIL'}); bulk E-utilities wall {bulk_wall / 60:.1f} min "
        f"(target <= 5 min: {'PASS' if bulk_wall <= 300 else 'FAIL'})"
    )


def bench_rate(args: argparse.Namespace) -> None:

    with tempfile.TemporaryDirectory() as tmpd, LiveServer(latency_s=args.latency) as srv:
        tmp = Path(tmpd)
        srv.esearch_rate_limit = args.rate
        cfg = srv.live_config(
            tmp,
            rate_limits={"127.0.0.1": args.rate, "default": args.rate},
            batch_size=args.batch_size,
            workers=args.workers,
            max_retries=6,
        )
        info = pl.read_csv(
            srv.data_dir / "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
            separator="\t",
            quote_char=None,
            infer_schema=False,
        ).head(args.genes)
        uni = info.select(
            pl.col("dbXrefs").str.extract(r"HGNC:(HGNC:\d+)").alias("gene_id"),
            pl.col("Symbol").alias("symbol"),
        )
        aliases = pl.DataFrame(schema={"gene_id": pl.Utf8, "alias": pl.Utf8})
        # warm the server's esearch index outside the timed window
        srv._esearch_index()
        srv.reset_counts()

        unhandled = 0
        t0 = time.monotonic()
        try:
            pull_pubmed_counts(cfg, uni, aliases)
        except SourceFetchError:
            unhandled += 1
        first = time.monotonic() - t0
        n = srv.counts[ESEARCH_PATH]
        achieved = n / first
        n429 = srv.status_counts[429]
        expected = args.genes * (1 + len(DEFAULT_CONTEXTS))

        srv.reset_counts()
        t1 = time.monotonic()
        pull_pubmed_counts(cfg, uni, aliases)
        rerun = time.monotonic() - t1
        rerun_requests = srv.counts[ESEARCH_PATH]

        fetch_to("gene2pubmed", cfg, tmp / "raw" / "gene2pubmed")
        srv.reset_counts()
        t2 = time.monotonic()
        fetch_to("gene2pubmed", cfg, tmp / "raw" / "gene2pubmed")
        file_rerun = time.monotonic() - t2

    print(
        f"configured limit        : {args.rate:g} req/s (server latency {args.latency:g} s, "
        f"{args.workers} workers, {args.batch_size} genes per batch)"
    )
    print(f"requests                : {n} (expected {expected})")
    print(
        f"achieved rate           : {achieved:.2f} req/s = {100 * achieved / args.rate:.1f}% "
        "of the limit"
    )
    print(f"429 answered by server  : {n429}; unhandled 429 / failed pulls: {unhandled}")
    print(f"first run               : {first:.2f} s")
    print(
        f"rerun (checkpoints)     : {rerun:.3f} s, {rerun_requests} requests "
        f"({first / max(rerun, 1e-9):.0f}x faster)"
    )
    print(
        f"whole-file rerun        : {file_rerun:.3f} s, {srv.counts['/gene/DATA/gene2pubmed.gz']}"
        " requests"
    )


if __name__ == "__main__":
    main()
