"""Single-resource improvement: iterated local search over one resource's sequence, timed exactly.

Where every order is one step holding one resource (the textbook single-machine JIT problem,
and any plant that decomposes that way), the sequence on each resource is all there is to
decide: the best start times of a fixed sequence follow exactly from optimal idle-time insertion
(`timing.sequence_timing`). This module searches sequences: insertion of a job at any position
up to `reach` away, interchanges up to the same distance and moves of blocks of two and three
jobs, each job's whole neighbourhood scored in one numpy batch; best move per job, jobs in a
seeded order; at a local optimum a perturbation (a few random insertions and one segment
reversal applied to the best sequence, not a restart), accepted when no worse.

Scoring: with one common due date, equal releases and a free horizon (the common-due-date
problem), no idle time between jobs is ever optimal and the best block start is a weighted
median, so a batch of W candidate sequences is scored exactly in O(W n) numpy work. Otherwise
every candidate is timed by `sequence_timing` (exact, slower). The initial sequence is the best
of the plan's own order, a V-shape around the due date (jobs by tardiness/earliness weight ratio
early while they fit, early side in non-increasing p/a, tardy side in non-decreasing p/b) and
due-date order.

Budgets: `max_iters` counts neighbourhood batches (one job's candidates) and perturbations;
it is the stop meant to bind. `time_s` is a safety cap checked after every batch, so it is
overrun by at most one batch (milliseconds); when it cuts the search the result says so.
No I/O, no kernel state: the caller turns start times into a plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.problem import F64, I64, NO_DUE, Problem
from cloud.scheduler.timing import sequence_timing

__all__ = ["SingleResult", "decomposes", "improve_single", "search_sequence"]

#: farthest an insertion or interchange moves a job (positions)
REACH = 160
#: every position this close is tried (insertions, interchanges, block moves)
LOCAL = 6
#: farther out, every (reach / _STRIDES)-th position first, then around the best of those
_STRIDES = 12


@dataclass
class SingleResult:
    """Outcome of `improve_single` (start times for every step of the problem)."""

    start: I64
    cost: float
    iterations: int
    stopped_by: str


def decomposes(p: Problem) -> bool:
    """True when every order is one step holding exactly one fixed resource open all the time."""
    if p.n_steps == 0:
        return False
    one = (
        (np.diff(p.order_ptr) == 1).all()
        and (np.diff(p.req_ptr) == 1).all()
        and (np.diff(p.cand_ptr) == 1).all()
    )
    if not one or (p.req_off != 0).any() or (p.req_len != p.dur).any():
        return False
    used = np.unique(p.cand_res)
    return bool(p.open_[used].all() and p.open_span[used].all())


class _Jobs:
    """One resource's jobs and an exact scorer for batches of their sequences."""

    def __init__(self, dur: I64, due: I64, a: F64, b: F64, lo: I64, hi: I64) -> None:
        self.dur, self.due, self.lo, self.hi = dur, due, lo, hi
        has = due < NO_DUE
        self.a = np.where(has, a, 0.0)
        self.b = np.where(has, b, 0.0)
        self.n = int(dur.shape[0])
        total = int(dur.sum())
        # the common-due-date case: one due date, one release, the horizon never in the way
        self.common = bool(
            self.n > 0
            and has.all()
            and (due == due[0]).all()
            and (lo == lo[0]).all()
            and int((hi + dur).min()) >= max(int(due[0]), int(lo[0])) + total
        )
        self._base: I64 | None = None
        self._pre: tuple[F64, F64, I64, F64, F64, F64, F64] | None = None
        self.d = int(due[0]) if self.n else 0
        self.low = int(lo[0]) if self.n else 0

    def costs(self, seqs: I64, base: I64 | None = None, lo: int = 0, hi: int = -1) -> F64:
        """Exact best cost of every row of `seqs` (inf where no timing fits).

        With `base`: every row equals `base` outside positions lo .. hi-1, and in the
        common-due-date case only that window is scored (`_window_costs`).
        """
        if self.common:
            if base is not None and hi - lo < self.n // 2:
                return self._window_costs(seqs[:, lo:hi], base, lo, hi)
            return self._common_costs(seqs)
        out = np.empty(seqs.shape[0], dtype=np.float64)
        for i, row in enumerate(seqs):
            out[i] = self.cost_of(row)[0]
        return out

    def _common_costs(self, seqs: I64) -> F64:
        p, a, b = self.dur[seqs], self.a[seqs], self.b[seqs]
        comp = np.cumsum(p, axis=1)
        # job k ends at d (the weighted median): the last k whose tardiness weight from k on
        # covers the earliness weight before it, i.e. sum of a + b before k <= sum of all b
        w = a + b
        before = np.cumsum(w, axis=1) - w
        k = (before <= b.sum(axis=1, keepdims=True)).sum(axis=1) - 1
        t = np.maximum(self.d - comp[np.arange(seqs.shape[0]), k], self.low)
        late = comp - (self.d - t)[:, None]
        cost = np.where(late < 0, -a * late, b * late)
        out: F64 = cost.sum(axis=1)
        return out

    def _window_costs(self, win: I64, base: I64, lo: int, hi: int) -> F64:
        """`_common_costs` of rows that differ from `base` only in positions lo .. hi-1.

        The window holds the same jobs in every row, so the jobs before and after it keep
        their completion offsets (relative to the block's start) and their share of the
        weighted-median count: per row only the window is summed, in O(hi - lo); the jobs
        outside cost a closed form in the block's shift (prefix sums over their offsets,
        which increase along the sequence), found by one binary search per row.
        """
        # the same base for all of one job's batches (a move makes a new array, never in place)
        if self._pre is None or self._base is not base:
            self._base, self._pre = base, self._prefix_sums(base)
        comp, before, n_fits, ca, cac, cb, cbc = self._pre
        b_all = float(cb[-1])
        # the median job: last k with (sum of a + b before k) <= sum of all b; outside the
        # window "before" is the same in every row, inside it is the row's own
        n_out = int(n_fits[lo] + n_fits[-1] - n_fits[hi])
        pw, aw, bw = self.dur[win], self.a[win], self.b[win]
        pre = float(comp[lo - 1]) if lo > 0 else 0.0
        comp_w = pre + np.cumsum(pw, axis=1)
        ww = aw + bw
        before_w = float(before[lo]) + np.cumsum(ww, axis=1) - ww
        k = n_out + (before_w <= b_all).sum(axis=1) - 1
        rows = np.arange(win.shape[0])
        inside = (k >= lo) & (k < hi)
        comp_k = np.where(inside, comp_w[rows, np.clip(k - lo, 0, hi - lo - 1)], comp[k])
        # shift: jobs end at start + offset; the block starts at max(d - comp_k, low)
        shift = self.d - np.maximum(self.d - comp_k, self.low)
        late = comp_w - shift[:, None]
        win_cost = np.where(late < 0, -aw * late, bw * late).sum(axis=1)
        # jobs outside ending before the shift: the first j of the prefix, and of the suffix
        # those before position j (offsets increase along the whole sequence)
        j = np.searchsorted(comp, shift)
        e1, e2 = np.minimum(j, lo), np.maximum(j, hi)
        early = shift * (ca[e1] + ca[e2] - ca[hi]) - (cac[e1] + cac[e2] - cac[hi])
        tardy = (cbc[lo] - cbc[e1] + cbc[-1] - cbc[e2]) - shift * (
            cb[lo] - cb[e1] + cb[-1] - cb[e2]
        )
        out: F64 = win_cost + early + tardy
        return out

    def _prefix_sums(self, base: I64) -> tuple[F64, F64, I64, F64, F64, F64, F64]:
        """Offsets, median sums and prefix sums (0 first) of one sequence, for `_window_costs`."""
        p, a, b = self.dur[base], self.a[base], self.b[base]
        comp = np.cumsum(p).astype(np.float64)
        w = a + b
        before = np.cumsum(w) - w
        fits = np.concatenate([[0], np.cumsum(before <= b.sum())]).astype(np.int64)

        def acc(x: F64) -> F64:
            return np.concatenate([[0.0], np.cumsum(x)])

        return comp, before, fits, acc(a), acc(a * comp), acc(b), acc(b * comp)

    def cost_of(self, seq: I64) -> tuple[float, I64 | None]:
        """Exact cost and start times (in sequence order) of one sequence."""
        s = sequence_timing(
            self.dur[seq], self.due[seq], self.a[seq], self.b[seq], self.lo[seq], self.hi[seq]
        )
        if s is None:
            return float("inf"), None
        end = s + self.dur[seq]
        d = self.due[seq]
        cost = self.a[seq] * np.maximum(d - end, 0) + self.b[seq] * np.maximum(end - d, 0)
        return float(cost.sum()), s


