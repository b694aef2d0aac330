"""PipelineStore: the shared DuckDB state file, safe for many processes.

Each operation: prepare everything that is heavy (DataFrame conversion, hashing) *outside* the
lock, then take the inter-process lock, open a fresh DuckDB connection, run one transaction, close
the connection and release the lock. A table and its ``_checkpoints`` row are written in the same
transaction, so a process killed at any instant leaves either the old or the new state, never a
partial table marked complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ._common import (
    content_hash,
    dataset_version,
    quote_ident,
    to_polars,
    utc_now_iso,
    validate_column_names,
    validate_table_name,
)
from .connection import connect_state_db
from .lock import DatabaseLock
from .parquet import arrow_table, write_parquet

DEFAULT_DB = "state/usher_pipeline.duckdb"
_HOST = socket.gethostname()
DEFAULT_LOCK_TIMEOUT_S = 300.0

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS _checkpoints (
        table_name VARCHAR, created_at VARCHAR, row_count BIGINT, description VARCHAR,
        content_sha256 VARCHAR, dataset_version VARCHAR, config_hash VARCHAR, status VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _lock_waits (
        ts VARCHAR, host VARCHAR, pid BIGINT, rule VARCHAR, operation VARCHAR,
        wait_s DOUBLE, hold_s DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS _runs (
        run_id VARCHAR, rule VARCHAR, wildcards VARCHAR, started_at VARCHAR, ended_at VARCHAR,
        status VARCHAR, rows BIGINT, sidecar_sha256 VARCHAR, host VARCHAR, pid BIGINT,
        config_hash VARCHAR, lock_wait_s DOUBLE, error VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _run_files (
        run_id VARCHAR, direction VARCHAR, path VARCHAR, kind VARCHAR, sha256 VARCHAR,
        size BIGINT, rows BIGINT, sidecar_path VARCHAR, sidecar_sha256 VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _provenance (
        output_path VARCHAR, created_at VARCHAR, rule VARCHAR, run_id VARCHAR,
        config_hash VARCHAR, pipeline_version VARCHAR, provenance_sha256 VARCHAR,
        sidecar_sha256 VARCHAR, metadata_json VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _fetch_checkpoints (
        key VARCHAR, source VARCHAR, release VARCHAR, request_json VARCHAR,
        fetcher_version VARCHAR, path VARCHAR, sha256 VARCHAR, size BIGINT, row_count BIGINT,
        fetched_at VARCHAR, meta_json VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _batch_done (
        key VARCHAR, batch_id VARCHAR, row_count BIGINT, saved_at VARCHAR, seq BIGINT)""",
    """CREATE TABLE IF NOT EXISTS _batch_sets (
        key VARCHAR, source VARCHAR, release VARCHAR, created_at VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS _lock_log (log_id VARCHAR, drained BIGINT)""",
    """CREATE TABLE IF NOT EXISTS _imports (
        import_id VARCHAR, source_file VARCHAR, sha256 VARCHAR, imported_at VARCHAR,
        bag_created_at VARCHAR, mode VARCHAR, runs BIGINT, tables BIGINT)""",
    # runs that came from an imported bag (state verify: "not restored" rather than "missing")
    """CREATE TABLE IF NOT EXISTS _imported_runs (run_id VARCHAR, bag_sha256 VARCHAR)""",
]

_INTERNAL_TABLES = tuple(ddl.split("EXISTS ", 1)[1].split(" ", 1)[0] for ddl in _SCHEMA)

_CHECKPOINT_COLUMNS = {
    "table_name": pl.String,
    "created_at": pl.String,
    "row_count": pl.Int64,
    "description": pl.String,
    "content_sha256": pl.String,
    "dataset_version": pl.String,
    "config_hash": pl.String,
    "status": pl.String,
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the store's internal tables that are missing (one transaction)."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND database_name = current_database() AND table_name IN (SELECT unnest(?))",
        [list(_INTERNAL_TABLES)],
    ).fetchall()[0][0]
    if present < len(_INTERNAL_TABLES):
        con.execute("BEGIN TRANSACTION")
        for ddl in _SCHEMA:
            con.execute(ddl)
        con.execute("COMMIT")


# Databases whose schema this process has checked, by (path, device, inode): a file swapped in by
# an import or a gc has a new inode and is checked again; every other open skips the check.
_SCHEMA_CHECKED: set[tuple[str, int, int]] = set()


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (str(path.absolute()), st.st_dev, st.st_ino)


def lock_log_path(db_path: Path) -> Path:
    """Where lock-wait records wait (one JSON line each) until a write folds them into the table."""
    return Path(f"{db_path}.lockwaits")


