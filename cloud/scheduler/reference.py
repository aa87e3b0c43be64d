"""The backward construction's placement rule in plain Python, for calibration and tests.

The same rule as `backward.plan_backward` (see there), written the way a careful Python
programmer would: free intervals per resource in sorted lists searched with `bisect`, jumping from
one obstacle to the next instead of scanning slots. The plant-scale benchmark runs it beside the
numpy kernel and checks that both produce the same construction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

from cloud.scheduler.problem import NO_DUE, Plan, Problem, jit_sequence, level_sequence

__all__ = ["plan_reference"]

_Free = tuple[list[int], list[int]]


def _runs(row: np.ndarray) -> _Free:
    """Maximal runs of True in a boolean row as (starts, ends)."""
    padded = np.concatenate(([False], row, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()


class _Ref:
    def __init__(self, p: Problem) -> None:
        self.p = p
        r = p.n_res
        self.cal = [
            [_runs(p.open_[i]) for i in range(r)],
            [_runs(p.open_span[i]) for i in range(r)],
        ]
        self.free = [[(a[:], b[:]) for a, b in mode] for mode in self.cal]
        self.req_ptr = p.req_ptr.tolist()
        self.off = p.req_off.tolist()
        self.len = p.req_len.tolist()
        cp = p.cand_ptr.tolist()
        cr = p.cand_res.tolist()
        self.cands = [cr[cp[q] : cp[q + 1]] for q in range(len(cp) - 1)]
        self.span = p.span.tolist()
        self.start = [-1] * p.n_steps
        self.res = [-1] * len(self.off)

    def _fits(self, mode: int, r: int, a: int, b: int) -> bool:
        starts, ends = self.free[mode][r]
        i = bisect_right(starts, a) - 1
        return i >= 0 and ends[i] >= b

    def _latest(self, mode: int, r: int, a: int, length: int) -> int:
        """Latest window start <= a on resource r that fits (or -1)."""
        starts, ends = self.free[mode][r]
        i = bisect_right(starts, a) - 1
        while i >= 0:
            cand = min(a, ends[i] - length)
            if cand >= starts[i]:
                return cand
            i -= 1
        return -(2**62)

    def _earliest(self, mode: int, r: int, a: int, length: int) -> int:
        """Earliest window start >= a on resource r that fits (or a huge value)."""
        starts, ends = self.free[mode][r]
        i = max(bisect_right(starts, a) - 1, 0)
        while i < len(starts):
            cand = max(a, starts[i])
            if cand + length <= ends[i]:
                return cand
            i += 1
        return 2**62

    def _assign(self, s: int, t: int) -> list[int] | None:
        mode = 1 if self.span[s] else 0
        taken: list[int] = []
        for q in range(self.req_ptr[s], self.req_ptr[s + 1]):
            a = t + self.off[q]
            b = a + self.len[q]
            pick = next(
                (r for r in self.cands[q] if r not in taken and self._fits(mode, r, a, b)), None
            )
            if pick is None:
                return None
            taken.append(pick)
        return taken

    def place(self, s: int, lo: int, hi: int, forward: bool) -> bool:
        mode = 1 if self.span[s] else 0
        qs = range(self.req_ptr[s], self.req_ptr[s + 1])
        t = lo if forward else hi
        while lo <= t <= hi:
            if forward:
                nt = max(
                    min(
                        self._earliest(mode, r, t + self.off[q], self.len[q]) for r in self.cands[q]
                    )
                    - self.off[q]
                    for q in qs
                )
            else:
                nt = min(
                    max(self._latest(mode, r, t + self.off[q], self.len[q]) for r in self.cands[q])
                    - self.off[q]
                    for q in qs
                )
            if nt != t:
                t = nt
                continue
            picks = self._assign(s, t)
            if picks is not None:
                self._occupy(s, t, picks)
                return True
            t = t + 1 if forward else t - 1
        return False

    def _occupy(self, s: int, t: int, picks: list[int]) -> None:
        self.start[s] = t
        for q, r in zip(range(self.req_ptr[s], self.req_ptr[s + 1]), picks, strict=True):
            self.res[q] = r
            a = t + self.off[q]
            b = a + self.len[q]
            for mode in (0, 1):
                self._cut(mode, r, a, b)

    def _cut(self, mode: int, r: int, a: int, b: int) -> None:
        starts, ends = self.free[mode][r]
        i0 = bisect_right(starts, a) - 1
        if i0 < 0 or ends[i0] <= a:
            i0 += 1
        i1 = bisect_left(starts, b)
        if i1 <= i0:
            return
        pieces = [(x, y) for x, y in ((starts[i0], a), (b, ends[i1 - 1])) if y > x]
        starts[i0:i1] = [x for x, _ in pieces]
        ends[i0:i1] = [y for _, y in pieces]

    def release_order(self, o: int) -> None:
        p = self.p
        for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
            if self.start[s] < 0:
                continue
            for q in range(self.req_ptr[s], self.req_ptr[s + 1]):
                r = self.res[q]
                a = self.start[s] + self.off[q]
                b = a + self.len[q]
                for mode in (0, 1):
                    self._give_back(mode, r, a, b)
                self.res[q] = -1
            self.start[s] = -1

    def _give_back(self, mode: int, r: int, a: int, b: int) -> None:
        cs, ce = self.cal[mode][r]
        pieces = [(max(a, x), min(b, y)) for x, y in zip(cs, ce, strict=True) if x < b and y > a]
        starts, ends = self.free[mode][r]
        merged = sorted([*zip(starts, ends, strict=True), *pieces])
        out_s: list[int] = []
        out_e: list[int] = []
        for x, y in merged:
            if out_e and x <= out_e[-1]:
                out_e[-1] = max(out_e[-1], y)
            else:
                out_s.append(x)
                out_e.append(y)
        self.free[mode][r] = (out_s, out_e)


def plan_reference(p: Problem, sequence: np.ndarray | None = None) -> Plan:
    """Builds the same plan as `plan_backward`, in plain Python with bisect."""
    if sequence is None:
        sequence = jit_sequence(p)
    ref = _Ref(p)
    order_ptr = p.order_ptr.tolist()
    step_order = p.step_order().tolist()
    dur = p.dur.tolist()
    due = p.due.tolist()
    rel = p.release.tolist()
    tr = p.transfer.tolist()
    n_slots = p.n_slots
    is_last = set((p.order_ptr[1:] - 1).tolist())
    done = [False] * p.n_orders
    forward = [False] * p.n_orders
    unplaced = [False] * p.n_orders
    for s in level_sequence(p, np.asarray(sequence, dtype=np.int64)).tolist():
        o = step_order[s]
        if done[o]:
            continue
        succ = int(NO_DUE) if s in is_last else ref.start[s + 1]
        hi = min(min(due[s], succ - tr[s]) - dur[s], n_slots - 1)
        lo = rel[s]
        if hi >= lo and ref.place(s, lo, hi, False):
            continue
        ref.release_order(o)
        done[o] = forward[o] = True
        prev_end = -(2**40)
        for t in range(order_ptr[o], order_ptr[o + 1]):
            lo_t = max(rel[t], prev_end)
            if lo_t > n_slots - dur[t] or not ref.place(t, lo_t, n_slots - dur[t], True):
                unplaced[o] = True
                break
            prev_end = ref.start[t] + dur[t] + tr[t]
    return Plan(
        start=np.array(ref.start, dtype=np.int64),
        res=np.array(ref.res, dtype=np.int64),
        forward=np.array(forward, dtype=np.bool_),
        unplaced=np.array(unplaced, dtype=np.bool_),
        busy=np.zeros((0, 0), dtype=np.bool_),
    )
