"""Garbage collection of the state database: drop what no kept run and no current output uses.

Kept runs:

* the last ``keep_last`` runs of every (rule, wildcards), newest first by start time;
* runs still ``running``;
* for every recorded output file that exists on disk, the newest successful run that recorded
  exactly its current content (sha256): the run behind each current output.

References are content hashes, counted like a reference count. Every run records what it stored
or used (``_run_files`` rows with direction ``table``, ``fetch``, ``batch``; see RuleRun), and its
input and output files by sha256. An item survives when at least one reference remains:

* a stored table: a kept run stored it with this content hash, or a current output Parquet file
  carries its name and content hash in its metadata (``usher_pipeline.table_name`` and
  ``usher_pipeline.content_sha256``: this also covers databases written before runs recorded
  their tables);
* a fetch checkpoint (and its downloaded file): a kept run used its key, or a kept run's input,
  output or source has the download's sha256;
* a batched pull (its ``_batch_<key>`` table and rows): a kept run used its key.

Everything else is dropped in one transaction under the store lock: the runs' rows in ``_runs``,
``_run_files`` and ``_provenance``; tables and their checkpoint rows; fetch checkpoints (and
their files, unless another checkpoint still points at the same file); batched pulls. Output
files are never deleted (they belong to the workflow, not the store).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ._common import quote_ident, sha256_dir, sha256_file
from .connection import connect_state_db, retry_lock_conflict
from .parquet import read_parquet_metadata
from .store import PipelineStore, _table_exists


@dataclass
class GcPlan:
    keep_last: int
    runs_total: int = 0
    runs_kept: list[str] = field(default_factory=list)
    runs_dropped: list[dict[str, Any]] = field(default_factory=list)  # run_id, rule, started_at
    tables_dropped: list[dict[str, Any]] = field(default_factory=list)  # table_name, row_count
    tables_kept: int = 0
    fetches_dropped: list[dict[str, Any]] = field(default_factory=list)  # key, source, path, size
    files_deleted: list[str] = field(default_factory=list)  # download files removed
    batches_dropped: list[dict[str, Any]] = field(default_factory=list)  # key, source, rows
    bytes_files: int = 0  # size of the download files that go
    db_size_before: int = 0
    db_size_after: int = 0
    dry_run: bool = True

    @property
    def empty(self) -> bool:
        return not (
            self.runs_dropped or self.tables_dropped or self.fetches_dropped or self.batches_dropped
        )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def _current_sha(path: str, cache: dict[str, str | None]) -> str | None:
    if path not in cache:
        try:
            if os.path.isdir(path):
                cache[path] = sha256_dir(path)
            else:
                cache[path] = sha256_file(path) if os.path.exists(path) else None
        except OSError:
            cache[path] = None
    return cache[path]


def plan_gc(con: duckdb.DuckDBPyConnection, keep_last: int) -> GcPlan:
    """What ``gc`` would drop (reads only). Relative paths are resolved from the cwd."""
    if keep_last < 1:
        raise ValueError("keep_last must be at least 1 (the newest run of every rule is kept)")
    plan = GcPlan(keep_last=keep_last)
    runs = _rows(
        con, "SELECT run_id, rule, wildcards, started_at, status FROM _runs ORDER BY started_at"
    )
    plan.runs_total = len(runs)
    kept: set[str] = set()
    per_job: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        per_job.setdefault((r["rule"], r["wildcards"] or ""), []).append(r)
        if r["status"] == "running":
            kept.add(r["run_id"])
    for items in per_job.values():
        kept.update(r["run_id"] for r in items[-keep_last:])
    outputs = _rows(
        con,
        "SELECT f.run_id, f.path, f.sha256 FROM _run_files f JOIN _runs r USING (run_id) "
        "WHERE f.direction = 'output' AND r.status = 'ok' ORDER BY r.ended_at DESC",
    )
    shas: dict[str, str | None] = {}
    current_paths: set[str] = set()
    for o in outputs:  # newest first: the first run that matches the file on disk owns it
        if o["path"] in current_paths:
            continue
        now = _current_sha(o["path"], shas)
        if now is not None and now == o["sha256"]:
            current_paths.add(o["path"])
            kept.add(o["run_id"])
    plan.runs_kept = sorted(kept)
    plan.runs_dropped = [
        {k: r[k] for k in ("run_id", "rule", "started_at", "status")}
        for r in runs
        if r["run_id"] not in kept
    ]

    refs = _rows(
        con,
        "SELECT run_id, direction, path, sha256 FROM _run_files",
    )
    ref_tables: set[tuple[str, str]] = set()
    ref_keys: set[str] = set()
    ref_hashes: set[str] = set()
    for r in refs:
        if r["run_id"] not in kept:
            continue
        if r["direction"] == "table":
            ref_tables.add((r["path"], r["sha256"]))
        elif r["direction"] in ("fetch", "batch"):
            ref_keys.add(r["path"])
        if r["sha256"]:
            ref_hashes.add(r["sha256"])
    for p in _rows(con, "SELECT run_id, metadata_json FROM _provenance"):
        if p["run_id"] in kept and p["metadata_json"]:
            with contextlib.suppress(ValueError):
                for src in json.loads(p["metadata_json"]).get("sources") or []:
                    if src.get("sha256"):
                        ref_hashes.add(src["sha256"])
    for path in current_paths:
        if path.endswith(".parquet"):
            with contextlib.suppress(Exception):
                meta = read_parquet_metadata(path)
                name = meta.get("usher_pipeline.table_name")
                chash = meta.get("usher_pipeline.content_sha256")
                if name and chash:
                    ref_tables.add((name, chash))

    for t in _rows(con, "SELECT table_name, content_sha256, row_count FROM _checkpoints"):
        if (t["table_name"], t["content_sha256"]) in ref_tables:
            plan.tables_kept += 1
        else:
            plan.tables_dropped.append({"table_name": t["table_name"], "rows": t["row_count"]})

    fetches = _rows(con, "SELECT key, source, path, sha256, size FROM _fetch_checkpoints")
    keep_paths = set()
    for f in fetches:
        if f["key"] in ref_keys or (f["sha256"] and f["sha256"] in ref_hashes):
            keep_paths.add(f["path"])
        else:
            plan.fetches_dropped.append(f)
    for f in plan.fetches_dropped:
        if f["path"] not in keep_paths and os.path.isfile(f["path"]):
            if f["path"] not in plan.files_deleted:
                plan.files_deleted.append(f["path"])
                plan.bytes_files += os.path.getsize(f["path"])

    for b in _rows(
        con,
        "SELECT s.key, s.source, s.release, coalesce(sum(d.row_count), 0) AS rows "
        "FROM _batch_sets s LEFT JOIN _batch_done d USING (key) GROUP BY ALL ORDER BY s.key",
    ):
        if b["key"] not in ref_keys:
            plan.batches_dropped.append(b)
    return plan


def _apply(con: duckdb.DuckDBPyConnection, plan: GcPlan) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        if plan.runs_dropped:
            import pyarrow as pa

            con.register("_gc_runs", pa.table({"run_id": [r["run_id"] for r in plan.runs_dropped]}))
            for t in ("_runs", "_run_files", "_provenance"):
                con.execute(f"DELETE FROM {t} WHERE run_id IN (SELECT run_id FROM _gc_runs)")
            con.unregister("_gc_runs")
        for t in plan.tables_dropped:
            name = t["table_name"]
            if _table_exists(con, name):
                con.execute(f"DROP TABLE {quote_ident(name)}")
            con.execute("DELETE FROM _checkpoints WHERE table_name = ?", [name])
        for f in plan.fetches_dropped:
            con.execute("DELETE FROM _fetch_checkpoints WHERE key = ?", [f["key"]])
        for b in plan.batches_dropped:
            con.execute(f"DROP TABLE IF EXISTS {quote_ident('_batch_' + b['key'][:32])}")
            con.execute("DELETE FROM _batch_done WHERE key = ?", [b["key"]])
            con.execute("DELETE FROM _batch_sets WHERE key = ?", [b["key"]])
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")


def _compact(db: Path, timeout_s: float) -> None:
    """Rewrite the database into a fresh file and swap it in (DuckDB does not shrink a file
    when rows are deleted). Called under the store lock; a crash leaves the old file."""
    from .transfer import _clean_stale

    _clean_stale(db.parent, f".{db.name}.gc-")
    tmp = db.with_name(f".{db.name}.gc-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    con = duckdb.connect()
    try:
        old = str(db).replace("'", "''")
        new = str(tmp).replace("'", "''")
        retry_lock_conflict(
            lambda: con.execute(f"ATTACH '{old}' AS gc_old (READ_ONLY)"), db, timeout_s
        )
        con.execute(f"ATTACH '{new}' AS gc_new")
        con.execute("COPY FROM DATABASE gc_old TO gc_new")
        con.execute("DETACH gc_old")
        con.execute("DETACH gc_new")
    finally:
        con.close()
    try:
        if Path(f"{tmp}.wal").exists():
            raise RuntimeError(f"{tmp}.wal remains after detaching; not swapping")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, db)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def collect_garbage(store: PipelineStore, *, keep_last: int = 1, dry_run: bool = False) -> GcPlan:
    """Plan (and unless ``dry_run``, apply) a garbage collection of ``store``."""
    db = Path(store.db_path)
    with store._transaction("gc:plan") as con:  # creates the schema of an empty store
        pass
    with store._lock.hold(rule=store.holder, operation="gc"):
        before = db.stat().st_size if db.exists() else 0
        con = connect_state_db(db, store.lock_timeout_s)
        try:
            plan = plan_gc(con, keep_last)
            plan.db_size_before = before
            plan.dry_run = dry_run
            if not dry_run and not plan.empty:
                _apply(con, plan)
        finally:
            con.close()
        if not dry_run:
            for path in plan.files_deleted:
                with contextlib.suppress(FileNotFoundError):
                    Path(path).unlink()
            if not plan.empty:
                _compact(db, store.lock_timeout_s)
        plan.db_size_after = db.stat().st_size if db.exists() else 0
    return plan
