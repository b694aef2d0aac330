"""Profile of the test suite: where its time goes, and which tests start their own workflow run.

Runs the README test command (``pytest``, parallel on every core as pyproject.toml says) with a
JUnit XML report and ``USHER_PROFILE_RUNS`` set, so every Snakemake or ``usher-pipeline run``
process a test starts is recorded (tests/e2e_fixtures.py ``note_workflow_run``: the test, real run
or not - a dry run, summary, graph, lint or report is not - and its seconds). Prints:

* the suite's wall time next to the summed test time (the parallel speed-up) and the summed time of
  the real workflow runs the tests started (the share of the suite they are);
* per test file: tests, summed seconds, real runs started;
* the slowest tests with the workflow runs each started (a shared fixture run is counted once,
  at the test that happened to make it first).

Usage: python benchmarks/profile_suite.py [--top 30] [-- extra pytest arguments]
       e.g. python benchmarks/profile_suite.py -- -n 0          (one process, for comparison)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def read_junit(path: Path) -> dict[str, float]:
    """nodeid-like ``file::name`` -> seconds (setup + call + teardown) of every test case."""
    out: dict[str, float] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        out[f"{module}.py::{case.get('name')}"] = float(case.get("time") or 0.0)
    return out


def read_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=30, help="slowest tests listed")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="usher-suite-profile-"))
    junit, runs_file = tmp / "junit.xml", tmp / "runs.jsonl"
    env = dict(os.environ, USHER_PROFILE_RUNS=str(runs_file))
    cmd = [str(Path(sys.executable).parent / "pytest"), f"--junitxml={junit}", "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if not junit.exists():
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print(f"pytest wrote no report (exit {proc.returncode})")
        return 1
    tests = read_junit(junit)
    runs = read_runs(runs_file)
    by_test: dict[str, list[dict]] = collections.defaultdict(list)
    for r in runs:
        by_test[r["test"]].append(r)
    real = [r for r in runs if r["run"]]
    total = sum(tests.values())
    print(f"suite: {' '.join(cmd[1:])} (exit {proc.returncode}; {' '.join(tail)})")
    print(f"wall {wall:.0f} s; summed test time {total:.0f} s ({total / wall:.2f}x the wall: the "
          f"parallel speed-up); {len(tests)} tests")  # fmt: skip
    print(f"workflow processes started by tests: {len(runs)}, of them real runs {len(real)} "
          f"({sum(1 for r in real if r.get('shared'))} shared by many tests) "
          f"taking {sum(r['seconds'] for r in real):.0f} s summed "
          f"({sum(r['seconds'] for r in real) / max(total, 1e-9):.0%} of the summed test time)")  # fmt: skip
    files: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0])
    for node, sec in tests.items():
        f = files[node.split("::")[0]]
        f[0] += 1
        f[1] += sec
    for r in real:
        files[r["test"].split("::")[0]][2] += 1
    print(f"\n{'test file':<46}{'tests':>6}{'seconds':>9}{'real runs':>11}")
    for name, (n, sec, nrun) in sorted(files.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<46}{n:>6}{sec:>9.1f}{nrun:>11}")
    print(f"\nslowest {args.top} tests (seconds; workflow processes it started: real runs / other)")
    for node, sec in sorted(tests.items(), key=lambda kv: -kv[1])[: args.top]:
        mine = by_test.get(node, [])
        n_real = sum(r["run"] for r in mine)
        run_s = sum(r["seconds"] for r in mine if r["run"])
        shared = sorted({r["shared"] for r in mine if r.get("shared")})
        note = f"; made the shared {'/'.join(shared)} run" if shared else ""
        print(f"{sec:8.1f}  {node}  [{n_real} real runs, {run_s:.0f} s / "
              f"{len(mine) - n_real} other{note}]")  # fmt: skip
    print(f"\nraw data: {junit} and {runs_file}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
