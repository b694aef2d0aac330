"""Benchmarks of the state layer.

    python benchmarks/bench_state.py [--size-mb 8] [--repeats 5] [--skip-workflow]

(a) checkpoint hit vs fresh fetch: a loopback ``http.server`` serves a file; a fresh fetch downloads
    it through FetchCache.get_or_fetch (new key each time), a hit answers the same key from the
    cache. Both are timed in this run and their ratio printed.
(b) lock-wait share of a real workflow run: if ``Snakefile`` and ``.test/config/config.yaml`` exist
    and ``snakemake -n`` works, the workflow runs at ``--cores 4`` in a temporary copy of the repo;
    the summed ``_lock_waits.wait_s`` of its state database is printed as a fraction of the wall
    time (goal <= 5%). When the workflow cannot run, the script says so and exits non-zero.
(c) per-operation latency of the store (save, check, query, load; median of interleaved rounds)
    next to a bare DuckDB connect + insert + close measured in the same loop (goal: every store
    operation <= 2x the bare figure).
(d) 16 processes x 100 save+check pairs on one database file (goal: <= 120 s on 2 cores, 0 errors,
    0 lost rows).
(e) the mixed stress of the issue-3 acceptance: 16 processes x 200 mixed operations (append to a
    shared table, read it back, replace an own table, query it) on one file -> 0 errors, 0 lost
    rows. The same workers and checks as tests/test_state_concurrency.py, which runs them at
    16 x 40 in the test suite; this size (about 2 min on 2 cores) lives here.

    python benchmarks/bench_state.py --skip-workflow --skip-fetch      # (c), (d) and (e) only
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from usher_pipeline.persistence import FetchCache, PipelineStore  # noqa: E402


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def bench_fetch(size_mb: float, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench_state_") as tmp:
        root = Path(tmp)
        served = root / "www"
        served.mkdir()
        line = b"GENE\tHGNC:1\t0.5\tsome description of the gene\n"
        (served / "data.tsv").write_bytes(line * int(size_mb * 1e6 / len(line)))
        handler = functools.partial(_QuietHandler, directory=str(served))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/data.tsv"
        try:
            cache = FetchCache(PipelineStore(root / "state" / "bench.duckdb"))

            def fetch(dest: Path) -> dict[str, str | None]:
                with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as fh:
                    shutil.copyfileobj(resp, fh, 1 << 20)
                    return {
                        "url": url,
                        "etag": resp.headers.get("ETag"),
                        "last_modified": resp.headers.get("Last-Modified"),
                    }

            fresh, hits = [], []
            for i in range(repeats):
                req = {"url": url, "params": {"rep": i}}
                t0 = time.perf_counter()
                r1 = cache.get_or_fetch("bench", "r1", req, "v1", fetch, suffix=".tsv")
                fresh.append(time.perf_counter() - t0)
                assert not r1.from_cache
                t0 = time.perf_counter()
                r2 = cache.get_or_fetch("bench", "r1", req, "v1", fetch, suffix=".tsv")
                hits.append(time.perf_counter() - t0)
                assert r2.from_cache and r2.sha256 == r1.sha256
        finally:
            server.shutdown()
    fresh_s, hit_s = statistics.median(fresh), statistics.median(hits)
    return {"size_mb": size_mb, "fresh_s": fresh_s, "hit_s": hit_s, "ratio": fresh_s / hit_s}


def bench_ops(rounds: int) -> dict[str, float]:
    """Median latency (s) of store operations and of a bare DuckDB connect+insert+close."""
    import duckdb
    import polars as pl

    with tempfile.TemporaryDirectory(prefix="bench_state_ops_") as tmp:
        root = Path(tmp)
        bare_db = str(root / "bare.duckdb")
        con = duckdb.connect(bare_db)
        con.execute("CREATE TABLE t (gene VARCHAR, score DOUBLE, i BIGINT)")
        con.close()
        store = PipelineStore(root / "store.duckdb", holder="bench")
        table = pl.DataFrame({"gene": [f"G{i}" for i in range(10)], "score": [0.5] * 10})

        def bare(i: int) -> None:
            c = duckdb.connect(bare_db)
            c.execute("INSERT INTO t VALUES (?, ?, ?)", [f"G{i}", 0.5, i])
            c.close()

        ops = {
            "bare DuckDB connect+insert+close": bare,
            "save_dataframe (10 rows, new content)": lambda i: store.save_dataframe(
                table.with_columns(pl.lit(i).alias("i")), "bench_t"
            ),
            "has_checkpoint": lambda i: store.has_checkpoint("bench_t"),
            "execute_query": lambda i: store.execute_query(
                "SELECT count(*) AS n FROM bench_t WHERE i = ?", [i]
            ),
            "load_dataframe": lambda i: store.load_dataframe("bench_t"),
        }
        names = list(ops)
        samples: dict[str, list[float]] = {n: [] for n in names}
        for n in names:  # warm up (first connect, schema)
            ops[n](0)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]  # same load for all
            for n in order:
                t0 = time.perf_counter()
                ops[n](r + 1)
                samples[n].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in samples.items()}


def bench_workflow(cores: int = 4) -> tuple[int, str]:
    snakefile = REPO / "Snakefile"
    cfg = REPO / ".test" / "config" / "config.yaml"
    if not snakefile.exists() or not cfg.exists():
        return 2, "workflow not available yet (no Snakefile or .test/config/config.yaml)"
    snakemake = Path(sys.executable).with_name("snakemake")
    with tempfile.TemporaryDirectory(prefix="bench_state_wf_") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(
            REPO,
            work,
            symlinks=True,
            ignore=shutil.ignore_patterns(
                ".git",
                ".venv",
                ".snakemake",
                "results",
                "state",
                "logs",
                "__pycache__",
                ".pytest_cache",
                ".ruff_cache",
                "test-artifacts",
                "benchmarks",
            ),
        )
        base = [str(snakemake), "--configfile", str(cfg.relative_to(REPO))]
        dry = subprocess.run([*base, "-n"], cwd=work, capture_output=True, text=True)
        if dry.returncode != 0:
            tail = (dry.stderr or dry.stdout).strip().splitlines()[-5:]
            return 2, "workflow dry run fails: " + " | ".join(tail)
        t0 = time.perf_counter()
        run = subprocess.run(
            [*base, "--cores", str(cores)], cwd=work, capture_output=True, text=True
        )
        wall = time.perf_counter() - t0
        failure = ""
        if run.returncode != 0:
            errs = [ln for ln in run.stderr.splitlines() if "Error in rule" in ln]
            failure = f"WORKFLOW FAILED ({'; '.join(errs) or 'see snakemake log'}); partial run: "
        import yaml

        config = yaml.safe_load(cfg.read_text()) or {}
        db = work / ((config.get("state") or {}).get("db") or "state/usher_pipeline.duckdb")
        if not db.exists():
            return 1, f"workflow ran but wrote no state database at {db}"
        store = PipelineStore(db)
        stats = store.execute_query(
            "SELECT count(*) AS ops, coalesce(sum(wait_s), 0) AS wait_s, "
            "coalesce(sum(hold_s), 0) AS hold_s FROM _lock_waits"
        ).row(0, named=True)
        runs = store.execute_query("SELECT count(*) AS n FROM _runs WHERE status = 'ok'")["n"][0]
        frac = stats["wait_s"] / wall
        verdict = "OK" if frac <= 0.05 else "ABOVE GOAL"
        ok = frac <= 0.05 and not failure
        return 0 if ok else 1, failure + (
            f"workflow --cores {cores}: wall {wall:.1f}s, {runs} rule runs, {stats['ops']} store "
            f"operations, lock wait {stats['wait_s']:.2f}s ({frac:.1%} of wall, goal <= 5%: "
            f"{verdict}), lock held {stats['hold_s']:.2f}s"
        )


def bench_pairs(workers: int, pairs: int) -> int:
    """(d); exit status 1 when a goal is missed."""
    from usher_pipeline.persistence.stress import run_stress

    with tempfile.TemporaryDirectory(prefix="bench_state_stress_") as tmp:
        st = run_stress(Path(tmp) / "stress.duckdb", workers, pairs)
    ok = st.ok and st.wall_s <= 120
    print(
        f"(d) {st.workers} processes x {st.pairs} save+check pairs on one file: wall "
        f"{st.wall_s:.1f} s, {len(st.errors)} errors, {st.lost} lost rows, {st.duplicated} "
        f"duplicated ({st.rows_found}/{st.rows_expected} rows; goal <= 120 s, 0 errors, 0 lost: "
        f"{'OK' if ok else 'FAILED'})"
    )
    for err in st.errors[:5]:
        print(f"    {err}")
    return 0 if ok else 1


def bench_mixed(workers: int, ops: int) -> int:
    """(e); exit status 1 when any check fails."""
    sys.path.insert(0, str(REPO / "tests"))
    from state_fixtures import mixed_stress, mixed_stress_problems

    with tempfile.TemporaryDirectory(prefix="bench_state_mixed_") as tmp:
        res = mixed_stress(str(Path(tmp) / "stress.duckdb"), workers, ops)
    problems = mixed_stress_problems(res, workers, ops)
    lost = len(res["expected"] - res["got"])
    print(
        f"(e) {workers} processes x {ops} mixed operations on one file: wall {res['wall_s']:.1f} s, "
        f"{len(res['errors'])} errors, {lost} lost rows, {res['shared_height']}/"
        f"{len(res['expected'])} shared rows, summed lock wait {res['lock_wait_s']:.1f} s "
        f"({'OK' if not problems else 'FAILED'})"
    )
    for problem in problems[:5]:
        print(f"    {problem}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-workflow", action="store_true")
    ap.add_argument("--skip-fetch", action="store_true")
    ap.add_argument("--skip-ops", action="store_true", help="skip (c)")
    ap.add_argument("--rounds", type=int, default=60, help="rounds of (c)")
    ap.add_argument("--stress-workers", type=int, default=16)
    ap.add_argument("--stress-pairs", type=int, default=100)
    ap.add_argument("--skip-pairs", action="store_true", help="skip (d)")
    ap.add_argument("--mixed-workers", type=int, default=16)
    ap.add_argument("--mixed-ops", type=int, default=200, help="a multiple of 4")
    ap.add_argument("--skip-mixed", action="store_true", help="skip (e)")
    args = ap.parse_args(argv)
    code = 0
    if not args.skip_fetch:
        res = bench_fetch(args.size_mb, args.repeats)
        print(
            f"(a) fetch of a {res['size_mb']:g} MB file over loopback HTTP: fresh "
            f"{res['fresh_s'] * 1e3:.1f} ms, checkpoint hit {res['hit_s'] * 1e3:.1f} ms (median of "
            f"{args.repeats}); fresh/hit = {res['ratio']:.1f}x"
        )
    if not args.skip_workflow:
        wf_code, message = bench_workflow()
        print(f"(b) {message}")
        code = max(code, wf_code)
    if not args.skip_ops:
        lat = bench_ops(args.rounds)
        bare_name = next(iter(lat))
        bare = lat[bare_name]
        print(f"(c) per-operation latency, median of {args.rounds} interleaved rounds:")
        worst = 0.0
        for name, value in lat.items():
            ratio = value / bare
            if name != bare_name:
                worst = max(worst, ratio)
            print(f"    {name:40s} {value * 1e3:7.2f} ms  {ratio:4.2f}x bare")
        verdict = "OK" if worst <= 2.0 else "ABOVE GOAL"
        print(f"    slowest store operation {worst:.2f}x the bare figure (goal <= 2x: {verdict})")
        if worst > 2.0:
            code = max(code, 1)
    if not args.skip_pairs:
        code = max(code, bench_pairs(args.stress_workers, args.stress_pairs))
    if not args.skip_mixed:
        code = max(code, bench_mixed(args.mixed_workers, args.mixed_ops))
    return code


if __name__ == "__main__":
    sys.exit(main())
