"""Weight-aware construction: most earliness cost per slot of processing takes the latest slot."""

import numpy as np

from cloud.scheduler.backward import Problem, plan_backward, step_costs
from cloud.scheduler.problem import jit_sequence
from cloud.scheduler.reference import plan_reference


def one_machine(dur: list[int], a: list[float], b: list[float], due: int) -> Problem:
    n = len(dur)
    d = np.array(dur, dtype=np.int64)
    horizon = due + int(d.sum()) + 1
    return Problem(
        open_=np.ones((1, horizon), dtype=np.bool_),
        open_span=np.ones((1, horizon), dtype=np.bool_),
        order_ptr=np.arange(n + 1, dtype=np.int64),
        dur=d,
        due=np.full(n, due, dtype=np.int64),
        release=np.zeros(n, dtype=np.int64),
        transfer=np.zeros(n, dtype=np.int64),
        span=np.zeros(n, dtype=np.bool_),
        req_ptr=np.arange(n + 1, dtype=np.int64),
        req_off=np.zeros(n, dtype=np.int64),
        req_len=d.copy(),
        cand_ptr=np.arange(n + 1, dtype=np.int64),
        cand_res=np.zeros(n, dtype=np.int64),
        w_early=np.array(a),
        w_tardy=np.array(b),
    )


def test_highest_earliness_weight_per_slot_goes_last() -> None:
    # input order puts the long, cheap order first; weights say the short, costly one ends at d
    p = one_machine([10, 2, 5], [1.0, 8.0, 3.0], [1.0, 1.0, 1.0], due=40)
    np.testing.assert_array_equal(jit_sequence(p), [1, 2, 0])
    plan = plan_backward(p)
    assert int(plan.start[1] + p.dur[1]) == 40
    assert int(plan.start[2] + p.dur[2]) == 38
    assert int(plan.start[0] + p.dur[0]) == 33
    e, t = step_costs(p, plan.start)
    in_input_order = plan_backward(p, np.arange(3, dtype=np.int64))
    e0, t0 = step_costs(p, in_input_order.start)
    assert e.sum() + t.sum() < e0.sum() + t0.sum()
    np.testing.assert_array_equal(plan_reference(p).start, plan.start)


def test_ties_keep_the_input_order() -> None:
    p = one_machine([2, 4, 2], [1.0, 2.0, 1.0], [1.0, 1.0, 1.0], due=20)
    np.testing.assert_array_equal(jit_sequence(p), [0, 1, 2])
