"""Inter-process lock around every DuckDB connection of the state database.

DuckDB lets one process open a database file read-write and, while it does, no other process can
open it at all. Every store operation therefore opens a fresh connection, does one transaction and
closes it, all while holding an exclusive ``flock`` on ``<db>.lock``. The holder (host, pid, rule,
since) is written to ``<db>.lock.owner`` so a process that times out can name it.

``flock`` is released by the kernel when a process dies (even by SIGKILL), so a killed job never
leaves a stale lock; the owner file it leaves behind is only informative and is overwritten by the
next holder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from ._common import utc_now_iso

# Serialize threads of one process as well: fcntl/flock locks are per open file description, and
# DuckDB shares one database instance between connections of the same process.
_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(key: str) -> threading.RLock:
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(key)
        if lock is None:
            lock = _THREAD_LOCKS[key] = threading.RLock()
        return lock


class LockTimeoutError(TimeoutError):
    """Raised when the state-database lock could not be acquired within the configured time."""

    def __init__(
        self, db_path: Path, timeout_s: float, holder: dict | None, *, message: str | None = None
    ) -> None:
        self.db_path = db_path
        self.timeout_s = timeout_s
        self.holder = holder
        if message is not None:  # a subclass describing another kind of holder
            super().__init__(message)
            return
        if holder:
            who = (
                f"held by pid {holder.get('pid')} on host {holder.get('host')}"
                f" (rule {holder.get('rule') or '-'}, operation {holder.get('operation') or '-'})"
                f" since {holder.get('since')}"
            )
        else:
            who = "holder unknown (no owner file)"
        super().__init__(
            f"timed out after {timeout_s:g}s waiting for the lock on state database {db_path} "
            f"(lock file {db_path}.lock): {who}. Raise state.lock_timeout_s, or check that the "
            "holder is alive; a dead process releases the lock automatically."
        )


@dataclass
class LockStats:
    """Timing of one lock acquisition."""

    wait_s: float
    acquired_at: float  # time.perf_counter() when acquired


class DatabaseLock:
    """Exclusive inter-process lock for one state database file."""

    def __init__(self, db_path: Path, timeout_s: float) -> None:
        self.db_path = Path(db_path)
        self.lock_path = Path(f"{self.db_path}.lock")
        self.owner_path = Path(f"{self.db_path}.lock.owner")
        self.timeout_s = float(timeout_s)
        self._flock = filelock.FileLock(
            str(self.lock_path),
            timeout=self.timeout_s,
            poll_interval=0.005,
            fallback_to_soft=False,
            preserve_lock_file=True,
            thread_local=False,
        )
        self._tlock = _thread_lock(str(self.lock_path.resolve()))

    def read_owner(self) -> dict | None:
        try:
            return json.loads(self.owner_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_owner(self, rule: str | None, operation: str) -> None:
        owner = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "rule": rule,
            "operation": operation,
            "since": utc_now_iso(),
        }
        tmp = self.owner_path.with_name(f"{self.owner_path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(owner), encoding="utf-8")
        os.replace(tmp, self.owner_path)

    @contextlib.contextmanager
    def hold(self, *, rule: str | None = None, operation: str = "") -> Iterator[LockStats]:
        """Hold the lock for the duration of the block; yields how long the wait took."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        deadline = start + self.timeout_s
        if not self._tlock.acquire(timeout=self.timeout_s):
            raise LockTimeoutError(self.db_path, self.timeout_s, self.read_owner())
        try:
            # Poll with a growing interval (1 ms up to 50 ms): a process that has waited long
            # polls rarely, so many waiters leave the CPU to the holder, while the first waiter
            # still notices a release within a few milliseconds.
            delay = 0.001
            try:
                while True:
                    try:
                        self._flock.acquire(blocking=False)
                        break
                    except filelock.Timeout:
                        now = time.perf_counter()
                        if now >= deadline:
                            raise LockTimeoutError(
                                self.db_path, self.timeout_s, self.read_owner()
                            ) from None
                        time.sleep(min(delay, deadline - now))
                        delay = min(delay * 1.5, 0.05)
            except LockTimeoutError:
                raise
            except OSError as exc:
                raise OSError(
                    f"cannot lock {self.lock_path}: this filesystem does not support flock(). Put "
                    "state.db on a local disk or a cluster filesystem with working POSIX locks."
                ) from exc
            try:
                acquired = time.perf_counter()
                self._write_owner(rule, operation)
                try:
                    yield LockStats(wait_s=acquired - start, acquired_at=acquired)
                finally:
                    with contextlib.suppress(OSError):
                        self.owner_path.unlink()
            finally:
                self._flock.release()
        finally:
            self._tlock.release()
