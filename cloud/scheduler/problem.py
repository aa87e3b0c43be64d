"""Kernel data: the `Problem` arrays the scheduler plans on and the `Plan` it returns.

Slot 0 is "now"; everything is an index into resources, steps, requirements (a step's hold on a
group) and candidates (the group's members). Also the two plan-independent views of a problem:
the cost of start times (`step_costs`) and the ideal JIT plan (`ideal_starts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from cloud.scheduler._kernel import Kernel

__all__ = [
    "NO_DUE",
    "Plan",
    "Problem",
    "ideal_starts",
    "jit_sequence",
    "level_sequence",
    "step_costs",
]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: due slot of a step without a due date of its own
NO_DUE = np.int64(2**40)


@dataclass
class Problem:
    """Arrays the kernel plans on (indices are 0-based; slot 0 is now).

    Attributes:
        open_: (R, T) resource open for ordinary steps (calendar minus breaks, breakdowns).
        open_span: (R, T) resource open for steps allowed to span breaks.
        order_ptr: (O+1,) steps of order o are `order_ptr[o]:order_ptr[o+1]`, in routing order.
        dur: (S,) step duration in slots.
        due: (S,) latest end slot of each step (`NO_DUE` when it has none).
        release: (S,) earliest start slot (now, order release, materials ready).
        transfer: (S,) slots between the end of a step and the start of the next one.
        span: (S,) step may span breaks.
        req_ptr: (S+1,) requirements of step s are `req_ptr[s]:req_ptr[s+1]` (at least one).
        req_off: (Q,) start of the holding window relative to the step's start.
        req_len: (Q,) length of the holding window (slots, >= 1).
        cand_ptr: (Q+1,) candidates of requirement q are `cand_ptr[q]:cand_ptr[q+1]`.
        cand_res: (C,) candidate resources, in order of preference.
        w_early: (S,) earliness weight per slot.
        w_tardy: (S,) tardiness weight per slot.
    """

    open_: B
    open_span: B
    order_ptr: I64
    dur: I64
    due: I64
    release: I64
    transfer: I64
    span: B
    req_ptr: I64
    req_off: I64
    req_len: I64
    cand_ptr: I64
    cand_res: I64
    w_early: F64
    w_tardy: F64

    @property
    def n_res(self) -> int:
        """Number of individual resources."""
        return int(self.open_.shape[0])

    @property
    def n_slots(self) -> int:
        """Number of time slots in the horizon."""
        return int(self.open_.shape[1])

    @property
    def n_steps(self) -> int:
        """Number of steps of all orders."""
        return int(self.dur.shape[0])

    @property
    def n_orders(self) -> int:
        """Number of orders."""
        return int(self.order_ptr.shape[0] - 1)

    def step_order(self) -> I64:
        """The order of every step."""
        counts = np.diff(self.order_ptr)
        return np.repeat(np.arange(self.n_orders, dtype=np.int64), counts)


@dataclass
class Plan:
    """The kernel's result.

    Attributes:
        start: (S,) start slot per step, -1 where the step could not be placed.
        res: (Q,) resource chosen per requirement, -1 where unplaced.
        forward: (O,) order did not fit backward and was placed forward.
        unplaced: (O,) order (or part of it) could not be placed in the horizon.
        busy: (R, T) slots taken by the plan.
        state: the kernel's state, for an incremental `replan` (None once handed on).
    """

    start: I64
    res: I64
    forward: B
    unplaced: B
    busy: B = field(repr=False)
    state: Kernel | None = field(default=None, repr=False, compare=False)


def jit_sequence(p: Problem, priority: I64 | None = None) -> I64:
    """The order in which the backward rule places orders: highest earliness weight per slot first.

    The order placed first takes the latest slot before its due date; the ones after it are pushed
    earlier. Pushing an order one slot earlier costs its earliness weight, and it frees as many
    slots as the order is long, so the order with the highest earliness weight per slot of
    processing (the smallest p/a, as in the V-shape dominance rule for early jobs) goes first.
    Ties keep the input order. With `priority` (per order), higher priority goes first and the
    weights decide among equal priorities.
    """
    has = p.due < NO_DUE
    so = p.step_order()
    w = np.bincount(so, weights=np.where(has, p.w_early, 0.0), minlength=p.n_orders)
    dur = np.bincount(so, weights=p.dur.astype(np.float64), minlength=p.n_orders)
    ratio = w / np.maximum(dur, 1.0)
    if priority is None:
        return np.argsort(-ratio, kind="stable").astype(np.int64)
    return np.lexsort((np.arange(p.n_orders), -ratio, -np.asarray(priority))).astype(np.int64)


def level_sequence(p: Problem, sequence: I64) -> I64:
    """Steps in placement order: last steps of all orders (in `sequence`), then the level below."""
    counts = np.diff(p.order_ptr)[sequence]
    levels = int(counts.max(initial=0))
    ks = np.arange(levels, dtype=np.int64)
    last = p.order_ptr[sequence + 1] - 1
    steps = last[None, :] - ks[:, None]
    valid = ks[:, None] < counts[None, :]
    return steps[valid]


def step_costs(p: Problem, start: I64) -> tuple[F64, F64]:
    """Weighted earliness and tardiness of every step with a due slot (0 elsewhere)."""
    end = start + p.dur
    has = (p.due < NO_DUE) & (start >= 0)
    early = np.where(has, np.maximum(p.due - end, 0), 0) * p.w_early
    tardy = np.where(has, np.maximum(end - p.due, 0), 0) * p.w_tardy
    return early.astype(np.float64), tardy.astype(np.float64)


def ideal_starts(p: Problem) -> I64:
    """The ideal JIT plan: every step right-aligned as if capacity were unlimited.

    Each order's last step ends at its due slot, each earlier step at the earlier of its own due
    slot and its successor's start minus the transfer time. Calendars and releases are ignored:
    this is the plan the resource requirement by time is computed from.
    """
    counts = np.diff(p.order_ptr)
    start = np.zeros(p.n_steps, dtype=np.int64)
    last = p.order_ptr[1:] - 1
    due_last = np.where(p.due[last] < NO_DUE, p.due[last], p.n_slots)
    start[last] = due_last - p.dur[last]
    for k in range(1, int(counts.max(initial=0))):
        o = np.flatnonzero(counts > k)
        s = last[o] - k
        end = np.minimum(p.due[s], start[s + 1] - p.transfer[s])
        start[s] = end - p.dur[s]
    return start
