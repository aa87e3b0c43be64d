"""The report's fold: each machine's state segments, counts and cycle samples for one period.

The whole log is folded in log order with the status model's machine rules (RUNNING while the
run input is on; otherwise STOPPED when a job step is allocated, IDLE when none is; a stop is
`unexplained` until a stop-reason button or a correction names it; a reason pressed while
running is ignored), so the state at the period's start is known and corrections recorded later
still reach the period. Time never runs backwards for a machine: an event older than the
machine's latest change is applied at that change's time. Counts belong to the period when their
own (corrected) time falls in [start, end): a count event at that time, or a `cycles`/`good`/
`scrap` correction whose `at` does; a `void` takes a remembered count event back. Segments that
ended before the period are dropped as the fold goes, so memory follows the period, not the log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloud.status import IDLE, RUNNING, STOPPED, UNEXPLAINED

__all__ = ["MachineTrack", "PeriodFold", "Segment", "epoch"]


def epoch(text: str) -> float:
    """Seconds since the epoch of a contract timestamp (or any ISO time with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Segment:
    """A machine's state from `start` (epoch s) until the next segment's start."""

    state: str
    start: float
    reason: str | None = None


@dataclass
class MachineTrack:
    """One station's machine as the report folds it."""

    station: str
    running: bool | None = None
    job: str | None = None
    clock: float = float("-inf")
    segments: deque[Segment] = field(default_factory=deque)
    #: running seconds since the previous cycle count, and where the open run span is marked
    since_count: float = 0.0
    mark: float | None = None
    #: ticket (None: no job) -> [cycles, good, scrap] counted in the period
    counts: dict[str | None, list[int]] = field(default_factory=dict)
    #: count event key -> (seconds per cycle, cycles): the samples of the median cycle time
    samples: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)
    #: count event key -> (epoch s, ticket): when each sample was counted, on which job step
    sampled: dict[tuple[str, int], tuple[float, str | None]] = field(default_factory=dict)
    #: [ticket, start, end or None]: which job step ran when (corrections' counts follow it)
    jobs: list[list[Any]] = field(default_factory=list)

    @property
    def state(self) -> str:
        """RUNNING, STOPPED (a job is allocated) or IDLE."""
        if self.running:
            return RUNNING
        return STOPPED if self.job is not None else IDLE

    def settle(self, at: float, period_start: float) -> None:
        """Starts a segment when the state changed, dropping segments ended before the period."""
        state = self.state
        if self.segments and self.segments[-1].state == state:
            return
        self.segments.append(Segment(state, at, UNEXPLAINED if state == STOPPED else None))
        while len(self.segments) > 1 and self.segments[1].start <= period_start:
            self.segments.popleft()

    def give_reason(self, reason: str, at: float) -> bool:
        """Names the reason of the stop covering `at`; False when no stop covers it."""
        for segment in reversed(self.segments):
            if segment.start <= at:
                if segment.state != STOPPED:
                    return False
                segment.reason = reason
                return True
        return False

    def job_at(self, at: float) -> str | None:
        """The job step running at `at`, if any."""
        for ticket, start, end in reversed(self.jobs):
            if start <= at and (end is None or at < end):
                return str(ticket)
        return None

    def add(self, ticket: str | None, signal: str, count: int) -> None:
        """Adds counts of one signal (cycle, good, scrap) to a job step's tally."""
        tally = self.counts.setdefault(ticket, [0, 0, 0])
        tally[("cycle", "good", "scrap").index(signal)] += count


class PeriodFold:
    """Folds log entries (`EventLog.replay()`) into machine tracks for [start, end)."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.machines: dict[str, MachineTrack] = {}
        self.remembered: dict[tuple[str, int], tuple[str, str, int, str | None]] = {}
        self.events = 0
        self.position = 0

    def fold(self, log: Iterable[tuple[int, Mapping[str, Any], str]]) -> PeriodFold:
        """Folds every entry; returns itself."""
        for position, event, corrected in log:
            self.events += 1
            self.position = max(self.position, position)
            self._apply(event, epoch(corrected))
        return self

    def machine(self, station: str) -> MachineTrack:
        """The track of `station` (a new, empty one when not seen)."""
        track = self.machines.get(station)
        if track is None:
            track = self.machines[station] = MachineTrack(station)
        return track

    def _apply(self, event: Mapping[str, Any], at: float) -> None:
        kind = event["type"]
        payload = event["payload"]
        if kind == "correction":
            self._correction(payload)
            return
        station = event.get("station")
        if kind == "machine.signal":
            station = station or event["source"]
        elif kind not in ("job.ticket", "machine.stop_reason") or station is None:
            if station is not None:
                self.machine(station)  # seen at a station: listed, even with no state yet
            return
        track = self.machine(station)
        moment = max(at, track.clock)
        track.clock = moment
        if kind == "machine.signal":
            self._signal(track, event, payload, at, moment)
        elif kind == "job.ticket":
            self._ticket(track, payload["tag"], payload["action"], moment)
        elif not track.running:
            track.give_reason(payload["reason"], at)

    def _signal(
        self,
        track: MachineTrack,
        event: Mapping[str, Any],
        payload: Mapping[str, Any],
        at: float,
        moment: float,
    ) -> None:
        signal = payload["signal"]
        if signal == "run":
            on = bool(payload["on"])
            if on and not track.running:
                track.mark = moment
            elif not on and track.running and track.mark is not None:
                track.since_count += moment - track.mark
            track.running = on
            track.settle(moment, self.start)
            return
        count = int(payload["count"])
        key = (str(event["instance"]), int(event["seq"]))
        if signal == "cycle":
            if track.running and track.mark is not None:
                track.since_count += moment - track.mark
                track.mark = moment
            elapsed, track.since_count = track.since_count, 0.0
            if self.start <= at < self.end and elapsed > 0:
                track.samples[key] = (elapsed / count, count)
                track.sampled[key] = (at, track.job)
        if self.start <= at < self.end:
            track.add(track.job, signal, count)
            self.remembered[key] = (track.station, signal, count, track.job)

    def _ticket(self, track: MachineTrack, tag: str, action: str, moment: float) -> None:
        if action == "start":
            if track.job is not None:
                self._end_job(track, moment)
            track.job = tag
            track.jobs.append([tag, moment, None])
        elif track.job == tag:
            self._end_job(track, moment)
            track.job = None
        else:
            return
        track.settle(moment, self.start)

    def _end_job(self, track: MachineTrack, moment: float) -> None:
        if track.jobs and track.jobs[-1][2] is None:
            track.jobs[-1][2] = moment
            if moment <= self.start:
                track.jobs.pop()  # over before the period: no correction's count can reach it

    def _correction(self, payload: Mapping[str, Any]) -> None:
        kind, station, value = payload["correction"], payload["station"], payload["value"]
        when = epoch(payload["at"])
        if kind == "stop_reason" and station is not None:
            self.machine(station).give_reason(value, when)
        elif kind in ("cycles", "good", "scrap") and station is not None:
            track = self.machine(station)
            if self.start <= when < self.end:
                track.add(track.job_at(when), "cycle" if kind == "cycles" else kind, int(value))
        elif kind == "void" and payload["voids"]:
            key = (str(payload["voids"][0]), int(payload["voids"][1]))
            found = self.remembered.pop(key, None)
            if found is not None:
                station, signal, count, job = found
                track = self.machine(station)
                track.add(job, signal, -count)
                track.samples.pop(key, None)
                track.sampled.pop(key, None)
