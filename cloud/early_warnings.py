"""Early warnings from machine signals: cycle-time drift and more frequent stops, per machine.

Fed the events the cloud commits, in log order (`EarlyWarnings.apply`, from the service's
on-commit hook; at start the last `REPLAY_HOURS` of the log), it keeps per machine whether it
runs and which job ticket is on it, and per machine and process (the job step the ticket stands
for in the master data's tag directory; else the machine alone) two detectors:

**Cycle time.** While a machine runs, the time between two `cycle` signals over the cycles they
count is one sample of its cycle time (a stop or a new job in between starts afresh):

- the *baseline* is the first `BASELINE_N` (200) samples: their 10 %-trimmed mean `m` and a
  robust spread `s = 1.4826 MAD` (about their standard deviation; at least 1 % of `m`: a
  perfectly regular emulator must not make every jitter a deviation). Fewer samples misplace
  `m` by enough for the CUSUM to wander off: 30 gave a false alarm within minutes on demo data;
- an upper one-sided **CUSUM** on standardised samples (Page 1954):
  `C <- max(0, C + (x - m)/s - K)` with reference `K = 0.5` (tuned to a shift of one spread) and
  decision interval `H = 10`: `C > H` raises `cycle_drift`. For independent normal samples an
  in-control run lasts about 10^5 samples before a false alarm; a sustained shift of one spread
  is found after about 22 samples. A sample above 10 spreads counts as 10 (one stuck cycle, a
  jam, is a stop's business, not drift);
- an **EWMA** `z <- lambda x + (1 - lambda) z` with `lambda = 0.1` smooths the samples (the
  alert's `current`); the *threshold* is `THRESHOLD` (1.25) x `m`, the slowdown at which the
  machine needs maintenance.
  The alert projects when the cycle time crosses it: the least-squares line through the last
  `TREND_S` (an hour) of per-minute mean cycle times, weighted by their samples, extended to
  the threshold (None while it does not rise). Early in a drift the hour still holds healthy
  minutes, so the projection is late rather than early; it is refreshed every minute, and the
  threshold counts as crossed (`crossed_at`) when that line's value reaches it.

**Stops.** Stops (run on -> off) per machine, counted per `STOP_BIN_S` (an hour): the baseline
rate `r0` is the mean of the first `STOP_BASELINE_BINS` (4) hours (at least 0.5 an hour); a
Poisson CUSUM (Lucas 1985) for a doubled rate, `C <- max(0, C + n - k)` with `k = r0 / ln 2` (the
reference between `r0` and `2 r0`) and `H = 4 + 2 r0`, raises `stops_rising`.

An alert is raised once and stays, its figures updated, until maintenance is recorded for the
machine (a `correction` of kind `maintenance`, or a stop with reason `maintenance`): then its
baselines are learned anew. It comes with a what-if scenario (`scenario`: the machine down for
maintenance now) that a planner runs through `POST /api/whatif` before deciding. docs/status.md,
"Early warnings".
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any, Final

__all__ = [
    "BASELINE_N",
    "REPLAY_HOURS",
    "THRESHOLD",
    "Alert",
    "CycleDrift",
    "EarlyWarnings",
    "StopTrend",
]

BASELINE_N: Final = 200
CUSUM_K: Final = 0.5
CUSUM_H: Final = 10.0
CLIP: Final = 10.0
EWMA_LAMBDA: Final = 0.1
THRESHOLD: Final = 1.25
TREND_S: Final = 3600.0
MIN_SPREAD: Final = 0.01
STOP_BIN_S: Final = 3600.0
STOP_BASELINE_BINS: Final = 4
MIN_STOP_RATE: Final = 0.5
#: A gap between cycles longer than this is no cycle time (a pause the run signal missed).
MAX_CYCLE_S: Final = 3600.0
#: Hours of the log replayed at start to bring the detectors back.
REPLAY_HOURS: Final = 8.0


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Alert:
    """A predictive-maintenance alert: what drifts where, since when, and when it crosses."""

    kind: str  # "cycle_drift" or "stops_rising"
    station: str
    process: str
    raised_at: str
    detail: str
    baseline: float
    current: float
    threshold: float
    #: when the EWMA is projected to cross the threshold (None: not rising)
    crossing_at: str | None = None
    #: when it did cross (None: not yet)
    crossed_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


@dataclass
class CycleDrift:
    """The cycle-time detector of one machine and process."""

    station: str
    process: str
    warmup: list[float] = field(default_factory=list)
    mean: float | None = None
    spread: float = 0.0
    cusum: float = 0.0
    ewma: float = 0.0
    #: per minute: (its start, the sum of its samples, their count), the last `TREND_S`
    trend: deque[tuple[float, float, int]] = field(
        default_factory=lambda: deque(maxlen=int(TREND_S // 60) + 1)
    )
    samples: int = 0
    alert: Alert | None = None

    def feed(self, seconds: float, at: str) -> Alert | None:
        """One cycle-time sample at `at`; returns a newly raised alert."""
        self.samples += 1
        if self.mean is None:
            self.warmup.append(seconds)
            if len(self.warmup) == BASELINE_N:
                ordered = sorted(self.warmup)
                cut = len(ordered) // 10
                centre = median(ordered)
                mad = median(abs(x - centre) for x in ordered)
                self.mean = sum(ordered[cut : len(ordered) - cut]) / (len(ordered) - 2 * cut)
                self.spread = max(1.4826 * mad, MIN_SPREAD * centre, 1e-9)
                self.ewma = centre
                self.warmup = []
            return None
        z = min((seconds - self.mean) / self.spread, CLIP)
        moment = _when(at).timestamp()
        self.cusum = max(0.0, self.cusum + z - CUSUM_K)
        self.ewma = EWMA_LAMBDA * seconds + (1 - EWMA_LAMBDA) * self.ewma
        minute = moment // 60 * 60
        fresh = not self.trend or self.trend[-1][0] != minute
        if fresh:
            self.trend.append((minute, seconds, 1))
        else:
            _, total, count = self.trend[-1]
            self.trend[-1] = (minute, total + seconds, count + 1)
        if self.alert is not None:
            self.alert.current = round(self.ewma, 3)
            if self.alert.crossed_at is None and fresh:  # the projection, until it came true
                self.alert.crossing_at = self._crossing()
                line = self._line()
                if line is not None and line[1] >= THRESHOLD * self.mean:
                    self.alert.crossed_at = self.alert.crossing_at = _iso(line[0])
            return None
        if self.cusum > CUSUM_H:
            threshold = THRESHOLD * self.mean
            self.alert = Alert(
                "cycle_drift",
                self.station,
                self.process,
                at,
                f"cycle time {self.ewma:.2f} s against a baseline of {self.mean:.2f} s "
                f"(+{100 * (self.ewma / self.mean - 1):.0f} %)",
                round(self.mean, 3),
                round(self.ewma, 3),
                round(threshold, 3),
                self._crossing(),
            )
            return self.alert
        return None

    def _line(self) -> tuple[float, float, float] | None:
        """(the start of the newest minute, the line's value then, its slope per second)."""
        if self.mean is None or len(self.trend) < 10:
            return None
        newest = self.trend[-1][0]
        points = [(t - newest, total / n, n) for t, total, n in self.trend if t > newest - TREND_S]
        weight = sum(n for _, _, n in points)
        mx = sum(x * n for x, _, n in points) / weight
        my = sum(y * n for _, y, n in points) / weight
        var = sum(n * (x - mx) ** 2 for x, _, n in points)
        if var <= 0:
            return None
        slope = sum(n * (x - mx) * (y - my) for x, y, n in points) / var
        return newest, my - slope * mx, slope

    def _crossing(self) -> str | None:
        """When the cycle time reaches the threshold on the last hour's straight line."""
        line = self._line()
        if line is None or self.mean is None:
            return None
        newest, now, slope = line
        if now >= THRESHOLD * self.mean:
            return _iso(newest)
        if slope <= 0:
            return None
        seconds = (THRESHOLD * self.mean - now) / slope
        if seconds > 30 * 86_400:
            return None
        return _iso(newest + seconds)

    def view(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "station": self.station,
            "process": self.process,
            "samples": self.samples,
            "baseline_s": None if self.mean is None else round(self.mean, 3),
            "spread_s": round(self.spread, 4),
            "ewma_s": None if self.mean is None else round(self.ewma, 3),
            "cusum": round(self.cusum, 3),
            "threshold_s": None if self.mean is None else round(THRESHOLD * self.mean, 3),
            "alert": None if self.alert is None else self.alert.as_dict(),
        }


@dataclass
class StopTrend:
    """The stop-frequency detector of one machine."""

    station: str
    bin_start: float | None = None
    in_bin: int = 0
    history: list[int] = field(default_factory=list)
    rate: float | None = None
    cusum: float = 0.0
    alert: Alert | None = None

    def stopped(self, at: str) -> Alert | None:
        """A stop at `at`; returns a newly raised alert (when an hour closed)."""
        raised = self.tick(at)
        self.in_bin += 1
        return raised

    def tick(self, at: str) -> Alert | None:
        """Closes the hours that ended by `at`."""
        moment = _when(at).timestamp()
        if self.bin_start is None:
            self.bin_start = moment
            return None
        raised = None
        while moment >= self.bin_start + STOP_BIN_S:
            raised = self._close(self.in_bin, self.bin_start + STOP_BIN_S) or raised
            self.in_bin = 0
            self.bin_start += STOP_BIN_S
        return raised

    def _close(self, count: int, end: float) -> Alert | None:
        if self.rate is None:
            self.history.append(count)
            if len(self.history) == STOP_BASELINE_BINS:
                self.rate = max(sum(self.history) / len(self.history), MIN_STOP_RATE)
            return None
        k = self.rate / math.log(2.0)
        h = 4.0 + 2.0 * self.rate
        self.cusum = max(0.0, self.cusum + count - k)
        self.history = [*self.history[-23:], count]
        if self.alert is None and self.cusum > h:
            recent = sum(self.history[-4:]) / min(4, len(self.history))
            self.alert = Alert(
                "stops_rising",
                self.station,
                "",
                _iso(end),
                f"{recent:.1f} stops an hour against a baseline of {self.rate:.1f}",
                round(self.rate, 3),
                round(recent, 3),
                round(2 * self.rate, 3),
            )
            return self.alert
        return None


@dataclass
class _Machine:
    running: bool = False
    ticket: str | None = None
    last_cycle: tuple[str, str] | None = None  # (time, process) of the last cycle signal


class EarlyWarnings:
    """Every machine's detectors, fed the committed events in log order."""

    def __init__(self, process_of: Callable[[str], str | None] | None = None) -> None:
        #: ticket tag -> the job step it stands for (master data); None: the machine alone
        self.process_of = process_of or (lambda ticket: None)
        self.drift: dict[tuple[str, str], CycleDrift] = {}
        self.stops: dict[str, StopTrend] = {}
        self.machines: dict[str, _Machine] = {}
        self._lock = threading.Lock()  # ingest's thread feeds, the web's threads read

    def apply(self, event: Mapping[str, Any], at: str) -> Alert | None:
        """One committed event at its corrected time; returns an alert it raised, if any."""
        with self._lock:
            return self._apply(event, at)

    def _apply(self, event: Mapping[str, Any], at: str) -> Alert | None:
        station = event.get("station")
        if station is None:
            return None
        kind, payload = event["type"], event["payload"]
        machine = self.machines.setdefault(station, _Machine())
        if kind == "job.ticket":
            machine.ticket = payload["tag"] if payload["action"] == "start" else None
            machine.last_cycle = None
            return None
        if kind == "machine.stop_reason" and payload["reason"] == "maintenance":
            self.maintained(station)
            return None
        if kind == "correction" and payload.get("kind") == "maintenance":
            self.maintained(station)
            return None
        if kind != "machine.signal":
            return None
        name = payload["signal"]
        if name == "run":
            was = machine.running
            machine.running = bool(payload["on"])
            machine.last_cycle = None
            if was and not machine.running:
                stops = self.stops.setdefault(station, StopTrend(station))
                return stops.stopped(at)
            return None
        trend = self.stops.get(station)
        raised = trend.tick(at) if trend is not None else None
        if name != "cycle" or not machine.running:
            return raised
        count = int(payload["count"])
        step = (self.process_of(machine.ticket) if machine.ticket else None) or ""
        last, machine.last_cycle = machine.last_cycle, (at, step)
        if last is None or last[1] != step or count <= 0 or at <= last[0]:
            return raised
        seconds = (_when(at) - _when(last[0])).total_seconds() / count
        if seconds > MAX_CYCLE_S:
            return raised
        detector = self.drift.get((station, step))
        if detector is None:
            detector = self.drift[(station, step)] = CycleDrift(station, step)
        return detector.feed(seconds, at) or raised

    def maintained(self, station: str) -> None:
        """After maintenance: the machine's baselines are learned anew."""
        for key in [k for k in self.drift if k[0] == station]:
            del self.drift[key]
        self.stops.pop(station, None)

    def alerts(self) -> list[Alert]:
        """The standing alerts, oldest first."""
        with self._lock:
            return self._standing()

    def _standing(self) -> list[Alert]:
        standing = [d.alert for d in self.drift.values() if d.alert is not None]
        standing += [s.alert for s in self.stops.values() if s.alert is not None]
        return sorted(standing, key=lambda a: a.raised_at)

    def view(self, maintenance_hours: float = 1.0) -> dict[str, Any]:
        """JSON-ready: the standing alerts (each with its what-if) and every detector's state."""
        with self._lock:
            return self._view(maintenance_hours)

    def _view(self, maintenance_hours: float) -> dict[str, Any]:
        alerts = []
        for alert in self._standing():
            shown = alert.as_dict()
            shown["scenario"] = {
                "name": f"maintain {alert.station} now",
                "changes": [
                    {
                        "kind": "machine_down",
                        "resource": alert.station,
                        "hours": maintenance_hours,
                    }
                ],
            }
            alerts.append(shown)
        return {
            "alerts": alerts,
            "cycle_time": [d.view() for _, d in sorted(self.drift.items())],
            "stops": {
                s: {
                    "baseline_per_h": t.rate,
                    "cusum": round(t.cusum, 3),
                    "last_hours": t.history[-8:],
                }
                for s, t in sorted(self.stops.items())
            },
        }