def _insertions(seq: I64, i: int, js: I64) -> I64:
    """Rows: `seq` with the job at position i moved to each position in `js`."""
    n = seq.shape[0]
    k = np.arange(n)[None, :]
    j = js[:, None]
    idx = k + ((k >= i) & (k < j)) - ((k > j) & (k <= i))
    idx = np.where(k == j, i, idx)
    out: I64 = seq[idx]
    return out


def _swaps(seq: I64, i: int, js: I64) -> I64:
    """Rows: `seq` with positions i and each of `js` interchanged."""
    rows = np.repeat(seq[None, :], js.shape[0], axis=0)
    r = np.arange(js.shape[0])
    rows[r, js] = seq[i]
    rows[r, i] = seq[js]
    return rows


def _block_moves(seq: I64, i: int, length: int, js: I64) -> I64:
    """Rows: the block of `length` jobs from position i moved to start at each of `js`."""
    block = seq[i : i + length]
    rest = np.delete(seq, np.arange(i, i + length))
    rows = np.empty((js.shape[0], seq.shape[0]), dtype=seq.dtype)
    for r, j in enumerate(js.tolist()):
        rows[r] = np.concatenate([rest[:j], block, rest[j:]])
    return rows


def _window(i: int, lo: int, hi: int, n: int) -> I64:
    """Positions i+lo .. i+hi inside 0..n-1, without i."""
    js = np.arange(max(0, i + lo), min(n - 1, i + hi) + 1)
    out: I64 = js[js != i]
    return out


