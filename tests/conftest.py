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

Every worker starts on slow tests (``worksteal_order``: SLURM end to end on one, the other tests
marked ``slow`` dealt to the others), quick tests fill in, and ``--dist worksteal`` lets an idle
worker take queued tests from a busy one. Measured on 2 cores (benchmarks/profile_suite.py, 2026-12-04):
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


def worksteal_order(weights: list[int], n_workers: int) -> list[int]:
    """Positions of the tests (given their weights) in the order that starts every worker on
    slow tests. ``--dist worksteal`` hands worker k the k-th of n contiguous chunks (sizes
    len // n, then the rest evenly) and an idle worker steals from the END of a busy one's
    queue. So chunk 0 starts with the SLURM test (weight 0: minutes of waiting on status polls,
    little CPU), the other slow tests (weight 1) are dealt to the fronts of the other chunks in
    turn, and quick tests (weight 2) fill every chunk up, to be stolen first."""
    order = sorted(range(len(weights)), key=lambda i: weights[i])  # stable
    if n_workers < 2:
        return order
    sizes, left = [], len(order)
    for k in range(n_workers):
        sizes.append(left // (n_workers - k))
        left -= sizes[-1]
    chunks: list[list[int]] = [[] for _ in range(n_workers)]
    slow = [i for i in order if weights[i] < 2]
    quick = [i for i in order if weights[i] >= 2]
    for j, i in enumerate(slow):
        k = 0 if weights[i] == 0 else 1 + j % (n_workers - 1)
        chunks[k].append(i)
    for k in range(n_workers):
        while len(chunks[k]) < sizes[k] and quick:
            chunks[k].append(quick.pop(0))
    chunks[-1].extend(quick)
    return [i for chunk in chunks for i in chunk]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)  # the same on every worker
    order = worksteal_order([_weight(item) for item in items], n)
    items[:] = [items[i] for i in order]
