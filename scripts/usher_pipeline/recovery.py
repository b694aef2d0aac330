"""Recovery after a killed run (``kill -9``, a closed laptop, an OOM kill).

A run killed without a chance to clean up leaves three things behind: Snakemake's lock files
(``.snakemake/locks``; the next ``snakemake`` refuses to start), rows of the state database's
``_runs`` table still ``running``, and temporary files ``<output>.tmp-<pid>`` of the atomic
writes under ``results/``. ``usher-pipeline run`` calls :func:`recover` before starting Snakemake:
when no Snakemake process of the working directory is alive, it unlocks (``snakemake --unlock``),
marks the dead ``running`` rows ``interrupted`` and removes the orphan temporary files; when one is
alive, it refuses and prints the exact command to run once that process is really gone.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TMP_SUFFIX = re.compile(r"\.tmp-(\d+)$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def snakemake_locks(workdir: str | Path) -> list[Path]:
    """Snakemake's lock files of a working directory (left behind by a killed run)."""
    locks = Path(workdir) / ".snakemake" / "locks"
    return sorted(p for p in locks.iterdir() if p.is_file()) if locks.is_dir() else []


def live_snakemake_pids(workdir: str | Path, exclude: Iterable[int] = ()) -> list[int]:
    """Pids of live ``snakemake`` processes whose working directory is ``workdir`` (Linux /proc;
    also a job's ``--directory``). Processes of other users that cannot be read are skipped."""
    target = Path(workdir).resolve()
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(entry / "cwd")).resolve()
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if not any(Path(a).name == "snakemake" or a.endswith("/snakemake") for a in args[:3]):
            continue
        dirs = {cwd}
        for flag in ("--directory", "-d"):
            if flag in args and args.index(flag) + 1 < len(args):
                dirs.add((cwd / args[args.index(flag) + 1]).resolve())
        if target in dirs and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def orphan_tmp_files(
    results_dir: str | Path, alive: Callable[[int], bool] = pid_alive
) -> list[Path]:
    """``*.tmp-<pid>`` files and folders under ``results_dir`` whose writer is dead."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    out = []
    for path in root.rglob("*.tmp-*"):
        m = TMP_SUFFIX.search(path.name)
        if m and not alive(int(m.group(1))):
            out.append(path)
    return sorted(out)


def remove_paths(paths: Iterable[Path]) -> list[Path]:
    removed = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@dataclasses.dataclass
class Recovery:
    stale_locks: list[Path] = dataclasses.field(default_factory=list)
    unlocked: bool = False
    interrupted_runs: list[dict] = dataclasses.field(default_factory=list)
    removed_tmp: list[Path] = dataclasses.field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return bool(self.unlocked or self.interrupted_runs or self.removed_tmp)


class LiveRunError(RuntimeError):
    """Another Snakemake run of the same working directory is alive."""


RUN_LOCK = Path(".snakemake") / "usher-pipeline-run.lock"


class RunLock:
    """``usher-pipeline run``'s own lock of a working directory: an exclusive ``flock`` on
    ``.snakemake/usher-pipeline-run.lock`` holding the owner's pid, taken before anything else
    (so of two runs started at the same moment, exactly one starts and the other is told the
    winner's pid instead of getting Snakemake's LockException). The kernel drops the lock when
    its process dies, so a killed run never leaves it behind."""

    def __init__(self, workdir: str | Path) -> None:
        self.path = Path(workdir) / RUN_LOCK
        self._fh: Any = None

    def acquire(self) -> None:
        """Take the lock or raise LiveRunError naming the holder's pid."""
        import fcntl
        import time

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown pid"
            fh.close()
            pid = holder.split()[0]
            raise LiveRunError(
                f"another usher-pipeline run is using {self.path.parent.parent} "
                f"(pid {holder}); wait for it to finish (or stop it with `kill {pid}`); "
                "nothing was changed"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()} (started {time.strftime('%Y-%m-%dT%H:%M:%S%z')})\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def recover(
    workdir: str | Path,
    results_dir: str | Path,
    db_path: str | Path | None,
    unlock: Callable[[], int],
    unlock_command: str,
    alive: Callable[[int], bool] = pid_alive,
    live_pids: Callable[[], list[int]] | None = None,
) -> Recovery:
    """Clean up after a dead run of ``workdir`` (see the module docstring).

    ``unlock`` runs ``snakemake --unlock`` (returns its exit status) and ``unlock_command`` is
    the same command as text, printed when a live run holds the lock. Raises LiveRunError when
    a Snakemake process of the working directory is alive and a lock exists.
    """
    rec = Recovery()
    workdir = Path(workdir)
    locks = snakemake_locks(workdir)
    pids = (live_pids or (lambda: live_snakemake_pids(workdir)))()
    if locks and pids:
        # The other run is alive: never advise --unlock (it would let two runs write the same
        # files); unlock_command is only for a lock whose snakemake is gone.
        raise LiveRunError(
            f"another run is using {workdir}: snakemake pid {', '.join(map(str, pids))} is "
            "alive and holds its lock; wait for it to finish (or stop it with "
            f"`kill {pids[0]}`); nothing was changed"
        )
    if pids:
        return rec  # a live run without a lock (e.g. a dry run): touch nothing it may own
    if locks:
        rec.stale_locks = locks
        if unlock() != 0:
            raise LiveRunError(f"`{unlock_command}` failed; run it by hand and look at its output")
        rec.unlocked = True
    db = Path(workdir, db_path) if db_path is not None else None
    if db is not None and db.is_file():
        from .persistence import PipelineStore

        rec.interrupted_runs = PipelineStore(db, holder="usher-pipeline run").mark_interrupted(
            socket.gethostname(), alive
        )
    rec.removed_tmp = remove_paths(orphan_tmp_files(Path(workdir, results_dir), alive))
    return rec