def _best_move(jobs: _Jobs, seq: I64, i: int, reach: int) -> tuple[I64, float]:
    """The best sequence in the neighbourhood of the job at position i, and its cost.

    Candidate lists in two stages: first every position within `LOCAL` (insertions,
    interchanges, block moves of 2 and 3 jobs) and every `stride`-th position up to `reach`
    away (insertions, interchanges); then every position around the best far insertion and
    interchange. About 6 * LOCAL + 4 * reach / stride + 4 * stride rows instead of 4 * reach.
    """
    n = seq.shape[0]
    stride = max(1, reach // _STRIDES)
    near = _window(i, -LOCAL, LOCAL, n)
    far = _window(i, -reach, reach, n)
    far = far[np.abs(far - i) > LOCAL]
    if far.shape[0] > 2 * _STRIDES:
        far = far[(far - i) % stride == 0]
    else:
        stride = 1  # few enough to try them all

    def span(js: I64, length: int = 1) -> tuple[int, int]:
        return min(i, int(js.min())), max(i, int(js.max())) + length

    parts: list[tuple[I64, int, int]] = []
    if near.shape[0]:
        lo, hi = span(near)
        parts += [(_insertions(seq, i, near), lo, hi), (_swaps(seq, i, near), lo, hi)]
    for length in (2, 3):
        jb = _window(i, -LOCAL // 2, LOCAL // 2, n - length + 1)
        if i + length <= n and jb.shape[0]:
            parts.append((_block_moves(seq, i, length, jb), *span(jb, length)))
    k_far = far.shape[0]
    if k_far:
        lo, hi = span(far)
        parts += [(_insertions(seq, i, far), lo, hi), (_swaps(seq, i, far), lo, hi)]
    scored: dict[int, F64] = {}
    if k_far:
        ins = scored[len(parts) - 2] = jobs.costs(parts[-2][0], seq, parts[-2][1], parts[-2][2])
        swp = scored[len(parts) - 1] = jobs.costs(parts[-1][0], seq, parts[-1][1], parts[-1][2])
        j_ins, j_swp = int(far[int(np.argmin(ins))]), int(far[int(np.argmin(swp))])
        fine_ins = _window(i, j_ins - i - stride + 1, j_ins - i + stride - 1, n)
        fine_swp = _window(i, j_swp - i - stride + 1, j_swp - i + stride - 1, n)
        if fine_ins.shape[0]:
            parts.append((_insertions(seq, i, fine_ins), *span(fine_ins)))
        if fine_swp.shape[0]:
            parts.append((_swaps(seq, i, fine_swp), *span(fine_swp)))
    best_row, best_cost = seq, float("inf")
    for x, (rows, lo, hi) in enumerate(parts):
        costs = scored[x] if x in scored else jobs.costs(rows, seq, lo, hi)
        k = int(np.argmin(costs))
        if costs[k] < best_cost:
            best_row, best_cost = rows[k], float(costs[k])
    return best_row, best_cost


def _initial(jobs: _Jobs, own: I64) -> I64:
    """The best of the plan's own order, a V-shape around the first due date and due order."""
    n = jobs.n
    cands = [own, np.lexsort((np.arange(n), jobs.due)).astype(np.int64)]
    if n:
        d = int(np.median(jobs.due[jobs.due < NO_DUE])) if (jobs.due < NO_DUE).any() else 0
        a = np.maximum(jobs.a, 1e-9)
        b = np.maximum(jobs.b, 1e-9)
        early = np.zeros(n, dtype=np.bool_)
        room = d - int(jobs.lo.min())
        for j in np.argsort(-(b / a), kind="stable").tolist():
            if jobs.dur[j] <= room:
                early[j] = True
                room -= int(jobs.dur[j])
        e = np.flatnonzero(early)
        t = np.flatnonzero(~early)
        e = e[np.lexsort((e, -(jobs.dur[e] / a[e])))]
        t = t[np.lexsort((t, jobs.dur[t] / b[t]))]
        cands.append(np.concatenate([e, t]).astype(np.int64))
    costs = jobs.costs(np.stack(cands))
    return cands[int(np.argmin(costs))]


def search_sequence(
    jobs: _Jobs,
    own: I64,
    *,
    seed: int,
    max_iters: int,
    deadline: float,
    reach: int = REACH,
) -> tuple[I64, float, int, str]:
    """Iterated local search from the best initial sequence; (sequence, cost, iters, stop)."""
    rng = np.random.default_rng(seed)
    n = jobs.n
    cur = _initial(jobs, own)
    cur_cost = float(jobs.costs(cur[None, :])[0])
    best, best_cost = cur.copy(), cur_cost
    iters = 0
    stopped = "done"
    if n < 2:
        return best, best_cost, iters, stopped
    # don't-look bits: a job whose neighbourhood held nothing better is skipped until a move
    # or a perturbation changes the positions around it
    look = np.ones(n, dtype=np.bool_)
    while True:
        improved = False
        for job in rng.permutation(n).tolist():
            if not look[job]:
                continue
            if iters >= max_iters:
                return best, best_cost, iters, "iterations"
            if time.perf_counter() > deadline:
                return best, best_cost, iters, "time"
            i = int(np.flatnonzero(cur == job)[0])
            row, cost = _best_move(jobs, cur, i, reach)
            iters += 1
            look[job] = False
            if cost < cur_cost - 1e-9:
                _wake(look, cur, row)
                cur, cur_cost = row.copy(), cost
                improved = True
        if cur_cost < best_cost - 1e-9:
            best, best_cost = cur.copy(), cur_cost
        if improved:
            continue
        # a local optimum: perturb the best (a few random insertions, one short reversal)
        if cur_cost > best_cost + 1e-9:
            cur, cur_cost = best.copy(), best_cost
        nxt = best.copy()
        for _ in range(int(rng.integers(2, 5))):
            i, j = (int(x) for x in rng.integers(0, n, size=2))
            nxt = _insertions(nxt, i, np.array([j]))[0]
        i = int(rng.integers(0, n - 1))
        j = min(n, i + int(rng.integers(2, 6)))
        nxt[i:j] = nxt[i:j][::-1].copy()
        iters += 1
        _wake(look, cur, nxt)
        cur, cur_cost = nxt, float(jobs.costs(nxt[None, :])[0])
        if iters >= max_iters:
            return best, best_cost, iters, "iterations"


def _wake(look: NDArray[np.bool_], old: I64, new: I64) -> None:
    """Clears the don't-look bit of every job in or next to positions where the sequences differ."""
    moved = np.flatnonzero(old != new)
    if moved.shape[0] == 0:
        return
    lo, hi = max(0, int(moved[0]) - 1), min(old.shape[0], int(moved[-1]) + 2)
    look[new[lo:hi]] = True


def improve_single(
    p: Problem, start: I64, res: I64, *, seed: int, max_iters: int, time_s: float
) -> SingleResult | None:
    """Improves a plan of a decomposing problem (`decomposes`) resource by resource.

    Args:
        p: the problem.
        start: (S,) the plan's start slots (every step placed).
        res: (Q,) the plan's resources (one requirement per step).
        seed: seed of the job order and the perturbations.
        max_iters: batches over all resources, shared out by their number of jobs.
        time_s: wall-clock cap for the whole call.

    Returns:
        Start times, their cost, the iterations used and what stopped the search; None when
        some resource's sequence cannot be timed inside the bounds.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_s
    out = start.copy()
    total = 0.0
    iters = 0
    stops: list[str] = []
    hi = (p.n_slots - p.dur).astype(np.int64)
    n = p.n_steps
    for r in np.unique(res).tolist():
        steps = np.flatnonzero(res == r).astype(np.int64)
        jobs = _Jobs(p.dur[steps], p.due[steps], p.w_early[steps], p.w_tardy[steps],
                     p.release[steps], hi[steps])  # fmt: skip
        own = np.argsort(start[steps], kind="stable").astype(np.int64)
        share = max(1, round(max_iters * steps.shape[0] / n))
        seq, _, used, stop = search_sequence(
            jobs, own, seed=seed + r, max_iters=share, deadline=deadline
        )
        iters += used
        stops.append(stop)
        cost, s = jobs.cost_of(seq)
        if s is None:
            return None
        out[steps[seq]] = s
        total += cost
    if "time" in stops:
        stopped = "time"
    elif "iterations" in stops:
        stopped = "iterations"
    else:
        stopped = "done"
    return SingleResult(out, total, iters, stopped)
