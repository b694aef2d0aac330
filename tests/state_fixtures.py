"""Reusable helpers for the state-layer tests (fake snakemake objects, small tables, workers)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl


class NamedList(list):
    """Minimal stand-in for snakemake's Namedlist: a list whose entries may also have names."""

    def __init__(self, items: Any = (), **named: Any) -> None:
        values = list(items) + list(named.values())
        super().__init__(values)
        self._names = dict(named)
        for key, value in named.items():
            setattr(self, key, value)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._names.items())


def fake_snakemake(
    tmp_path: Path,
    *,
    rule: str = "demo_rule",
    inputs: list[str] | None = None,
    outputs: list[str] | dict[str, str] | None = None,
    wildcards: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    log: str | None = "logs/demo.log",
    db: str | None = None,
) -> SimpleNamespace:
    """A snakemake-like object with paths under ``tmp_path`` (relative paths are joined)."""

    def full(p: str) -> str:
        return p if os.path.isabs(p) else str(tmp_path / p)

    if isinstance(outputs, dict):
        out = NamedList(**{k: full(v) for k, v in outputs.items()})
    else:
        out = NamedList([full(p) for p in (outputs or [])])
    config = {
        "state": {"db": db or str(tmp_path / "state" / "state.duckdb"), "lock_timeout_s": 30},
        "results_dir": str(tmp_path / "results"),
    }
    return SimpleNamespace(
        input=NamedList([full(p) for p in (inputs or [])]),
        output=out,
        params=NamedList(**(params or {})),
        config=config,
        rule=rule,
        wildcards=NamedList(**(wildcards or {})),
        log=NamedList([full(log)] if log else []),
        threads=1,
    )


def gene_table(n: int = 50, seed: int = 0) -> pl.DataFrame:
    """A small gene-like table with strings, ints, floats, nulls and a boolean."""
    return pl.DataFrame(
        {
            "gene_symbol": [f"GENE{(i * 7 + seed) % 1000:04d}" for i in range(n)],
            "hgnc_id": [f"HGNC:{1000 + i}" for i in range(n)],
            "n_pubs": [(i * 13 + seed) % 97 for i in range(n)],
            "score": [None if i % 11 == 0 else round((i * 0.37 + seed) % 1, 6) for i in range(n)],
            "is_cilia": [i % 3 == 0 for i in range(n)],
        }
    )


