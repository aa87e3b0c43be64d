"""The construction's state: blocked slots and free runs per resource, batched search.

`Kernel` holds, per resource and mode (ordinary steps / steps that may span breaks), which slots
are blocked and the free-run lengths around every slot, and answers "where can these steps go"
for a whole batch with a few gathers. `backward` drives it; nothing here loops over slots.

Free runs take one byte a slot when every holding window is shorter than 255 slots, and the
rows for steps that may span breaks are kept up to date only when some step may. The calendar
bound is computed once per distinct calendar among a requirement's candidates; the search
reads each candidate's window as a contiguous slice, the slots just below a missed step's
latest start first (`latest`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.problem import I64, B, Problem

__all__ = ["Kernel", "ranges"]

_SAT = 32767
#: slots just below a missed step's latest start searched first (about three in four misses
#: of the benchmark plant fit within 64 slots; the rest search their whole window after)
_NEAR = 64


def _runs_of(free: B, sat: int) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Free-run lengths per row: starting at each slot, and ending at each slot (saturated)."""
    t = np.arange(free.shape[1], dtype=np.int32)[None, :]
    big = np.int32(free.shape[1])
    nxt = np.minimum.accumulate(np.where(free, big, t)[:, ::-1], axis=1)[:, ::-1]
    last = np.maximum.accumulate(np.where(free, -1, t), axis=1)
    frun = np.minimum(nxt - t, sat).astype(np.int16)
    brun = np.minimum(t - last, sat).astype(np.int16)
    return frun, brun


def _starts_of(key: I64) -> I64:
    """Indices where a new run of equal consecutive values begins."""
    if key.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.empty(key.shape[0], dtype=np.bool_)
    change[0] = True
    np.not_equal(key[1:], key[:-1], out=change[1:])
    return np.flatnonzero(change)


