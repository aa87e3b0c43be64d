"""Deterministic improvement budgets: the iteration budget binds, a wall-clock cut is reported."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from cloud.scheduler.backward import plan_backward
from cloud.scheduler.improve import improve_orders, improve_plan

from .problems import random_problem
from .test_improve import shop


@contextmanager
def cpu_load(threads: int = 2) -> Iterator[None]:
    """Busy Python threads competing for the interpreter while the search runs."""
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    workers = [threading.Thread(target=spin, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join()


@pytest.mark.parametrize("seed", range(3))
def test_same_seed_and_iterations_give_the_same_plan_under_load(seed: int) -> None:
    p = shop(seed, jobs=6, machines=3, horizon=80)
    quiet = improve_plan(p, plan_backward(p), seed=seed, max_iters=80, time_s=60)
    with cpu_load():
        loaded = improve_plan(p, plan_backward(p), seed=seed, max_iters=80, time_s=60)
    assert quiet.stopped_by in ("iterations", "done")
    assert loaded.stopped_by == quiet.stopped_by
    assert not loaded.cut_by_time
    assert loaded.iterations == quiet.iterations
    np.testing.assert_array_equal(loaded.start, quiet.start)
    assert loaded.cost_after == quiet.cost_after


def test_a_tiny_wall_cap_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    p = shop(1, jobs=6, machines=3, horizon=80)
    with caplog.at_level(logging.WARNING, logger="cloud.scheduler.improve"):
        imp = improve_plan(p, plan_backward(p), seed=1, max_iters=10**9, time_s=1e-6)
    assert imp.stopped_by == "time" and imp.cut_by_time
    assert imp.iterations < 10**9
    assert "wall-clock cap" in caplog.text
    # the iteration budget binding is not reported as a cut
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cloud.scheduler.improve"):
        imp = improve_plan(p, plan_backward(p), seed=1, max_iters=5, time_s=60)
    assert imp.stopped_by == "iterations" and imp.iterations >= 5
    assert "wall-clock cap" not in caplog.text


def test_order_level_budgets() -> None:
    p = random_problem(4, n_orders=20, load=3)
    a = improve_orders(p, plan_backward(p), seed=4, max_iters=25, time_s=60)
    with cpu_load():
        b = improve_orders(p, plan_backward(p), seed=4, max_iters=25, time_s=60)
    assert a.stopped_by in ("iterations", "done") and a.stopped_by == b.stopped_by
    np.testing.assert_array_equal(a.start, b.start)
    assert a.iterations > 0
    cut = improve_orders(p, plan_backward(p), seed=4, max_iters=10**9, time_s=0.0)
    assert cut.stopped_by == "time" and cut.cut_by_time


def test_cap_is_kept_to_within_ten_percent_by_the_pace_of_iterations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No iteration starts that would end past 1.1 x the cap at the latest iterations' pace."""
    import cloud.scheduler.improve as improve

    clock = [0.0]
    monkeypatch.setattr("cloud.scheduler.improve.time.perf_counter", lambda: clock[0])
    budget = improve._Budget(max_iters=1000, time_s=1.0)
    for i, now in enumerate((0.3, 0.6), start=1):
        clock[0] = now
        assert not budget.spent(i)
    clock[0] = 0.9  # a fourth iteration at 0.3 each would end at 1.2
    assert budget.spent(3)
    assert budget.stopped_by == "time"
    quick = improve._Budget(max_iters=1000, time_s=1.0)
    clock[0] = 0.0
    for i in range(1, 100):
        clock[0] = 0.01 * i  # short iterations run up to the cap itself
        if quick.spent(i):
            break
    assert 0.99 <= clock[0] <= 1.1
