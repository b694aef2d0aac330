"""Open DuckDB connections on the state database, waiting out a process outside the pipeline.

The pipeline's own processes never meet on DuckDB's file lock: they all take the store lock
(:mod:`.lock`) first. A process outside the pipeline does not: a notebook with
``duckdb.connect(path, read_only=True)`` open keeps every writer out, and DuckDB refuses at once
with ``IO Error: Could not set lock on file "<db>": Conflicting lock is held in <program>
(PID <n>) ...``. DuckDB has no option to wait for that lock, so every connection to the state
database goes through :func:`connect_state_db` (or :func:`retry_lock_conflict` for an
``ATTACH``): on that error it sleeps (0.05 s growing to 1 s) and tries again until the store's
``lock_timeout_s`` is spent, then raises :class:`DatabaseBusyError` naming the database, the
holder's pid and command line, and how to release it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from .lock import LockTimeoutError

T = TypeVar("T")
log = logging.getLogger(__name__)

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 1.0

# DuckDB's messages (src/common/local_file_system.cpp), as captured from duckdb 1.x and 2.0:
#   Could not set lock on file "<path>": Conflicting lock is held in <program> (PID <n>)
#       [by user <user>]. [However, you would be able to open this database in read-only mode,
#       e.g. by using the -readonly parameter in the CLI.] See also https://duckdb.org/docs/...
#   Could not set lock on file "<path>": Conflicting lock is held in PID 0. See also ...
#       (the holder is unknown, e.g. on NFS)
#   Could not set lock on file "<path>": Resource temporarily unavailable   (before 0.10)
# "Could not set lock on file ...: Operation not supported" is a filesystem without locks, not a
# conflict: it is not retried.
_LOCK_FAILED = re.compile(r'Could not set lock on file "(?P<path>[^"]*)": (?P<detail>.*)', re.S)
_HELD_BY_PROGRAM = re.compile(
    r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)"
    r"(?: by user (?P<user>[^\s.]+(?:\.[^\s.]+)*))?"
)
_HELD_BY_PID = re.compile(r"Conflicting lock is held in PID (?P<pid>\d+)")
_READ_ONLY_HINT = "would be able to open this database in read-only mode"


@dataclasses.dataclass(frozen=True)
class LockConflict:
    """What DuckDB said about the process holding its lock on a database file."""

    path: str
    pid: int | None  # None when DuckDB could not tell (it prints PID 0, or no holder at all)
    program: str | None
    user: str | None
    holder_read_only: bool  # DuckDB's hint that the holder opened the file read-only


def parse_lock_conflict(message: str) -> LockConflict | None:
    """The lock conflict described by a DuckDB error message; None for any other error."""
    m = _LOCK_FAILED.search(message)
    if m is None:
        return None
    detail = m.group("detail")
    if (
        "Conflicting lock is held" not in detail
        and "Resource temporarily unavailable" not in detail
    ):
        return None
    pid: int | None = None
    program = user = None
    held = _HELD_BY_PROGRAM.search(detail)
    if held:
        pid, program, user = int(held.group("pid")), held.group("program"), held.group("user")
    else:
        bare = _HELD_BY_PID.search(detail)
        if bare:
            pid = int(bare.group("pid"))
    return LockConflict(
        path=m.group("path"),
        pid=pid if pid else None,
        program=program,
        user=user,
        holder_read_only=_READ_ONLY_HINT in detail,
    )


def holder_cmdline(pid: int | None) -> str | None:
    """The command line of a process of this host (``/proc/<pid>/cmdline``), if readable."""
    if not pid:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    return shlex.join(args) if args else None


class DatabaseBusyError(LockTimeoutError):
    """A process outside the pipeline kept DuckDB's own lock on the state database for longer
    than ``state.lock_timeout_s``."""

    def __init__(
        self, db_path: Path, timeout_s: float, conflict: LockConflict, cmdline: str | None
    ) -> None:
        self.conflict = conflict
        holder: dict[str, Any] = {
            "pid": conflict.pid,
            "program": conflict.program,
            "user": conflict.user,
            "cmdline": cmdline,
            "read_only": conflict.holder_read_only,
        }
        if conflict.pid:
            details = [conflict.program, f"user {conflict.user}" if conflict.user else None]
            if conflict.holder_read_only:
                details.append("opened read-only")
            extra = ", ".join(d for d in details if d)
            who = f"pid {conflict.pid}" + (f" ({extra})" if extra else "")
            who += f", command line: {cmdline}" if cmdline else " (command line not readable)"
            release = (
                f"Close that connection (con.close() in the notebook or script, or shut its "
                f"kernel down) or end pid {conflict.pid}"
            )
        else:
            who = "a process DuckDB could not name (pid unknown, e.g. on another host)"
            release = "Close the other connection to the file"
        message = (
            f"timed out after {timeout_s:g}s waiting for state database {db_path}: another "
            f"process holds DuckDB's lock on the file: {who}. {release}; the pipeline's jobs "
            "wait for it up to state.lock_timeout_s. To read the state while a run is going, use "
            '`usher-pipeline state query "SQL"` (it waits its turn) or open a copy of the file.'
        )
        super().__init__(db_path, timeout_s, holder, message=message)


def retry_lock_conflict(
    action: Callable[[], T],
    db_path: str | os.PathLike[str],
    timeout_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action()`` (a ``duckdb.connect`` or an ``ATTACH`` of ``db_path``), retried while DuckDB
    reports a lock conflict on the file: after 0.05 s, then twice as long each time up to 1 s,
    until ``timeout_s`` is spent; then :class:`DatabaseBusyError`. Other errors pass through."""
    start = time.monotonic()
    deadline = start + float(timeout_s)
    delay = FIRST_DELAY_S
    warned = False
    while True:
        try:
            return action()
        except duckdb.Error as exc:
            conflict = parse_lock_conflict(str(exc))
            if conflict is None:
                raise
            now = time.monotonic()
            if now >= deadline:
                raise DatabaseBusyError(
                    Path(db_path), float(timeout_s), conflict, holder_cmdline(conflict.pid)
                ) from exc
            if not warned:
                log.warning(
                    "state database %s is held by pid %s outside the pipeline; waiting up to "
                    "%gs (state.lock_timeout_s)",
                    db_path,
                    conflict.pid or "(unknown)",
                    timeout_s,
                )
                warned = True
            sleep(min(delay, deadline - now))
            delay = min(delay * 2, MAX_DELAY_S)


def connect_state_db(
    db_path: str | os.PathLike[str],
    timeout_s: float,
    *,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` on the state database, waiting out a foreign holder of DuckDB's file
    lock for up to ``timeout_s`` (see :func:`retry_lock_conflict`). Call it while holding the
    store lock: the pipeline's own processes then never conflict with each other here."""
    return retry_lock_conflict(
        lambda: duckdb.connect(str(db_path), read_only=read_only, config=dict(config or {})),
        db_path,
        timeout_s,
    )
