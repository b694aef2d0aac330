"""The order the parallel suite hands out its tests (conftest.worksteal_order)."""

from __future__ import annotations

from conftest import worksteal_order


def test_every_worker_starts_on_slow_tests_and_the_order_is_a_permutation():
    weights = [2] * 20 + [1] * 5 + [0] + [2] * 10  # 36 tests: 1 SLURM, 5 slow, 30 quick
    order = worksteal_order(weights, 3)
    assert sorted(order) == list(range(len(weights)))
    chunks = [order[0:12], order[12:24], order[24:36]]  # worksteal's chunk sizes for 36 and 3
    assert weights[chunks[0][0]] == 0  # the SLURM test alone heads the first chunk
    assert [weights[i] for i in chunks[0]].count(1) == 0
    for chunk in chunks[1:]:  # the slow tests head the other chunks, in collection order
        slow = [i for i in chunk if weights[i] == 1]
        assert slow and chunk[: len(slow)] == slow == sorted(slow)


def test_one_process_keeps_the_slowest_first_order():
    assert worksteal_order([2, 1, 0, 2], 1) == [2, 1, 0, 3]
    assert worksteal_order([2, 1, 0, 2], 0) == [2, 1, 0, 3]
