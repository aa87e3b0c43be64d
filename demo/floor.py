"""The demo's people and machines: they tap tags and drive pins; the agents' roles do the rest.

`SimulatedStation` plays one machine and its operator: badge in, job ticket, tool at the reader,
the run signal, one cycle pulse (and a good or scrap pulse) per cycle, a stop-reason button at a
changeover or a breakdown. Crimp applicators come from the tool crib and go back there through
the crib gate (`ToolCrib`, crib reader then floor reader, or the reverse; now and then someone
walks past one reader). An operator who leaves a station taps in at the rest zone (`RestZone`).
The supplier's lorry (`SimulatedLorry`) loads packages, drives its GPS route and unloads them.
Nothing here records an event: the station, gate and rest roles read the emulated chips and pins.
"""

from __future__ import annotations

import random
import threading
from typing import Final

from demo.plant import StationPlan, station_pins
from demo.readers import EmulatedPi
from taktline.clock import Clock

__all__ = ["RestZone", "SimulatedLorry", "SimulatedStation", "ToolCrib"]

_PULSE_S: Final = 0.06  # a machine's pulse: well over the inputs' 20 ms debounce


class _Actor:
    """A simulation thread that sleeps plant time and stops with the demo."""

    def __init__(self, name: str, clock: Clock, stop: threading.Event, seed: str) -> None:
        self.clock = clock
        self.stop = stop
        self.rng = random.Random(seed)
        self.thread = threading.Thread(target=self._run, name=f"sim-{name}", daemon=True)

    def wait(self, seconds: float) -> bool:
        """Sleeps plant time; returns False when the demo is stopping."""
        deadline = self.clock.monotonic_ns() + int(seconds * 1e9)
        while not self.stop.is_set():
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
    """One machine and its operator, acting on the station's reader and input pins."""

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
    ) -> None:
        super().__init__(plan.station, clock, stop, f"{seed}-{plan.station}")
        self.plan = plan
        self.pi = pi
        self.reader = f"{plan.station}-rfid"
        self.pins = station_pins(plans, plan.station)
        self.crib = crib if plan.shared_tools else None
        self.rest = rest
        self.tool: str | None = None
        self.ticket: str | None = None

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
        self.tool = self.rng.choice(choices)
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
        rng, plan = self.rng, self.plan
        operator = rng.choice(plan.operators)
        if not self.wait(rng.uniform(0.2, 1.5)) or not self._tap(operator):
            return
        if not self._change_tool() or not self._next_job():
            return
        while not self.stop.is_set():
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
                if len(plan.operators) > 1 and rng.random() < 0.5:
                    if not self._tap(operator):  # out
                        return
                    if self.rest is not None:
                        self.rest.arrive(operator)
                    operator = rng.choice([o for o in plan.operators if o != operator])
                    if not self._tap(operator):  # in
                        return
            elif rng.random() < 0.1:
                self._button("breakdown")
                if not self.wait(rng.uniform(2, 4)):
                    return
            elif not self.wait(rng.uniform(0.5, 2)):
                return


class SimulatedLorry(_Actor):
    """The supplier's lorry: packages read at loading, the drive (its GPS route), unloading.

    The driver sets the LOAD/UNLOAD switch and holds each package's tag to the lorry's reader;
    the route itself comes from the GPS emulator the lorry's Pi reads through gpsd's protocol.
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
    ) -> None:
        super().__init__("lorry", clock, stop, f"{seed}-lorry")
        self.pi = pi
        self.reader = reader
        self.stage = pi.pin(stage_pin)
        self.deliveries = deliveries

    def _packages(self, tags: list[str]) -> bool:
        for tag in tags:
            self.pi.tap(self.reader, tag, 0.4)
            if not self.wait(0.9):
                return False
        return True

    def _run(self) -> None:
        for tags in (list(lines) for lines in self.deliveries.values()):
            self.stage.drive_high()  # switch open: LOAD
            if not self.wait(self.rng.uniform(0.5, 1.5)) or not self._packages(tags):
                return
            if not self.wait(self.rng.uniform(6, 10)):  # on the road
                return
            self.stage.drive_low()  # at the plant's dock: UNLOAD
            if not self.wait(0.5) or not self._packages(tags):
                return
            if not self.wait(self.rng.uniform(3, 6)):
                return
