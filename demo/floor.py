"""The demo's people, machines and lorry: they tap tags, drive pins and move the GPS receiver.

`SimulatedStation` plays one machine and its operator: badge in, job ticket, tool at the reader,
the run signal, one cycle pulse (and a good or scrap pulse) per cycle, the changeover button at
a changeover. A station whose machine is a PLC (`plc=True`, `demo.plc`) has no pins to drive: the
PLC runs and counts by itself, and the operator only badges in, mounts tools and starts jobs.
Its scripted breakdown (`breakdown`, an event the demo sets) stops the machine for good: the
run signal goes off and the operator presses the breakdown button. Crimp applicators come
from the tool crib (the first one the plan names for the station's next job) and go back there
through the crib gate (`ToolCrib`, crib reader then floor reader, or the reverse; now and then
someone walks past one reader). An operator who
leaves a station taps in at the rest zone (`RestZone`). The supplier's lorry (`SimulatedLorry`)
loads packages, drives its route (moving the GPS receiver its Pi reads) and unloads them at the
plant; its scripted hold-up (`jam_at`) leaves it crawling in a jam near the supplier, loaded,
for `jam_s`. Nothing here records an event: the station, gate, rest and lorry roles read the
emulated chips, pins and receiver.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from cloud.status.deliveries import distance_m
from demo.plant import StationPlan, present_operators, station_pins
from demo.readers import DrivenReceiver, EmulatedPi
from hardware.nmea.make_logs import Epoch
from taktline.clock import Clock

__all__ = ["RestZone", "SimulatedLorry", "SimulatedStation", "ToolCrib"]

_PULSE_S: Final = 0.06  # a machine's pulse: well over the inputs' 20 ms debounce
#: A lorry crawling in a jam: just over the cloud's standing threshold (1 m/s), so its ETA is
#: the distance at this speed, minutes later than at cruising speed.
CRAWL_MPS: Final = 1.05
#: Where on its loaded drive the lorry meets the jam: this far from the supplier's dock.
JAM_POINT_M: Final = 40.0


class _Actor:
    """A simulation thread that sleeps plant time and stops with the demo."""

    def __init__(self, name: str, clock: Clock, stop: threading.Event, seed: str) -> None:
        self.clock = clock
        self.stop = stop
        self.rng = random.Random(seed)
        self.thread = threading.Thread(target=self._run, name=f"sim-{name}", daemon=True)

    def halted(self) -> bool:
        """Whether the actor's script must end (the demo is stopping)."""
        return self.stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleeps plant time; returns False when the script must end (`halted`)."""
        deadline = self.clock.monotonic_ns() + int(seconds * 1e9)
        while not self.halted():
            left = (deadline - self.clock.monotonic_ns()) / 1e9
            if left <= 0:
                return True
            self.clock.sleep(min(left, 0.1))
        return False

    def _run(self) -> None:
        """The actor's script (subclasses)."""

    def start(self) -> None:
        """Starts the actor's thread."""
        self.thread.start()


class ToolCrib:
    """The tool crib's door: carries tools past its two readers, in the order of the direction."""

    def __init__(self, pi: EmulatedPi, gate: str, clock: Clock, seed: int) -> None:
        self.pi = pi
        self.crib, self.floor = f"{gate}-crib", f"{gate}-floor"
        self.clock = clock
        self.rng = random.Random(f"{seed}-crib")
        self._lock = threading.Lock()

    def carry(self, tool: str, out: bool) -> None:
        """Walks `tool` out of the crib (`out`) or back in; returns once it is through."""
        first, second = (self.crib, self.floor) if out else (self.floor, self.crib)
        with self._lock:  # one door: one carrier at a time
            self.pi.tap(first, tool, 0.4)
            self.clock.sleep(1.0)
            if self.rng.random() < 0.9:  # now and then someone walks round the second reader
                self.pi.tap(second, tool, 0.4)
            self.clock.sleep(0.8)