def mp_context() -> Any:
    """forkserver with the state layer preloaded: cheap, thread-safe worker start."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["polars", "duckdb", "usher_pipeline.persistence", "state_fixtures"])
    return ctx


# ---------------------------------------------------------------------- worker bodies
def stress_worker(db: str, worker: int, n_ops: int, result_q: Any) -> None:
    """n_ops mixed operations; reports (worker, errors, details)."""
    from usher_pipeline.persistence import PipelineStore

    errors: list[str] = []
    store = PipelineStore(db, lock_timeout_s=300, holder=f"stress-{worker}")
    written: list[int] = []
    for i in range(n_ops):
        try:
            kind = i % 4
            if kind == 0:  # append one row to the shared table
                store.save_dataframe(
                    pl.DataFrame({"worker": [worker], "op": [i]}), "shared", replace=False
                )
                written.append(i)
            elif kind == 1:  # read the shared table: all my rows must be there
                df = store.load_dataframe("shared")
                mine = set() if df is None else set(df.filter(pl.col("worker") == worker)["op"])
                lost = set(written) - mine
                if lost:
                    errors.append(f"lost rows {sorted(lost)[:5]}")
            elif kind == 2:  # replace my own table
                store.save_dataframe(
                    pl.DataFrame({"i": list(range(i % 7 + 1)), "w": [worker] * (i % 7 + 1)}),
                    f"own_{worker}",
                )
            else:  # query my own table with bound parameters
                got = store.execute_query(
                    "SELECT count(*) AS n FROM own_" + str(worker) + " WHERE w = ?", [worker]
                )["n"][0]
                if got != (i - 1) % 7 + 1:
                    errors.append(f"own table has {got} rows at op {i}")
        except Exception as exc:  # noqa: BLE001 - the test counts every error
            errors.append(f"{type(exc).__name__}: {exc}")
    result_q.put((worker, errors, written))


def mixed_stress(db: str, n_workers: int, n_ops: int) -> dict[str, Any]:
    """``n_workers`` processes x ``n_ops`` mixed operations (``stress_worker``) on ``db``; what
    the database holds afterwards, for the caller to check (the test at a small size,
    ``benchmarks/bench_state.py`` at 16 x 200)."""
    from usher_pipeline.persistence import PipelineStore, content_hash

    ctx = mp_context()
    q = ctx.Queue()
    procs = [ctx.Process(target=stress_worker, args=(db, w, n_ops, q)) for w in range(n_workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join(30)
    wall = time.perf_counter() - t0
    store = PipelineStore(db)
    shared = store.load_dataframe("shared")
    cp = store.list_checkpoints()
    shared_row = cp.filter(cp["table_name"] == "shared").row(0, named=True)
    waits = store.execute_query("SELECT count(*) AS n, sum(wait_s) AS w FROM _lock_waits")
    return {
        "wall_s": wall,
        "errors": [e for _, errs, _ in results for e in errs],
        "exitcodes": [p.exitcode for p in procs],
        "expected": {(w, i) for w, _, written in results for i in written},
        "got": set(zip(shared["worker"].to_list(), shared["op"].to_list(), strict=True)),
        "shared_height": shared.height,
        "checkpoint_rows": shared_row["row_count"],
        "checkpoint_hash_ok": shared_row["content_sha256"] == content_hash(shared),
        "own": {w: store.load_dataframe(f"own_{w}")["w"].to_list() for w in range(n_workers)},
        "lock_ops": int(waits["n"][0]),
        "lock_wait_s": float(waits["w"][0] or 0.0),
    }


def mixed_stress_problems(res: dict[str, Any], n_workers: int, n_ops: int) -> list[str]:
    """What is wrong in a ``mixed_stress`` result (empty: 0 errors, 0 lost, 0 duplicated)."""
    problems = [f"worker error: {e}" for e in res["errors"][:10]]
    if any(c != 0 for c in res["exitcodes"]):
        problems.append(f"worker exit codes {res['exitcodes']}")
    if len(res["expected"]) != n_workers * n_ops // 4:
        problems.append(f"{len(res['expected'])} appends reported, {n_workers * n_ops // 4} made")
    if res["got"] != res["expected"] or res["shared_height"] != len(res["expected"]):
        problems.append(f"shared table: {res['shared_height']} rows, {len(res['expected'])} "
                        f"expected, {len(res['expected'] - res['got'])} lost")  # fmt: skip
    if res["checkpoint_rows"] != res["shared_height"] or not res["checkpoint_hash_ok"]:
        problems.append("the checkpoint row of the shared table does not match the table")
    for w, values in res["own"].items():
        if values != [w] * ((n_ops - 2) % 7 + 1):
            problems.append(f"own_{w} holds {values}")
    if res["lock_ops"] < n_workers * n_ops:
        problems.append(f"{res['lock_ops']} lock records for {n_workers * n_ops} operations")
    return problems


def crash_writer(db: str, ready: Any, hang_before_commit: bool) -> None:
    """Write generations of a table forever (until SIGKILL). gen g has 1000 + g rows, all == g."""
    from usher_pipeline.persistence import PipelineStore

    store = PipelineStore(db, lock_timeout_s=60, holder="crash-writer")
    gen = 0
    if store.has_checkpoint("crash_t"):
        gen = int(store.execute_query("SELECT max(gen) AS g FROM crash_t")["g"][0]) + 1
    if hang_before_commit:
        _write_gen(store, gen)  # a complete generation exists before the hanging write
        gen += 1

        def hook(operation: str) -> None:
            if operation == "save:crash_t":
                ready.set()
                time.sleep(120)

        PipelineStore._before_commit_hook = staticmethod(hook)
    else:
        ready.set()
    while True:
        _write_gen(store, gen)
        if gen % 3 == 0:
            store.save_dataframe(pl.DataFrame({"gen": [gen]}), f"side_{gen % 5}")
        if gen % 4 == 1:
            store.delete_checkpoint(f"side_{(gen + 2) % 5}")
        gen += 1


def _write_gen(store: Any, gen: int) -> None:
    n = 1000 + gen
    store.save_dataframe(
        pl.DataFrame({"gen": [gen] * n, "i": list(range(n)), "pad": ["x" * 20] * n}),
        "crash_t",
        description=f"gen {gen}",
    )


def lock_holder(db: str, ready: Any, hold_s: float) -> None:
    from usher_pipeline.persistence.lock import DatabaseLock

    lock = DatabaseLock(Path(db), 10)
    with lock.hold(rule="holder_rule", operation="test-hold"):
        ready.set()
        time.sleep(hold_s)