def _append_lock_record(log: Path, record: Mapping[str, Any]) -> None:
    """One line per operation, appended while holding the store lock (no interleaving); a new
    file starts with a header line naming it, so a fold is applied exactly once."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            os.write(fd, f"#{uuid.uuid4().hex}\n".encode())
        os.write(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
    finally:
        os.close(fd)


_LOCK_COLUMNS = ("ts", "host", "pid", "rule", "operation", "wait_s", "hold_s")


def _fold_lock_log(con: duckdb.DuckDBPyConnection, log: Path) -> bool:
    """Insert the log's new lines into ``_lock_waits`` (inside the caller's transaction) and
    record how far the log was folded; True when the log may be removed after COMMIT."""
    try:
        data = log.read_bytes()
    except FileNotFoundError:
        return False
    if not data.startswith(b"#") or b"\n" not in data:
        return False
    header, _, _ = data.partition(b"\n")
    log_id = header[1:].decode(errors="replace")
    start = len(header) + 1
    row = con.execute("SELECT drained FROM _lock_log WHERE log_id = ?", [log_id]).fetchall()
    done = int(row[0][0]) if row else start
    end = data.rfind(b"\n") + 1  # complete lines only
    rows = []
    for line in data[done:end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        rows.append([rec.get(c) for c in _LOCK_COLUMNS])
    if rows:
        con.executemany("INSERT INTO _lock_waits VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("DELETE FROM _lock_log")
    con.execute("INSERT INTO _lock_log VALUES (?, ?)", [log_id, end])
    return end == len(data)


@dataclass
class PreparedTable:
    """A table ready to be written inside a transaction (see PipelineStore.prepare_table)."""

    table_name: str
    description: str
    replace: bool
    config_hash: str | None
    content_sha256: str
    rows: int
    arrow: Any
    ref: dict[str, Any] | None = None

    @property
    def dataset_version(self) -> str:
        return dataset_version(self.content_sha256)


def _apply_table(con: duckdb.DuckDBPyConnection, prep: PreparedTable) -> str:
    """Write a prepared table and its ``_checkpoints`` row in the open transaction."""
    table_name = prep.table_name
    q = quote_ident(table_name)
    view = f"_in_{uuid.uuid4().hex[:12]}"
    chash = prep.content_sha256
    exists = _table_exists(con, table_name)
    if prep.replace or not exists:
        if exists:
            row = con.execute(
                "SELECT content_sha256, config_hash FROM _checkpoints "
                "WHERE table_name = ? AND status = 'complete'",
                [table_name],
            ).fetchall()
            if row and row[0][0] == chash and row[0][1] == prep.config_hash:
                return dataset_version(chash)
        staging = quote_ident(f"_stg_{table_name}_{os.getpid()}_{uuid.uuid4().hex[:8]}")
        con.register(view, prep.arrow)
        try:
            con.execute(f"CREATE TABLE {staging} AS SELECT * FROM {quote_ident(view)}")
        finally:
            con.unregister(view)
        if exists:
            con.execute(f"DROP TABLE {q}")
        con.execute(f"ALTER TABLE {staging} RENAME TO {q}")
        rows = prep.rows
    else:
        con.register(view, prep.arrow)
        try:
            con.execute(f"INSERT INTO {q} BY NAME SELECT * FROM {quote_ident(view)}")
        finally:
            con.unregister(view)
        # Appending changes the content: re-hash the whole table (inside the lock).
        whole = con.sql(f"SELECT * FROM {q}").to_arrow_table()
        chash = content_hash(whole)
        rows = whole.num_rows
        if prep.ref is not None:
            prep.ref.update(sha256=chash, rows=rows)
    con.execute("DELETE FROM _checkpoints WHERE table_name = ?", [table_name])
    con.execute(
        "INSERT INTO _checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, 'complete')",
        [
            table_name,
            utc_now_iso(),
            rows,
            prep.description,
            chash,
            dataset_version(chash),
            prep.config_hash,
        ],
    )
    return dataset_version(chash)


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
        [name],
    ).fetchall()
    return bool(row and row[0][0])


class PipelineStore:
    """The shared state database (DuckDB), with short-lived, lock-serialized connections.

    ``holder`` names the rule (or tool) using the store; it appears in lock-timeout errors and in
    the ``_lock_waits`` table. Defaults to the ``USHER_PIPELINE_RULE`` environment variable.
    """

    # Test seam: called inside every transaction right before COMMIT (crash tests kill it there).
    _before_commit_hook: Callable[[str], None] | None = None

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        *,
        holder: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.lock_timeout_s = float(lock_timeout_s)
        self.holder = holder or os.environ.get("USHER_PIPELINE_RULE")
        self.threads = threads or 1  # small transactions; heavy work happens outside DuckDB
        self._lock = DatabaseLock(self.db_path, self.lock_timeout_s)
        self._schema_ready = False
        self._closed = False
        self.lock_wait_total_s = 0.0  # this process's waits, also recorded in _lock_waits
        self.operations = 0
        # What this process's jobs stored or used (tables, fetches, batched pulls): RuleRun
        # records them with the run (``_run_files`` rows, direction table/fetch/batch), so
        # ``state gc`` knows which kept run references which item.
        self.refs: list[dict[str, Any]] = []
        self.db_path.parent.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ construction / lifetime
    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, holder: str | None = None) -> PipelineStore:
        """Build from the workflow config: ``state.db`` and ``state.lock_timeout_s``."""
        state = dict(config.get("state") or {})
        return cls(
            state.get("db") or DEFAULT_DB,
            float(state.get("lock_timeout_s") or DEFAULT_LOCK_TIMEOUT_S),
            holder=holder,
        )

    @property
    def state_dir(self) -> Path:
        return self.db_path.parent

    def close(self) -> None:
        """Mark the store closed. No connection stays open between operations anyway."""
        self._closed = True

    def __enter__(self) -> PipelineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PipelineStore({str(self.db_path)!r})"

    # ------------------------------------------------------------------ connection handling
    @contextlib.contextmanager
    def _transaction(
        self, operation: str, *, write: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Lock, connect, BEGIN; COMMIT and close on success.

        One DuckDB connection per operation. The operation's lock-wait record is appended to
        ``<db>.lockwaits`` (a line, no DuckDB write); write transactions fold the pending lines
        into ``_lock_waits`` as part of their own COMMIT, so a read-only operation (``write=False``)
        writes nothing to the database and costs a connect, its query and a close.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        log = lock_log_path(self.db_path)
        with self._lock.hold(rule=self.holder, operation=operation) as stats:
            con = connect_state_db(
                self.db_path, self.lock_timeout_s, config={"threads": self.threads}
            )
            try:
                key = _file_key(self.db_path)
                if key not in _SCHEMA_CHECKED:
                    ensure_schema(con)
                    if key is not None:
                        _SCHEMA_CHECKED.add(key)
                con.execute("BEGIN TRANSACTION")
                try:
                    folded = _fold_lock_log(con, log) if write else False
                    yield con
                    hook = type(self)._before_commit_hook
                    if hook is not None:
                        hook(operation)
                    con.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        con.execute("ROLLBACK")
                    raise
            finally:
                con.close()
            if write and folded:
                with contextlib.suppress(FileNotFoundError):
                    log.unlink()
            _append_lock_record(
                log,
                {
                    "ts": utc_now_iso(),
                    "host": _HOST,
                    "pid": os.getpid(),
                    "rule": self.holder,
                    "operation": operation,
                    "wait_s": stats.wait_s,
                    "hold_s": time.perf_counter() - stats.acquired_at,
                },
            )
        self.lock_wait_total_s += stats.wait_s
        self.operations += 1

    # ------------------------------------------------------------------ tables
    def prepare_table(
        self,
        df: Any,
        table_name: str,
        description: str = "",
        replace: bool = True,
        *,
        config_hash: str | None = None,
        content_sha256: str | None = None,
    ) -> PreparedTable:
        """The heavy, lock-free part of a save: validation, content hash (``content_sha256``: the
        caller's, when it already computed ``content_hash(df)``), Arrow conversion."""
        validate_table_name(table_name)
        frame = to_polars(df)
        validate_column_names(frame.columns)
        prep = PreparedTable(
            table_name=table_name,
            description=description,
            replace=replace,
            config_hash=config_hash,
            content_sha256=content_sha256 if content_sha256 is not None else content_hash(frame),
            rows=frame.height,
            arrow=arrow_table(frame),
        )
        self.refs.append(
            {
                "direction": "table",
                "path": table_name,
                "sha256": prep.content_sha256,
                "rows": prep.rows,
            }
        )
        prep.ref = self.refs[-1]
        return prep

    def save_dataframe(
        self,
        df: Any,
        table_name: str,
        description: str = "",
        replace: bool = True,
        *,
        config_hash: str | None = None,
    ) -> str:
        """Store a polars/pandas table; return its dataset_version (short content hash).

        ``replace=True`` swaps the table atomically; when the stored table already has the same
        content hash (and the same ``config_hash``), nothing is rewritten. ``replace=False``
        appends rows to an existing table (same columns) and re-hashes the result.
        """
        prep = self.prepare_table(df, table_name, description, replace, config_hash=config_hash)
        with self._transaction(f"save:{table_name}") as con:
            return _apply_table(con, prep)

    def load_dataframe(self, table_name: str, as_polars: bool = True) -> Any:
        """The stored table as polars (default) or pandas; None when it does not exist."""
        validate_table_name(table_name)
        with self._transaction(f"load:{table_name}", write=False) as con:
            if not _table_exists(con, table_name):
                return None
            table = con.sql(f"SELECT * FROM {quote_ident(table_name)}").to_arrow_table()
        if as_polars:
            return pl.from_arrow(table)
        return table.to_pandas()

    def has_checkpoint(self, table_name: str) -> bool:
        """True when the table exists and is recorded as complete."""
        validate_table_name(table_name)
        with self._transaction(f"has:{table_name}", write=False) as con:
            row = con.execute(
                "SELECT count(*) FROM _checkpoints WHERE table_name = ? AND status = 'complete'",
                [table_name],
            ).fetchall()
            return bool(row and row[0][0]) and _table_exists(con, table_name)

    def list_checkpoints(self) -> pl.DataFrame:
        """One row per stored table: name, created_at, row_count, description, hashes, version."""
        cols = ", ".join(_CHECKPOINT_COLUMNS)
        with self._transaction("list_checkpoints", write=False) as con:
            table = con.sql(f"SELECT {cols} FROM _checkpoints ORDER BY table_name").to_arrow_table()
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        if out.height == 0:
            return pl.DataFrame(schema=_CHECKPOINT_COLUMNS)
        return out

    def delete_checkpoint(self, table_name: str) -> bool:
        """Drop a table and its checkpoint row; True if anything was deleted."""
        validate_table_name(table_name)
        with self._transaction(f"delete:{table_name}") as con:
            exists = _table_exists(con, table_name)
            row = con.execute(
                "SELECT count(*) FROM _checkpoints WHERE table_name = ?", [table_name]
            ).fetchall()
            recorded = bool(row and row[0][0])
            if exists:
                con.execute(f"DROP TABLE {quote_ident(table_name)}")
            con.execute("DELETE FROM _checkpoints WHERE table_name = ?", [table_name])
        return exists or recorded

    def export_parquet(self, table_name: str, path: str | os.PathLike[str]) -> Path:
        """Write a stored table to a deterministic Parquet file (atomically)."""
        validate_table_name(table_name)
        with self._transaction(f"export:{table_name}", write=False) as con:
            if not _table_exists(con, table_name):
                raise KeyError(f"table {table_name!r} is not in {self.db_path}")
            table = con.sql(f"SELECT * FROM {quote_ident(table_name)}").to_arrow_table()
            row = con.execute(
                "SELECT dataset_version FROM _checkpoints WHERE table_name = ?", [table_name]
            ).fetchall()
        meta = {"table_name": table_name}
        if row and row[0][0]:
            meta["dataset_version"] = row[0][0]
        write_parquet(table, path, metadata=meta)
        return Path(path)

    def execute_query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pl.DataFrame:
        """Run SQL with bound parameters (``?`` or ``$name``); the result as polars."""
        if not isinstance(sql, str) or not sql.strip():
            raise ValueError("sql must be a non-empty string")
        # a query that reads _lock_waits first folds the pending lock-wait records into it
        with self._transaction("query", write="_lock_waits" in sql) as con:
            rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
            table = rel.to_arrow_table() if rel is not None else None
        if table is None:
            return pl.DataFrame()
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out

    def read_only_query(self, sql: str) -> pl.DataFrame:
        """Run SQL on a DuckDB connection that can only read the database (``state query``).

        The connection is opened ``read_only`` with external access disabled and its
        configuration locked, so DuckDB itself refuses any statement that would change the
        database or touch other files. The store lock is held only while the query runs: running
        jobs wait for it instead of failing on DuckDB's file lock. Nothing is written, not even a
        lock-wait record.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ValueError("sql must be a non-empty string")
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        config = {
            "threads": self.threads,
            "enable_external_access": False,
            "lock_configuration": True,
        }
        with self._lock.hold(rule=self.holder, operation="read_only_query"):
            con = connect_state_db(self.db_path, self.lock_timeout_s, read_only=True, config=config)
            try:
                rel = con.sql(sql)
                table = rel.to_arrow_table() if rel is not None else None
            finally:
                con.close()
        if table is None:
            return pl.DataFrame()
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out

    # ------------------------------------------------------------------ run history
    def start_run(
        self,
        run_id: str,
        rule: str,
        wildcards: str,
        *,
        config_hash: str | None,
        inputs: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Record a rule execution as running, with its input files."""
        with self._transaction(f"run_start:{rule}") as con:
            con.execute(
                "INSERT INTO _runs VALUES (?, ?, ?, ?, NULL, 'running', NULL, NULL, ?, ?, ?, NULL,"
                " NULL)",
                [
                    run_id,
                    rule,
                    wildcards,
                    utc_now_iso(),
                    socket.gethostname(),
                    os.getpid(),
                    config_hash,
                ],
            )
            _insert_files(con, run_id, "input", inputs)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        rows: int | None,
        sidecar_sha256: str | None,
        outputs: Sequence[Mapping[str, Any]] = (),
        error: str | None = None,
        provenance: Sequence[Mapping[str, Any]] = (),
        refs: Sequence[Mapping[str, Any]] = (),
        tables: Sequence[PreparedTable] = (),
    ) -> list[str]:
        """Close a run row (status ok/failed) and record its outputs and provenance rows.

        ``refs``: tables, fetches and batched pulls the run stored or used (``store.refs``).
        ``tables``: prepared tables written in the same transaction (a job's whole record is one
        commit); returns their dataset versions.
        """
        wait = self.lock_wait_total_s
        with self._transaction(f"run_end:{status}") as con:
            con.execute(
                "UPDATE _runs SET ended_at = ?, status = ?, rows = ?, sidecar_sha256 = ?, "
                "lock_wait_s = ?, error = ? WHERE run_id = ?",
                [utc_now_iso(), status, rows, sidecar_sha256, wait, error, run_id],
            )
            versions = [_apply_table(con, t) for t in tables]
            _insert_files(con, run_id, "output", outputs)
            _insert_files(con, run_id, "ref", _unique_refs(refs))
            _insert_provenance(con, provenance)
        return versions

    def mark_interrupted(self, host: str, alive: Callable[[int], bool]) -> list[dict[str, Any]]:
        """Mark ``running`` rows of ``host`` whose process is gone as ``interrupted`` (a killed
        run never closed them). Rows of other hosts (cluster nodes) cannot be checked from here
        and are left alone. Returns the rows changed."""
        with self._transaction("mark_interrupted") as con:
            rows = con.execute(
                "SELECT run_id, rule, wildcards, started_at, pid FROM _runs "
                "WHERE status = 'running' AND host = ? ORDER BY started_at",
                [host],
            ).fetchall()
            dead = [r for r in rows if r[4] is None or not alive(int(r[4]))]
            for run_id, _, _, _, pid in dead:
                con.execute(
                    "UPDATE _runs SET status = 'interrupted', ended_at = ?, error = ? "
                    "WHERE run_id = ?",
                    [utc_now_iso(), f"process {pid} on {host} ended without closing the run "
                     "(killed); marked by the next run", run_id],
                )  # fmt: skip
        cols = ("run_id", "rule", "wildcards", "started_at", "pid")
        return [dict(zip(cols, r, strict=True)) for r in dead]

    def record_provenance(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows into ``_provenance`` (see ProvenanceTracker.save_to_store)."""
        with self._transaction("provenance") as con:
            _insert_provenance(con, rows)

    # ------------------------------------------------------------------ maintenance
    def lock_wait_seconds(self) -> float:
        """Sum of all recorded lock waits (every operation of every process)."""
        with self._transaction("lock_wait_sum") as con:
            row = con.execute("SELECT coalesce(sum(wait_s), 0) FROM _lock_waits").fetchall()
        return float(row[0][0]) if row else 0.0


def _insert_files(
    con: duckdb.DuckDBPyConnection, run_id: str, direction: str, files: Sequence[Mapping[str, Any]]
) -> None:
    for f in files:
        con.execute(
            "INSERT INTO _run_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                f.get("direction", direction),
                str(f["path"]),
                f.get("kind", "file"),
                f.get("sha256"),
                f.get("size"),
                f.get("rows"),
                f.get("sidecar_path"),
                f.get("sidecar_sha256"),
            ],
        )


def _unique_refs(refs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The last record per (direction, name): a table saved twice references its final content."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in refs:
        out[(str(r["direction"]), str(r["path"]))] = {"kind": r["direction"], **r}
    return list(out.values())


def _insert_provenance(con: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    for r in rows:
        con.execute(
            "INSERT INTO _provenance VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                str(r["output_path"]),
                r.get("created_at") or utc_now_iso(),
                r.get("rule"),
                r.get("run_id"),
                r.get("config_hash"),
                r.get("pipeline_version"),
                r.get("provenance_sha256"),
                r.get("sidecar_sha256"),
                r.get("metadata_json"),
            ],
        )
