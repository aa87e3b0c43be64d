"""What the demo prints while it runs: the floor, the stations' schedules, every replan and why.

`Console` prints one time-stamped line per thing that happened, from any thread. Three sources
feed it besides the cloud's status changes: `StationLines`, a logging handler on the station
role's logger, turns each new schedule version a station receives (and a steady red stack light)
into a line, so what the stations see is shown, not what the cloud meant to send;
`PlanReporter` stands between the floor reactions and the replanner (it forwards every trigger)
and is the replanner's `on_replan` hook (after the cloud's own), so each replan that matters is
printed with the triggers that caused it, the orders it re-placed, the stations whose schedules
got a new version and the late orders of the gap report; `DeliveryWatch` prints when a delivery
becomes late, and when it no longer is (the plan waits for it, or it arrived). Every time is
on the demo plant's clock (`PLANT_TZ`, as its web pages show them); the stations' schedules,
which the agents log in UTC, are shown on it too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from cloud.replan import DeliveryLate, OperatorsPresent, Replanner, ResourceBack, ResourceLost
from cloud.replan.engine import Outcome
from cloud.replan.publish import PlanPublisher
from demo.plant import PLANT_TZ
from taktline.clock import Clock
from taktline.humane import local_time

__all__ = [
    "Console",
    "DeliveryWatch",
    "PlanReporter",
    "StationLines",
    "describe",
    "describe_burst",
]


class Console:
    """Time-stamped lines on stdout, whole lines from any thread; silent while not `printing`."""

    def __init__(self, clock: Clock, *, quiet: bool = False) -> None:
        self.clock = clock
        self.quiet = quiet
        self.printing = threading.Event()
        self.printing.set()
        self._lock = threading.Lock()

    def line(self, who: str, text: str) -> None:
        """Prints `HH:MM:SS  who: text`."""
        if self.quiet or not self.printing.is_set():
            return
        with self._lock:
            stamp = local_time(self.clock.now(), PLANT_TZ, seconds=True, label=False)
            print(f"{stamp}  {who}: {text}", flush=True)


def _hhmm(moment: datetime) -> str:
    return local_time(moment, PLANT_TZ, label=False)


def _hhmm_of(text: str) -> str:
    """An ISO time of the API (UTC) as HH:MM on the plant's clock ("?" when there is none)."""
    try:
        return _hhmm(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return "?"


#: A job's window in a station's schedule line, as the station role logs it: UTC "HH:MM-HH:MM".
_WINDOW: Final = re.compile(r"\b(\d\d):(\d\d)-(\d\d):(\d\d)\b")


def _window_on_plant_clock(text: str, today: datetime) -> str:
    """A schedule line's UTC windows on the plant's clock (the agents know no plant zone)."""

    def local(hour: str, minute: str) -> str:
        moment = today.astimezone(UTC).replace(hour=int(hour), minute=int(minute), second=0)
        return _hhmm(moment)

    return _WINDOW.sub(lambda m: f"{local(m[1], m[2])}-{local(m[3], m[4])}", text)


def describe(trigger: Any) -> str:
    """A trigger in a few words (`breakdown at crimp-02`)."""
    if isinstance(trigger, ResourceLost) and trigger.reason == "tool_transfer" and trigger.until:
        return f"tool {trigger.resource} fetched for its next job, there by {_hhmm(trigger.until)}"
    if isinstance(trigger, ResourceLost) and trigger.reason == "tool_service":
        return f"tool {trigger.resource} due for service"
    if isinstance(trigger, ResourceLost):
        return f"{trigger.reason} at {trigger.resource}"
    if isinstance(trigger, ResourceBack):
        return f"{trigger.resource} back in service"
    if isinstance(trigger, DeliveryLate):
        return f"late delivery: {trigger.material} ready {_hhmm(trigger.ready)}"
    if isinstance(trigger, OperatorsPresent):
        return f"{len(trigger.operators)} operator(s) here"
    return type(trigger).__name__


def primary_event(order: Mapping[str, Any]) -> str | None:
    """The event behind a gap report order's primary cause (its `cause` line starts with it)."""
    line = str(order.get("cause") or "")
    return next((c["event"] for c in order.get("causes", []) if line.startswith(c["text"])), None)


def describe_burst(triggers: list[Any]) -> list[str]:
    """The notable triggers of one replan in a few words, late materials of one time together."""
    out = sorted({describe(t) for t in triggers if isinstance(t, ResourceLost | ResourceBack)})
    late: dict[str, set[str]] = {}
    for trigger in triggers:
        if isinstance(trigger, DeliveryLate):
            late.setdefault(_hhmm(trigger.ready), set()).add(trigger.material)
    for ready, materials in sorted(late.items()):
        out.append(f"late delivery: {', '.join(sorted(materials))} ready {ready}")
    return out


class StationLines(logging.Handler):
    """Prints the schedules (and steady red lights) the station role logs; passes on warnings.

    Every station's first version is printed; later ones while `loud()` says a notable replan
    is under way (real progress replans often, and its replan line names the stations).

    Installed on the `agent.roles.station` logger (which then stops propagating, so its other
    INFO lines stay out of the console) for as long as it is used as a context manager.
    """

    def __init__(
        self,
        console: Console,
        *,
        changed_shown: int = 3,
        loud: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.loud = loud
        self.changed_shown = changed_shown
        self.versions: dict[str, int] = {}
        self._logger = logging.getLogger("agent.roles.station")
        self._saved = (self._logger.level, self._logger.propagate)

    def emit(self, record: logging.LogRecord) -> None:
        """One log record of the station role."""
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg.startswith("%s: schedule v%d") and len(args) == 4:
            station, version, changed, upcoming = args
            self.versions[str(station)] = int(str(version))
            if version != 1 and not self.loud():
                return
            keys = [] if changed == "nothing" else str(changed).split(", ")
            shown = ", ".join(keys[: self.changed_shown])
            more = f", +{len(keys) - self.changed_shown}" if len(keys) > self.changed_shown else ""
            what = f"{len(keys)} job(s) changed ({shown}{more})" if keys else "no job changed"
            nxt = _window_on_plant_clock(str(upcoming).split("; ")[0], self.console.clock.now())
            self.console.line(str(station), f"schedule v{version}, {what}; next: {nxt}")
        elif record.msg.startswith("%s: stack light") and args[1:] == ("red", ""):
            self.console.line(str(args[0]), "stack light red")
        elif record.levelno >= logging.WARNING:
            print(f"{record.levelname} {record.name}: {record.getMessage()}", file=sys.stderr)

    def __enter__(self) -> StationLines:
        self._logger.addHandler(self)
        self._logger.setLevel(logging.INFO)
        self._logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]


#: Triggers worth a line of their own; real progress (jobs started, ended, running late) is
#: counted and named only in the replans it changed schedules with.
_NOTABLE: Final = (ResourceLost, ResourceBack, DeliveryLate)
_PROGRESS: Final = {
    "StepStarted": "step start(s)",
    "StepEnded": "step end(s)",
    "StepLate": "late-step report(s)",
}


class PlanReporter:
    """Forwards triggers to the replanner and prints each replan that matters with its cause.

    A replan is printed when a notable trigger (breakdown, machine back, late delivery) went into
    it, or when it changed a station's schedule. Whether a notable trigger went into this
    replan or waits for the next is read from the engine (a lost resource's window, a material's
    new ready time), since a trigger may arrive while a replan runs.
    """

    def __init__(
        self,
        replanner: Replanner,
        publisher: PlanPublisher,
        stations: list[str],
        console: Console,
    ) -> None:
        self.replanner = replanner
        self.publisher = publisher
        self.stations = stations
        self.console = console
        self.replans = 0
        self.causes: Counter[str] = Counter()
        self.printed: list[str] = []
        self._waiting: list[Any] = []
        self._told: set[str] = set()
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._loud_until = 0.0
        #: Told of every trigger before the replanner gets it (the floor's ingest thread).
        self.on_trigger: Callable[[Any], None] | None = None

    def loud(self) -> bool:
        """Whether a notable trigger is being replanned (its schedules are worth a line each)."""
        with self._lock:
            waiting = any(isinstance(t, _NOTABLE) for t in self._waiting)
        return waiting or time.monotonic() < self._loud_until

    def start(self) -> None:
        """Prints the first plan (call after the cloud published it) and hooks the replanner."""
        self._versions = dict(self.publisher.versions)
        self.console.line(
            "plan",
            f"{len(self.replanner.engine.orders)} orders planned; schedules v1 published for "
            f"{', '.join(s for s in self.stations if s in self._versions)}; {self._late()}",
        )
        before = self.replanner.on_replan

        def hook(outcome: Outcome) -> None:
            if before is not None:
                before(outcome)
            self.replanned(outcome)

        self.replanner.on_replan = hook

    def submit(self, trigger: Any) -> None:
        """Takes a trigger from the floor reactions, notes it, hands it to the replanner."""
        self.causes[type(trigger).__name__] += 1
        if self.on_trigger is not None:
            self.on_trigger(trigger)
        if isinstance(trigger, _NOTABLE):
            text = describe(trigger)
            with self._lock:
                self._waiting.append(trigger)
                new = text not in self._told
                self._told.add(text)
            if new:
                self.console.line("cloud", f"replan trigger: {text}")
        else:
            with self._lock:
                self._waiting.append(trigger)
        self.replanner.submit(trigger)

    def _late(self) -> str:
        late = [o for o in self.replanner.gap_report["orders"] if o["status"] == "late"]
        if not late:
            return "no order late"
        worst = max(late, key=lambda o: int(o["tardiness_min"]))
        most = f"{worst['order']} by {worst['tardiness_min']} min"
        why = primary_event(worst)
        return f"{len(late)} order(s) late (most: {most}" + (f", why: {why})" if why else ")")

    def _applied(self, trigger: Any) -> bool:
        engine = self.replanner.engine
        if isinstance(trigger, ResourceLost):
            return any(w.start == trigger.at for w in engine.down.get(trigger.resource, []))
        if isinstance(trigger, DeliveryLate):
            material = engine.plant.materials.get(trigger.material)
            return material is not None and material.ready == trigger.ready
        return True

    def replanned(self, outcome: Outcome) -> None:
        """The replanner's `on_replan` hook (its thread, after the new plan was published)."""
        with self._lock:
            burst = [t for t in self._waiting if self._applied(t)]
            self._waiting = [t for t in self._waiting if not self._applied(t)]
        self.replans += 1
        versions: Mapping[str, int] = dict(self.publisher.versions)
        changed = [s for s in self.stations if versions.get(s, 0) > self._versions.get(s, 0)]
        self._versions = dict(versions)
        notable = describe_burst(burst)
        if notable:
            self._loud_until = time.monotonic() + 1.0  # the stations' lines of this replan
        if not notable and not changed:
            return
        progress = Counter(
            _PROGRESS.get(type(t).__name__, "other") for t in burst if not isinstance(t, _NOTABLE)
        )
        steps = ", ".join(f"{n} {what}" for what, n in sorted(progress.items()))
        causes = notable + ([f"progress ({steps})"] if steps else [])
        if not causes:
            causes = ["a planner's change"]
        moved = f"{outcome.orders_moved} order(s) re-placed in {outcome.seconds * 1000:.0f} ms"
        news = ", ".join(f"{s} v{versions[s]}" for s in changed) or "no schedule changed"
        text = (
            f"{' + '.join(causes)} -> replan {self.replans}: {moved}; new schedules: {news}; "
            f"{self._late()}"
        )
        self.printed.append(text)
        self.console.line("plan", text)


class DeliveryWatch:
    """Prints a delivery's lateness when it changes.

    Call `look` now and then, and when a late delivery is reported: the replan it causes
    usually moves the plan's need behind the new ready time within a second. `only` picks the
    deliveries shown (the demo's own run: earlier runs' deliveries stay in the status).
    """

    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        console: Console,
        *,
        only: Callable[[str], bool] = lambda delivery: True,
    ) -> None:
        self.snapshot = snapshot
        self.console = console
        self.only = only
        self.late: dict[str, bool] = {}
        self.ever_late: set[str] = set()
        self._lock = threading.Lock()

    def look(self) -> None:
        """Compares every delivery's late flag with the last look (from any thread)."""
        with self._lock:
            self._look()

    def _look(self) -> None:
        deliveries = self.snapshot().get("deliveries", {}).get("deliveries", {})
        for name, delivery in deliveries.items():
            if not self.only(name):
                continue
            late = bool(delivery.get("late"))
            if self.late.get(name, False) == late:
                continue
            self.late[name] = late
            ready = _hhmm_of(delivery.get("ready") or "")
            needed = _hhmm_of(delivery.get("needed") or "")
            if late:
                self.ever_late.add(name)
                distance = delivery.get("distance_km")
                where = f", lorry {distance} km away" if distance is not None else ""
                blame = {"shipping": "; it shipped late", "road": "; it shipped in time: the road"}
                where += blame.get(delivery.get("late_blame") or "", "")
                self.console.line(
                    "cloud",
                    f"delivery {name} LATE: material ready {ready} after it is needed "
                    f"{needed} ({', '.join(delivery.get('materials', []))}{where})",
                )
            else:
                self.console.line(
                    "cloud",
                    f"delivery {name} no longer late: ready {ready}, the plan needs it {needed}",
                )
