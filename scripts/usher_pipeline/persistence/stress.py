"""Many processes on one state database: N workers x M save+check pairs (benchmark and test).

Each pair is two store operations: a save (one row appended to a shared table,
``save_dataframe(..., replace=False)``) and a check (a bound-parameter query that must see all of
the worker's rows so far). At the end the shared table must hold exactly one row per pair of every
worker, and its checkpoint row must be complete with that row count: 0 errors, 0 lost and 0
duplicated rows.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StressResult:
    workers: int
    pairs: int
    wall_s: float
    errors: list[str] = field(default_factory=list)
    rows_expected: int = 0
    rows_found: int = 0
    lost: int = 0
    duplicated: int = 0
    exitcodes: list[int | None] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.lost == 0
            and self.duplicated == 0
            and all(c == 0 for c in self.exitcodes)
        )


def _worker(db: str, worker: int, pairs: int, queue: Any) -> None:
    import polars as pl

    from usher_pipeline.persistence import PipelineStore

    errors: list[str] = []
    store = PipelineStore(db, lock_timeout_s=600, holder=f"stress-{worker}")
    for i in range(pairs):
        try:
            store.save_dataframe(
                pl.DataFrame({"worker": [worker], "i": [i]}), "stress_shared", replace=False
            )
            n = store.execute_query(
                "SELECT count(*) AS n FROM stress_shared WHERE worker = ?", [worker]
            )["n"][0]
            if n != i + 1:
                errors.append(f"worker {worker} pair {i}: {n} of my rows, expected {i + 1}")
        except Exception as exc:  # noqa: BLE001 - every error is counted
            errors.append(f"worker {worker} pair {i}: {type(exc).__name__}: {exc}")
    queue.put((worker, errors))


def run_stress(db: str | Path, workers: int = 16, pairs: int = 100) -> StressResult:
    """Start ``workers`` processes (forkserver) on ``db``; wait; verify the shared table."""
    from usher_pipeline.persistence import PipelineStore

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["polars", "duckdb", "usher_pipeline.persistence"])
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(db), w, pairs, queue)) for w in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join(60)
    wall = time.perf_counter() - t0
    res = StressResult(workers=workers, pairs=pairs, wall_s=wall)
    res.errors = [e for _, errs in results for e in errs]
    res.exitcodes = [p.exitcode for p in procs]
    shared = PipelineStore(db).load_dataframe("stress_shared")
    expected = {(w, i) for w in range(workers) for i in range(pairs)}
    got = [] if shared is None else list(zip(shared["worker"], shared["i"], strict=True))
    res.rows_expected = len(expected)
    res.rows_found = len(got)
    res.lost = len(expected - set(got))
    res.duplicated = len(got) - len(set(got))
    store = PipelineStore(db)
    cp = store.list_checkpoints().filter(table_name="stress_shared").to_dicts()
    if not store.has_checkpoint("stress_shared") or not cp or cp[0]["row_count"] != len(got):
        res.errors.append(f"checkpoint row of stress_shared does not match its {len(got)} rows")
    return res
