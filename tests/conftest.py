"""Session set-up shared by every test process.

The suite runs on every core (pytest-xdist, ``-n auto`` in pyproject.toml). The workflow runs that
several tests read (``e2e_fixtures.local_run()``, ``live_run()``) are made once per session, not
once per worker process: the controller creates one shared scratch folder and passes it to the
workers in ``USHER_E2E_SHARED``; the first worker that needs a run makes it there under a file
lock, the others wait for it and read the same run. The controller removes the folder at the end
(unless ``USHER_KEEP_E2E=1``), after every worker stopped.

``-n auto`` starts one worker more than the machine has cores: many tests spend most of their
time waiting (SLURM status polls, a server's latency, a lock held on purpose, a killed run), and
the extra worker uses that time.

The slowest tests come first in the order (SLURM end to end, then every test marked ``slow``,
then the rest, each group in collection order) and ``--dist worksteal`` lets an idle worker take
queued tests from a busy one. Measured on 2 cores (benchmarks/profile_suite.py, 2026-12-04):
worksteal 485 s; ``--dist loadgroup`` (a worker takes the next test when it has at most two
queued), with the same order or with the live-run tests grouped on one worker, 573-584 s.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

SHARED_ENV = "USHER_E2E_SHARED"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config) and not os.environ.get(SHARED_ENV):
        path = tempfile.mkdtemp(prefix="usher-e2e-shared-")
        os.environ[SHARED_ENV] = path  # inherited by the worker processes started after this
        config.stash[_OWNED] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(_OWNED, None)
    if path and os.environ.get("USHER_KEEP_E2E") != "1":
        shutil.rmtree(path, ignore_errors=True)


_OWNED = pytest.StashKey[str]()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return (os.cpu_count() or 1) + 1


def _weight(item: pytest.Item) -> int:
    if item.get_closest_marker("slurm"):
        return 0
    if item.get_closest_marker("slow"):
        return 1
    return 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_weight)  # stable: collection order within each group
