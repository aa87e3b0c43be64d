"""Random kernel problems for the scheduler tests."""

from __future__ import annotations

import numpy as np

from cloud.scheduler.backward import NO_DUE, Problem


def random_problem(
    seed: int,
    n_res: int = 6,
    n_orders: int = 8,
    n_slots: int = 300,
    max_steps: int = 4,
    breaks: bool = True,
    load: float = 1.0,
) -> Problem:
    rng = np.random.default_rng(seed)
    open_span = np.ones((n_res, n_slots), dtype=np.bool_)
    if breaks:
        for r in range(n_res):
            for _ in range(rng.integers(0, 3)):
                a = int(rng.integers(0, n_slots - 20))
                open_span[r, a : a + int(rng.integers(5, 20))] = False
    open_ = open_span.copy()
    if breaks:
        for a in range(40, n_slots, 60):
            open_[:, a : a + 5] = False
    counts = rng.integers(1, max_steps + 1, size=n_orders)
    order_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    n_steps = int(order_ptr[-1])
    dur = rng.integers(2, int(8 * load) + 3, size=n_steps).astype(np.int64)
    transfer = rng.integers(0, 4, size=n_steps).astype(np.int64)
    due = np.full(n_steps, NO_DUE, dtype=np.int64)
    last = order_ptr[1:] - 1
    due[last] = rng.integers(n_slots // 4, n_slots - 20, size=n_orders)
    own = rng.random(n_steps) < 0.2
    due[own] = np.minimum(due[own], rng.integers(10, n_slots - 20, size=int(own.sum())))
    release = np.where(rng.random(n_steps) < 0.3, rng.integers(0, n_slots // 3, size=n_steps), 0)
    req_counts = rng.integers(1, 3, size=n_steps)
    req_ptr = np.r_[0, np.cumsum(req_counts)].astype(np.int64)
    n_req = int(req_ptr[-1])
    step_of_req = np.repeat(np.arange(n_steps), req_counts)
    req_off = np.zeros(n_req, dtype=np.int64)
    req_len = dur[step_of_req].copy()
    partial = rng.random(n_req) < 0.4
    req_len[partial] = np.maximum(1, req_len[partial] // 2)
    req_off[partial] = rng.integers(0, 2, size=int(partial.sum())) * (
        dur[step_of_req][partial] - req_len[partial]
    )
    cand_counts = rng.integers(1, 4, size=n_req)
    cand_ptr = np.r_[0, np.cumsum(cand_counts)].astype(np.int64)
    cand_res = np.concatenate(
        [rng.choice(n_res, size=int(c), replace=False) for c in cand_counts]
    ).astype(np.int64)
    return Problem(
        open_=open_,
        open_span=open_span,
        order_ptr=order_ptr,
        dur=dur,
        due=due,
        release=release.astype(np.int64),
        transfer=transfer,
        span=rng.random(n_steps) < 0.3,
        req_ptr=req_ptr,
        req_off=req_off,
        req_len=req_len,
        cand_ptr=cand_ptr,
        cand_res=cand_res,
        w_early=np.ones(n_steps),
        w_tardy=np.ones(n_steps),
    )