class RestZone:
    """The rest zone's reader at the door."""

    def __init__(self, pi: EmulatedPi, reader: str) -> None:
        self.pi = pi
        self.reader = reader
        self._lock = threading.Lock()

    def arrive(self, operator: str) -> None:
        """`operator` taps in at the rest zone."""
        with self._lock:
            self.pi.tap(self.reader, operator, 0.6)


class SimulatedStation(_Actor):
    """One machine and its operator, acting on the station's reader and input pins.

    Args:
        breakdown: Set by the demo's script: the machine breaks down for good (see `_run`).
        on_breakdown: Told (with the station id) once the breakdown button was pressed.
        running: The job ticket still running at the machine from an earlier run (the station
            keeps it over a restart): the operator ends it before starting another.
        plc: The machine is a PLC that runs by itself: no pins are driven.
        planned_tool: The tool tag the plan gives the station's next job (None: no say); the
            operator fetches that one from the crib first, later ones at random.
    """

    def __init__(
        self,
        plan: StationPlan,
        plans: tuple[StationPlan, ...],
        pi: EmulatedPi,
        clock: Clock,
        seed: int,
        stop: threading.Event,
        crib: ToolCrib | None = None,
        rest: RestZone | None = None,
        *,
        breakdown: threading.Event | None = None,
        on_breakdown: Callable[[str], None] | None = None,
        running: str | None = None,
        plc: bool = False,
        planned_tool: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(plan.station, clock, stop, f"{seed}-{plan.station}")
        self.plc = plc
        self.plan = plan
        self.pi = pi
        self.reader = f"{plan.station}-rfid"
        self.pins = station_pins(plans, plan.station)
        self.crib = crib if plan.shared_tools else None
        self.rest = rest
        self.breakdown = breakdown
        self.on_breakdown = on_breakdown
        self.tool: str | None = None
        self.planned_tool = planned_tool
        self.ticket = running
        self.broken = False
        #: Who works here today: the first starts the machine, the others join on changeovers.
        self.operators = present_operators(plan)

    def halted(self) -> bool:
        """The demo is stopping, or the machine broke down."""
        return self.stop.is_set() or (self.breakdown is not None and self.breakdown.is_set())

    def _tap(self, tag: str) -> bool:
        self.pi.tap(self.reader, tag, 0.5)
        return self.wait(1.2)  # off the reader before the next tag

    def _pulse(self, name: str) -> None:
        pin = self.pi.pin(self.pins["inputs"][name])
        pin.drive_low()
        self.clock.sleep(_PULSE_S)
        pin.drive_high()

    def _button(self, reason: str) -> None:
        pin = self.pi.pin(self.pins["stop_buttons"][reason])
        pin.drive_low()
        self.clock.sleep(0.15)
        pin.drive_high()

    def _run_signal(self, on: bool) -> None:
        pin = self.pi.pin(self.pins["inputs"]["run"])
        (pin.drive_low if on else pin.drive_high)()

    def _change_tool(self) -> bool:
        old = self.tool
        choices = [t for t in self.plan.tools if t != old] or list(self.plan.tools)
        planned = self.planned_tool(self.plan.station) if self.planned_tool else None
        self.planned_tool = None  # the first tool as planned; later ones as they come
        picked = self.rng.choice(choices)  # drawn either way: the run's random story stays
        self.tool = planned if planned and self.crib is not None else picked
        if self.crib is not None:
            if old is not None:
                self.crib.carry(old, out=False)
            self.crib.carry(self.tool, out=True)
        return self._tap(self.tool)

    def _next_job(self) -> bool:
        if self.ticket is not None and not self._tap(self.ticket):  # ends the job
            return False
        self.ticket = self.rng.choice(self.plan.tickets)
        return self._tap(self.ticket)  # starts the next one

    def _run(self) -> None:
        self._work()
        if self.stop.is_set() or self.breakdown is None or not self.breakdown.is_set():
            return
        # The breakdown: the machine stops and stays down; the operator says why. A stop counts
        # as a breakdown only while a job is allocated (otherwise the machine is just idle).
        self._run_signal(False)
        if self.ticket is None:
            self.ticket = self.plan.tickets[0]
            self.pi.tap(self.reader, self.ticket, 0.5)
            self.clock.sleep(1.2)
        self.clock.sleep(0.6)  # the stop reaches the cloud first: then its reason
        self._button("breakdown")
        self.broken = True
        if self.on_breakdown is not None:
            self.on_breakdown(self.plan.station)

    def _work(self) -> None:
        rng, plan = self.rng, self.plan
        operator = self.operators[0]
        if not self.wait(rng.uniform(0.2, 1.5)) or not self._tap(operator):
            return
        if not self._change_tool() or not self._next_job():
            return
        while self.plc and not self.halted():  # the PLC runs the machine: jobs change now and then
            if not self.wait(plan.cycle_s * rng.randint(8, 20)):
                return
            if not self._change_tool() or not self._next_job():
                return
        while not self.halted():
            self._run_signal(True)
            for _ in range(rng.randint(5, 15)):
                if not self.wait(plan.cycle_s * rng.uniform(0.85, 1.3)):
                    return
                self._pulse("cycle")
                self._pulse("good" if rng.random() > 0.05 else "scrap")
            self._run_signal(False)
            if rng.random() < 0.3:  # changeover: another tool and job, maybe another operator
                self._button("changeover")
                if not self.wait(rng.uniform(1, 3)) or not self._change_tool():
                    return
                if not self._next_job():
                    return
                if len(self.operators) > 1 and rng.random() < 0.5:
                    if not self._tap(operator):  # out
                        return
                    if self.rest is not None:
                        self.rest.arrive(operator)
                    operator = rng.choice([o for o in self.operators if o != operator])
                    if not self._tap(operator):  # in
                        return
            elif not self.wait(rng.uniform(0.5, 2)):  # a short stop: waiting for parts
                return


def drive_route(epochs: list[Epoch]) -> list[Epoch]:
    """The route as the demo's lorry drives it: without its slowest moments.

    The cloud's ETA is the distance over the lorry's speed; at walking pace that says the lorry
    is many minutes away, which is the jam's signature here. Pulling away, braking and the
    corners are past within a second or two on the real road, so those epochs are left out.
    """
    return [e for e in epochs if e.speed_mps == 0 or e.speed_mps >= 8.0]


class SimulatedLorry(_Actor):
    """The supplier's lorry: packages read at loading, the drive, unloading at the plant.

    The driver sets the LOAD/UNLOAD switch and holds each package's tag to the lorry's reader;
    the drive moves the lorry's GPS receiver along `epochs` (`pace` epochs per second of the
    demo, so a drive of a minute takes seconds), and back empty between deliveries. With
    `jam_at` (the clock's monotonic seconds) the first loaded drive that reaches the jam point
    from then on meets a jam there and crawls for `jam_s`; the delivery that is to meet it waits
    at the dock so that its drive reaches the jam point at `jam_at`.
    """

    def __init__(
        self,
        pi: EmulatedPi,
        reader: str,
        stage_pin: int,
        deliveries: dict[str, dict[str, tuple[str, str, float]]],
        clock: Clock,
        seed: int,
        stop: threading.Event,
        *,
        jam_at: float | None = None,
        jam_s: float = 30.0,
        pace: float = 6.0,
        on_jam: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("lorry", clock, stop, f"{seed}-lorry")
        assert pi.gpsd is not None, "the lorry's Pi has a GPS receiver"
        self.receiver: DrivenReceiver = pi.gpsd
        self.pi = pi
        self.reader = reader
        self.stage = pi.pin(stage_pin)
        self.deliveries = deliveries
        self.route = drive_route(self.receiver.epochs)
        first = self.route[0]
        self.jam_index = next(
            i
            for i, e in enumerate(self.route)
            if distance_m(first.lat, first.lon, e.lat, e.lon) >= JAM_POINT_M
        )
        self.jam_at = jam_at
        self.jam_s = jam_s
        self.pace = pace
        self.on_jam = on_jam
        self.jammed = False

    def _now(self) -> float:
        return self.clock.monotonic_ns() / 1e9

    def _packages(self, tags: list[str]) -> bool:
        for tag in tags:
            self.pi.tap(self.reader, tag, 0.4)
            if not self.wait(0.9):
                return False
        return True

    def _depart(self, packages: int, last: bool) -> bool:
        """Waits at the dock, loaded, when this is the drive to meet the jam at `jam_at`.

        It is, when the next loaded drive would reach the jam point only after `jam_at` (there,
        unload, back, load again), or when there is no next one.
        """
        assert self.jam_at is not None
        reach = self._now() + self.jam_index / self.pace
        next_reach = reach + 2 * len(self.route) / self.pace + 2 * 0.9 * packages + 4.0
        if last or self.jam_at < next_reach:
            return self.wait(self.jam_at - reach)
        return True

    def _jam_pending(self) -> bool:
        return self.jam_at is not None and not self.jammed

    def _crawl(self, epochs: list[Epoch], index: int) -> int | None:
        """Creeps along `epochs` from `index` at `CRAWL_MPS` for `jam_s`.

        Returns:
            The index of the epoch it crept past (the drive goes on from there), or None when
            the demo is stopping.
        """
        began = self._now()
        at = index
        while (crept := (self._now() - began) * CRAWL_MPS) < self.jam_s * CRAWL_MPS:
            at = index
            lat, lon = epochs[at].lat, epochs[at].lon
            while at + 1 < len(epochs) and crept > 0:
                a, b = epochs[at], epochs[at + 1]
                step = distance_m(a.lat, a.lon, b.lat, b.lon)
                if step >= crept:
                    lat = a.lat + crept / step * (b.lat - a.lat)
                    lon = a.lon + crept / step * (b.lon - a.lon)
                    break
                crept -= step
                at += 1
                lat, lon = epochs[at].lat, epochs[at].lon
            self.receiver.move(replace(epochs[at], lat=lat, lon=lon, speed_mps=CRAWL_MPS))
            if not self.wait(0.5):
                return None
        return at

    def _drive(self, epochs: list[Epoch], delivery: str | None) -> bool:
        index = 0
        while index < len(epochs):
            self.receiver.move(epochs[index])
            if (
                delivery is not None
                and index == self.jam_index
                and self._jam_pending()
                and self._now() >= (self.jam_at or 0.0) - 1.0
            ):
                self.jammed = True
                if self.on_jam is not None:
                    self.on_jam(delivery)
                reached = self._crawl(epochs, index)
                if reached is None:
                    return False
                index = reached
            elif not self.wait(1 / self.pace):
                return False
            index += 1
        return True

    def _run(self) -> None:
        back = [replace(e, course_deg=(e.course_deg + 180.0) % 360) for e in reversed(self.route)]
        names = list(self.deliveries)
        for number, name in enumerate(names):
            tags = list(self.deliveries[name])
            self.receiver.move(self.route[0])  # at the supplier's dock
            self.stage.drive_high()  # switch open: LOAD
            if not self.wait(self.rng.uniform(0.5, 1.5)) or not self._packages(tags):
                return
            if self._jam_pending() and not self._depart(len(tags), number == len(names) - 1):
                return
            if not self._drive(self.route, name):
                return
            self.stage.drive_low()  # at the plant's dock: UNLOAD
            if not self.wait(0.5) or not self._packages(tags):
                return
            if not self.wait(self.rng.uniform(1, 2)):
                return
            if number < len(names) - 1 and not self._drive(back, None):
                return
