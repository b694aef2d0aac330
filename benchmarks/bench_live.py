"""Live-mode benchmark on the loopback server (no internet).

1. Achieved E-utilities request rate vs the configured per-host limit, with added server latency
   (so a serial client could not reach the limit; worker threads share the token bucket). The
   server answers 429 when it sees more than the limit within one second (as NCBI does); the count
   of 429s that reached the caller unhandled (failed pulls) is reported too.
2. Time of a rerun that short-circuits through the checkpoints, vs the first run.

    .venv/bin/python benchmarks/bench_live.py [--rate 10] [--latency 0.15] [--genes 60]
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
from usher_pipeline.live.fetch import fetch_to, pull_pubmed_counts  # noqa: E402
from usher_pipeline.live.http import SourceFetchError  # noqa: E402
from usher_pipeline.live.literature import DEFAULT_CONTEXTS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=10.0, help="configured requests/s")
    ap.add_argument("--latency", type=float, default=0.15, help="added server latency, s")
    ap.add_argument("--genes", type=int, default=60)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=30, help="genes per checkpoint batch")
    args = ap.parse_args()

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
