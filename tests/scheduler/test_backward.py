import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.scheduler.backward import NO_DUE, Plan, Problem, plan_backward, replan
from cloud.scheduler.reference import plan_reference

from .problems import random_problem


def assert_feasible(p: Problem, plan: Plan) -> None:
    """Capacity, calendars, precedence, transfer and release hold for every placed step."""
    usage = np.zeros(p.open_.shape, dtype=np.int64)
    order_of = p.step_order()
    for s in range(p.n_steps):
        t = int(plan.start[s])
        if t < 0:
            assert plan.unplaced[order_of[s]]
            continue
        assert t >= p.release[s]
        cal = p.open_span if p.span[s] else p.open_
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            r = int(plan.res[q])
            assert r in p.cand_res[p.cand_ptr[q] : p.cand_ptr[q + 1]]
            a = t + int(p.req_off[q])
            b = a + int(p.req_len[q])
            assert b <= p.n_slots
            assert cal[r, a:b].all(), "holding window outside the calendar"
            usage[r, a:b] += 1
        if s + 1 < p.order_ptr[order_of[s] + 1] and plan.start[s + 1] >= 0:
            assert plan.start[s + 1] >= t + p.dur[s] + p.transfer[s]
    assert usage.max(initial=0) <= 1, "resource over capacity"


@pytest.mark.parametrize("seed", range(40))
def test_kernel_matches_reference_and_is_feasible(seed: int) -> None:
    p = random_problem(seed, n_orders=5 + seed % 15, load=1 + seed % 3)
    for window in (8, 256):
        a = plan_backward(p, window=window, max_batch=64)
        b = plan_reference(p)
        np.testing.assert_array_equal(a.start, b.start)
        np.testing.assert_array_equal(a.res, b.res)
        np.testing.assert_array_equal(a.forward, b.forward)
        assert_feasible(p, a)
        # the busy map: the slots the placements hold where the resource is open
        held = np.zeros(p.open_.shape, dtype=np.bool_)
        for s in np.flatnonzero(a.start >= 0).tolist():
            for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                x = int(a.start[s] + p.req_off[q])
                held[int(a.res[q]), x : x + int(p.req_len[q])] = True
        np.testing.assert_array_equal(a.busy, held & p.open_)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 25), st.integers(1, 3))
def test_random_plants_feasible(seed: int, n_orders: int, load: int) -> None:
    p = random_problem(seed, n_orders=n_orders, load=load)
    assert_feasible(p, plan_backward(p))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_uncongested_orders_finish_at_due(seed: int) -> None:
    # one order per resource set: no competition, every due date reachable
    p = random_problem(seed, n_res=100, n_orders=3, breaks=False)
    rng = np.random.default_rng(seed)
    # give every requirement its own private resource
    p.cand_res = rng.permutation(100)[: p.cand_res.shape[0]].astype(np.int64)
    p.release = np.zeros_like(p.release)
    p.due = np.where(p.due < NO_DUE, np.maximum(p.due, 120), NO_DUE)
    plan = plan_backward(p)
    assert not plan.forward.any()
    last = p.order_ptr[1:] - 1
    ends = plan.start + p.dur
    own = p.due < NO_DUE
    # each step ends at its own due or right before its successor; last steps exactly at due
    np.testing.assert_array_equal(ends[last], p.due[last])
    assert (ends[own] <= p.due[own]).all()


@pytest.mark.parametrize("seed", range(6))
def test_a_copied_planning_state_replans_like_the_original(seed: int) -> None:
    # the kernel keeps views of its own arrays; a deep copy must not look at the original's
    p = random_problem(seed, n_orders=12, load=2)
    plan = plan_backward(p)
    twin = copy.deepcopy(plan)
    held = int(np.flatnonzero(plan.res >= 0)[0])
    r = int(plan.res[held])
    orders = np.arange(p.n_orders, dtype=np.int64)
    closure = [(r, 0, p.n_slots // 2)]
    a = replan(plan, orders, closure)
    b = replan(twin, orders, closure)
    np.testing.assert_array_equal(a.start, b.start)
    np.testing.assert_array_equal(a.res, b.res)
    assert not np.array_equal(a.start, plan.start) or not np.array_equal(a.res, plan.res)