def ranges(starts: I64, counts: I64) -> I64:
    """Concatenation of `arange(starts[i], starts[i] + counts[i])` for every i."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total, dtype=np.int64)


class Kernel:
    """State of one construction: blocked slots and the placements so far."""

    def __init__(self, p: Problem, window: int) -> None:
        self.p = p
        self.window = window
        r, t = p.open_.shape
        self.n_res = r
        q = p.req_off.shape[0]
        # Flattened candidates ("rows"): one per (requirement, candidate resource).
        self.row_req = np.repeat(np.arange(q, dtype=np.int64), np.diff(p.cand_ptr))
        self.row_res = p.cand_res.astype(np.int64)
        self.step_rows_ptr = p.cand_ptr[p.req_ptr]
        self.max_hold = int((p.req_off + p.req_len).max(initial=1))
        pad = window + self.max_hold + int(p.req_len.max(initial=1)) + 1
        # Rows 0..R-1: blocked for ordinary steps; rows R..2R-1: blocked for steps spanning breaks.
        # the rows for steps spanning breaks are kept up to date only when some step spans
        self.modes = 2 if bool(p.span.any()) else 1
        blk = np.ones((2 * r, t + pad), dtype=np.bool_)
        blk[:r, :t] = ~p.open_
        blk[r:, :t] = ~p.open_span
        self.blk = blk
        self.width = t + pad
        self._calendar_index(~blk)
        self._requirement_calendars()
        self._windows: dict[int, NDArray[np.generic]] = {}
        # free runs: frun[r, t] free slots starting at t, brun[r, t] free slots ending at t
        # (saturated just above the longest holding window: feasibility stays exact and an
        # update never has to look further than that)
        self.sat = min(int(p.req_len.max(initial=1)) + 1, _SAT)
        cal = ~blk[np.unique(self.cal_of_row, return_index=True)[1]]
        frun_c, brun_c = _runs_of(cal, self.sat)
        # one byte a slot when every holding window is shorter than 255 slots
        dtype = np.uint8 if self.sat <= 255 else np.int16
        self.frun = frun_c.astype(dtype)[self.cal_of_row]
        self.brun = brun_c.astype(dtype)[self.cal_of_row]
        self.start = np.full(p.n_steps, -1, dtype=np.int64)
        self.res = np.full(q, -1, dtype=np.int64)

    def __getstate__(self) -> dict[str, object]:
        """A copy (`copy.deepcopy` of a planning state) makes its window views afresh."""
        state = self.__dict__.copy()
        state["_windows"] = {}
        return state

    def _calendar_index(self, open_rows: B) -> None:
        """Per distinct calendar row: last open slot and last closed slot at or before t."""
        packed = np.packbits(open_rows, axis=1)
        ids: dict[bytes, int] = {}
        self.cal_of_row = np.array(
            [ids.setdefault(row.tobytes(), len(ids)) for row in packed], dtype=np.int64
        )
        first = np.unique(self.cal_of_row, return_index=True)[1]
        cal = open_rows[first]
        t = np.arange(cal.shape[1], dtype=np.int32)[None, :]
        self.last_open = np.maximum.accumulate(np.where(cal, t, -1), axis=1).astype(np.int32)
        self.last_closed = np.maximum.accumulate(np.where(cal, -1, t), axis=1).astype(np.int32)

    def _requirement_calendars(self) -> None:
        """Per requirement and mode, the distinct calendars among its candidates.

        The calendar bound of a requirement is the latest over its candidates, and it depends
        on a candidate only through its calendar: most groups share one, so the bound is
        computed once per distinct calendar instead of once per candidate.
        """
        q = self.p.req_off.shape[0]
        first = self.p.cand_ptr[:-1]
        self.qcal_ptr: list[I64] = []
        self.qcal: list[I64] = []
        for mode in range(self.modes):
            c = self.cal_of_row[self.row_res + mode * self.n_res]
            lo = np.minimum.reduceat(c, first)
            mixed = np.flatnonzero(lo != np.maximum.reduceat(c, first))
            counts = np.ones(q, dtype=np.int64)
            cals = [lo]
            if mixed.shape[0]:  # the few requirements whose candidates differ in calendar
                rows = ranges(first[mixed], np.diff(self.p.cand_ptr)[mixed])
                order = np.lexsort((c[rows], self.row_req[rows]))
                key_q, key_c = self.row_req[rows][order], c[rows][order]
                keep = np.ones(order.shape[0], dtype=np.bool_)
                keep[1:] = (key_q[1:] != key_q[:-1]) | (key_c[1:] != key_c[:-1])
                counts[mixed] = np.bincount(key_q[keep], minlength=q)[mixed]
                at = np.repeat(np.arange(q, dtype=np.int64), counts)
                merged = np.repeat(lo, counts)
                merged[np.isin(at, mixed)] = key_c[keep]
                cals = [merged]
            self.qcal.append(cals[0])
            self.qcal_ptr.append(np.concatenate(([0], np.cumsum(counts))))

    def calendar_bound(self, steps: I64, hi: I64) -> I64:
        """Latest start <= hi not ruled out by the calendars alone (skips nights, weekends).

        Only starts that would put a holding window over a closed slot are skipped, so the
        search result is the same as without the bound, only cheaper. Computed once per
        distinct calendar among a requirement's candidates (`_requirement_calendars`).
        """
        p = self.p
        nq = p.req_ptr[steps + 1] - p.req_ptr[steps]
        reqs = ranges(p.req_ptr[steps], nq)
        req_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), nq)
        span = p.span[steps][req_step]
        best = np.empty(reqs.shape[0], dtype=np.int64)
        for mode in range(self.modes):
            sel = np.flatnonzero(span == bool(mode))
            if sel.shape[0] == 0:
                continue
            ptr = self.qcal_ptr[mode]
            q = reqs[sel]
            counts = ptr[q + 1] - ptr[q]
            cal = self.qcal[mode][ranges(ptr[q], counts)]
            row_q = np.repeat(sel, counts)
            off = p.req_off[reqs[row_q]]
            length = p.req_len[reqs[row_q]]
            x = np.maximum(hi[req_step[row_q]] + off + length - 1, 0)
            y = self.last_open[cal, x].astype(np.int64)
            run0 = self.last_closed[cal, np.maximum(y, 0)].astype(np.int64) + 1
            short = y - run0 + 1 < length
            y2 = self.last_open[cal, np.maximum(run0 - 1, 0)].astype(np.int64)
            y2 = np.where(run0 - 1 < 0, -1, y2)
            end = np.where(short, y2, y)
            bound = np.where(end < 0, -(2**40), end - length + 1 - off)
            best[sel] = np.maximum.reduceat(bound, _starts_of(row_q))
        return np.minimum(hi, np.minimum.reduceat(best, _starts_of(req_step)))

    # -- search ------------------------------------------------------------------------------

    def search(self, steps: I64, t0: I64, width: I64) -> tuple[B, I64, I64, B]:
        """Evaluates every start in `[t0, t0 + width)` for each step, all at once.

        Each candidate's window is gathered as one contiguous slice of its free runs.

        Returns:
            (ok (B, W), rows (K,), row_step (K,), okc (K, W)) where ok[i, w] says step i can
            start at t0[i] + w ignoring distinctness, and okc says which candidate fits there.
        """
        p = self.p
        w = int(width.max())
        rows, row_step, req, rr = self._rows_of(steps)
        length = p.req_len[req]
        base = t0[row_step] + p.req_off[req]
        if int(base.max(initial=0)) + w > self.width:
            return self._search_flat(steps, t0, width)
        windows = self._windows.get(w)
        if windows is None:  # a view of `frun`, made once per window width
            windows = self._windows[w] = np.lib.stride_tricks.sliding_window_view(
                self.frun, w, axis=1
            )
        okc = windows[rr, base] >= length.astype(self.frun.dtype)[:, None]
        if int(width.min()) < w:
            okc &= np.arange(w, dtype=np.int64)[None, :] < width[row_step][:, None]
        q_first = _starts_of(req)
        okq = np.logical_or.reduceat(okc, q_first, axis=0)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        ok = np.logical_and.reduceat(okq, s_first, axis=0)
        return ok, rows, row_step, okc

    def latest(self, steps: I64, t0: I64, width: I64) -> tuple[B, I64]:
        """Latest start in `[t0, t0 + width)` where each step fits: (found, start).

        The slots just below the top are searched first (`_NEAR` of them: most misses fit
        there); only the steps without a fit there search the rest of their window. The
        result is the latest fitting start of the whole window either way.
        """
        near = np.minimum(width, _NEAR)
        top = t0 + width - near
        ok, _, _, _ = self.search(steps, top, near)
        found = np.asarray(ok.any(axis=1), dtype=np.bool_)
        start = top + ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
        rest = np.flatnonzero(~found & (width > near))
        if rest.shape[0]:
            ok, _, _, _ = self.search(steps[rest], t0[rest], width[rest] - near[rest])
            hit = np.asarray(ok.any(axis=1), dtype=np.bool_)
            start[rest] = t0[rest] + ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
            found[rest] = hit
        return found, start

    def _search_flat(self, steps: I64, t0: I64, width: I64) -> tuple[B, I64, I64, B]:
        """`search` with one flat gather (a window reaching past the padding).

        Returns:
            (ok (B, W), rows (K,), row_step (K,), okc (K, W)) where ok[i, w] says step i can
            start at t0[i] + w ignoring distinctness, and okc says which candidate fits there.
        """
        p = self.p
        w = int(width.max())
        rs = self.step_rows_ptr[steps]
        counts = self.step_rows_ptr[steps + 1] - rs
        rows = ranges(rs, counts)
        row_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), counts)
        req = self.row_req[rows]
        off = p.req_off[req]
        length = p.req_len[req]
        base = t0[row_step] + off
        ar = np.arange(w, dtype=np.int64)[None, :]
        rr = self.row_res[rows] + self.n_res * p.span[steps][row_step]
        flat = (rr * self.frun.shape[1] + base)[:, None] + ar
        okc = self.frun.ravel()[flat] >= length[:, None]
        okc &= ar < width[row_step][:, None]
        # any over a requirement's candidates, then all over a step's requirements
        q_first = _starts_of(req)
        okq = np.logical_or.reduceat(okc, q_first, axis=0)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        ok = np.logical_and.reduceat(okq, s_first, axis=0)
        return ok, rows, row_step, okc

    def _rows_of(self, steps: I64) -> tuple[I64, I64, I64, I64]:
        """Candidate rows of `steps`: (rows, step index per row, requirement, mode row)."""
        rs = self.step_rows_ptr[steps]
        counts = self.step_rows_ptr[steps + 1] - rs
        rows = ranges(rs, counts)
        row_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), counts)
        rr = self.row_res[rows] + self.n_res * self.p.span[steps][row_step]
        return rows, row_step, self.row_req[rows], rr

    def _fit_rows(self, steps: I64, start: I64) -> tuple[I64, I64, I64, B]:
        """Which candidate rows fit if each step starts at `start` (one flat gather)."""
        p = self.p
        rows, row_step, req, rr = self._rows_of(steps)
        at = start[row_step] + p.req_off[req]
        fit = self.frun.ravel()[rr * self.frun.shape[1] + at] >= p.req_len[req]
        return rows, row_step, req, fit

    def fits_at(self, steps: I64, start: I64) -> B:
        """Whether each step fits at its given start (ignoring distinctness)."""
        _, row_step, req, fit = self._fit_rows(steps, start)
        q_first = _starts_of(req)
        okq = np.logical_or.reduceat(fit, q_first)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        return np.logical_and.reduceat(okq, s_first)

    def assign_at(self, steps: I64, start: I64) -> tuple[I64, I64, B]:
        """First fitting candidate per requirement with each step at `start`.

        Returns:
            (req (Qb,), chosen row (Qb,), step_has_duplicate (B,))
        """
        rows, row_step, req, fit = self._fit_rows(steps, start)
        q_first = _starts_of(req)
        key = np.where(fit, np.arange(rows.shape[0]), np.iinfo(np.int64).max)
        # steps that fit nowhere get an arbitrary pick; callers cut the batch before them
        chosen = np.minimum(np.minimum.reduceat(key, q_first), rows.shape[0] - 1)
        qstep = row_step[q_first]
        res = self.row_res[rows[chosen]]
        order = np.lexsort((res, qstep))
        dup_sorted = (np.diff(qstep[order]) == 0) & (np.diff(res[order]) == 0)
        dup = np.zeros(steps.shape[0], dtype=np.bool_)
        dup[qstep[order][1:][dup_sorted]] = True
        return req[q_first], rows[chosen], dup

    def occupy(self, qreq: I64, chosen_rows: I64, step_start: I64) -> None:
        """Marks the holding windows of requirements `qreq` (at their steps' starts) busy."""
        self.hold(qreq, self.row_res[chosen_rows], step_start)

    def hold(self, qreq: I64, res: I64, step_start: I64) -> None:
        """Marks requirements `qreq` held on resources `res` from their steps' starts busy."""
        p = self.p
        a = step_start + p.req_off[qreq]
        b = a + p.req_len[qreq]
        self.res[qreq] = res
        if self.modes == 2:
            rows = np.concatenate((res, res + self.n_res))
            a2, b2 = np.concatenate((a, a)), np.concatenate((b, b))
        else:
            rows, a2, b2 = res, a, b
        width = self.blk.shape[1]
        blk, frun, brun = self.blk.ravel(), self.frun.ravel(), self.brun.ravel()
        # free runs around each window, read before anything changes
        before = np.where(a2 > 0, self.brun[rows, np.maximum(a2 - 1, 0)], 0).astype(np.int64)
        after = self.frun[rows, b2].astype(np.int64)
        length = b2 - a2
        flat = ranges(rows * width + a2, length)
        blk[flat] = True
        frun[flat] = 0
        brun[flat] = 0
        # slots before a window: free run now ends at the next blocked slot (a itself at most)
        cnt = before + 1
        flat = ranges(rows * width + a2 - before, cnt)
        pos = np.arange(flat.shape[0], dtype=np.int64)
        nxt = np.minimum.accumulate(np.where(blk[flat], pos, flat.shape[0])[::-1])[::-1]
        frun[flat] = np.minimum(flat[nxt] - flat, self.sat)
        # slots after a window: free run now starts after the last blocked slot (b - 1 at least)
        cnt = after + 1
        flat = ranges(rows * width + b2 - 1, cnt)
        pos = np.arange(flat.shape[0], dtype=np.int64)
        last = np.maximum.accumulate(np.where(blk[flat], pos, -1))
        brun[flat] = np.minimum(flat - flat[last], self.sat)

    def refresh_rows(self, rows: I64) -> None:
        """Recomputes the free runs of whole rows (after slots were freed)."""
        rows = np.unique(rows)
        self.frun[rows], self.brun[rows] = _runs_of(~self.blk[rows], self.sat)

    def release_order(self, o: int) -> None:
        """Frees everything order `o` holds (before placing it forward)."""
        self.release_orders([o])

    def release_orders(self, orders: Iterable[int]) -> None:
        """Frees everything the given orders hold; the free runs of each row are rebuilt once."""
        p = self.p
        touched: list[int] = []
        for o in orders:
            s0, s1 = int(p.order_ptr[o]), int(p.order_ptr[o + 1])
            for s in range(s0, s1):
                if self.start[s] < 0:
                    continue
                for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                    r = int(self.res[q])
                    a = int(self.start[s] + p.req_off[q])
                    b = a + int(p.req_len[q])
                    self.blk[r, a:b] = ~p.open_[r, a:b]
                    touched.append(r)
                    if self.modes == 2:
                        self.blk[r + self.n_res, a:b] = ~p.open_span[r, a:b]
                        touched.append(r + self.n_res)
                    self.res[q] = -1
                self.start[s] = -1
        if touched:
            self.refresh_rows(np.array(touched, dtype=np.int64))

    # -- one step at a time (window growth, duplicates, forward placement) ----------------------

    def place_one(self, s: int, lo: int, hi: int, forward: bool) -> bool:
        """Places step `s` at its latest (or earliest, `forward`) feasible start in [lo, hi]."""
        steps = np.array([s], dtype=np.int64)
        cur_lo, cur_hi = lo, hi
        span = self.window
        while cur_lo <= cur_hi:
            if not forward:
                cur_hi = int(self.calendar_bound(steps, np.array([cur_hi], dtype=np.int64))[0])
                if cur_hi < cur_lo:
                    break
            if forward:
                t0 = cur_lo
                width = min(span, cur_hi - cur_lo + 1)
            else:
                t0 = max(cur_lo, cur_hi - span + 1)
                width = cur_hi - t0 + 1
            ok, rows, _, okc = self.search(
                steps, np.array([t0], dtype=np.int64), np.array([width], dtype=np.int64)
            )
            cand = np.flatnonzero(ok[0])
            if not forward:
                cand = cand[::-1]
            for w in cand.tolist():
                if self._try_distinct(s, rows, okc, int(w), t0):
                    return True
            if forward:
                cur_lo = t0 + width
            else:
                cur_hi = t0 - 1
            span *= 2  # nights and weekends: widen the search geometrically
        return False

    def _try_distinct(self, s: int, rows: I64, okc: B, w: int, t0: int) -> bool:
        """Greedy distinct assignment of step `s` at start t0 + w; occupies on success."""
        req = self.row_req[rows]
        taken: set[int] = set()
        picks: list[tuple[int, int]] = []
        for q in range(int(self.p.req_ptr[s]), int(self.p.req_ptr[s + 1])):
            sel = np.flatnonzero((req == q) & okc[:, w])
            pick = next((int(k) for k in sel if int(self.row_res[rows[k]]) not in taken), None)
            if pick is None:
                return False
            taken.add(int(self.row_res[rows[pick]]))
            picks.append((q, int(rows[pick])))
        qs = np.array([q for q, _ in picks], dtype=np.int64)
        crow = np.array([r for _, r in picks], dtype=np.int64)
        self.start[s] = t0 + w
        self.occupy(qs, crow, np.full(qs.shape[0], t0 + w, dtype=np.int64))
        return True
