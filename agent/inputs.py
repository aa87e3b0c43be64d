"""Machine inputs and the stack light: gpiozero devices on the hardware factory's pin factory.

Every device takes its pins from the pin factory it is given (`Hardware.pin_factory()`: the Pi's
lgpio factory, or gpiozero's `MockFactory` on emulated hardware, chosen explicitly) and never from
gpiozero's global default.

Inputs are wired active-low with the Pi's internal pull-up (an optocoupler or a button pulls the
pin to ground: see `hardware/pins/`). Debouncing is ours, on the injected clock, not gpiozero's
`bounce_time`: that one ignores edges for a while after an accepted edge, so a bounce that ends in
the other level leaves the input stuck in the wrong state, and it runs on wall time that tests
cannot drive. Here each edge is time-stamped by the clock when the pin changes, and `update()`
accepts a level once it has lasted `debounce_s`: shorter excursions are bounces and are dropped,
however late `update()` runs, so a slow poll loop loses no real pulse (one whose high and low
phases both last at least `debounce_s`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Protocol, Self

from agent.errors import PinUnavailable
from taktline.clock import Clock

__all__ = ["COLOURS", "DebouncedInput", "Light", "PulseCounter", "StackLight"]

COLOURS: Final = ("green", "amber", "red")
_MAX_EDGES: Final = 10_000


def _device(factory: Any, cls_name: str, pin: int, what: str, **kwargs: Any) -> Any:
    import gpiozero

    try:
        return getattr(gpiozero, cls_name)(pin, pin_factory=factory, **kwargs)
    except gpiozero.GPIOZeroError as exc:
        raise PinUnavailable(f"{what}: GPIO{pin} cannot be used: {exc}") from exc


class DebouncedInput:
    """One active-low input with a debounce on the injected clock.

    Args:
        factory: The gpiozero pin factory.
        pin: BCM pin number.
        clock: Time-stamps the edges.
        debounce_s: How long a level must last to count.
        name: For error messages.
    """

    def __init__(
        self, factory: Any, pin: int, *, clock: Clock, debounce_s: float = 0.02, name: str = ""
    ) -> None:
        self.pin = pin
        self.name = name or f"GPIO{pin}"
        self.debounce_ns = int(debounce_s * 1e9)
        self.bounces = 0
        self.when_changed: Callable[[bool], None] | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._edges: deque[tuple[int, bool]] = deque(maxlen=_MAX_EDGES)
        self._unrecorded: deque[bool] = deque(maxlen=_MAX_EDGES)
        self._device = _device(factory, "DigitalInputDevice", pin, self.name, pull_up=True)
        self._stable = bool(self._device.is_active)
        self._device.when_activated = lambda: self._edge(True)
        self._device.when_deactivated = lambda: self._edge(False)

    @property
    def is_active(self) -> bool:
        """The debounced level (True: pulled low by the machine or the button)."""
        return self._stable

    def _edge(self, level: bool) -> None:
        # Runs on gpiozero's callback thread (or the test's, with MockFactory): record only.
        with self._lock:
            self._edges.append((self._clock.monotonic_ns(), level))

    def update(self) -> list[bool]:
        """Applies the edges seen so far; returns the debounced transitions, oldest first."""
        now = self._clock.monotonic_ns()
        with self._lock:
            edges = list(self._edges)
        transitions: list[bool] = []
        used = 0
        for index, (at, level) in enumerate(edges):
            last = index + 1 == len(edges)
            lasted = (now if last else edges[index + 1][0]) - at
            if lasted < self.debounce_ns:
                if last:
                    break  # may still become stable: look again at the next update
                if level != self._stable:
                    self.bounces += 1
            elif level != self._stable:
                self._stable = level
                transitions.append(level)
            used = index + 1
        with self._lock:
            for _ in range(used):
                self._edges.popleft()
        if self.when_changed is not None:
            for level in transitions:
                self.when_changed(level)
        return transitions

    def to_record(self) -> list[bool]:
        """The transitions not yet recorded (new ones included), oldest first.

        A caller records each and then calls `recorded()`: a transition whose event could not be
        stored (a full disk) is offered again at the next poll, never lost.
        """
        self._unrecorded.extend(self.update())
        return list(self._unrecorded)

    def recorded(self, count: int = 1) -> None:
        """The oldest `count` transitions of `to_record()` are stored."""
        for _ in range(min(count, len(self._unrecorded))):
            self._unrecorded.popleft()

    def close(self) -> None:
        """Releases the pin."""
        self._device.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PulseCounter(DebouncedInput):
    """Counts debounced pulses (activations) of an active-low input, e.g. one per cycle."""

    def __init__(
        self, factory: Any, pin: int, *, clock: Clock, debounce_s: float = 0.02, name: str = ""
    ) -> None:
        super().__init__(factory, pin, clock=clock, debounce_s=debounce_s, name=name)
        self.total = 0
        self._unsent = 0

    def take(self) -> int:
        """Pulses since the last `take()`."""
        count = sum(1 for level in self.update() if level)
        self.total += count
        return count

    def count_to_record(self) -> int:
        """Pulses not yet recorded (new ones included); `recorded_count()` once stored."""
        self._unsent += self.take()
        return self._unsent

    def recorded_count(self, count: int) -> None:
        """`count` pulses of `count_to_record()` are stored in an event."""
        self._unsent = max(0, self._unsent - count)


class Light(Protocol):
    """A station's stack light as edge rules drive it: on the Pi's pins or a firmware node's."""

    def set(self, colour: str, blink: bool = False) -> None:
        """Shows `colour` (`off`, `green`, `amber`, `red`), steady or blinking."""
        ...


class StackLight:
    """A green/amber/red stack light on three outputs; one colour at a time, steady or blinking.

    Args:
        factory: The gpiozero pin factory.
        green: BCM pin of the green lamp's driver (amber and red likewise).
        blink_s: On time and off time of a blinking lamp.
    """

    def __init__(
        self, factory: Any, *, green: int, amber: int, red: int, blink_s: float = 0.5
    ) -> None:
        self.blink_s = blink_s
        self.colour = "off"
        self.blinking = False
        self._lock = threading.Lock()
        self._lamps: dict[str, Any] = {}
        try:
            for colour, pin in zip(COLOURS, (green, amber, red), strict=True):
                self._lamps[colour] = _device(factory, "LED", pin, f"stack light {colour}")
        except PinUnavailable:
            self.close()
            raise

    def pin_of(self, colour: str) -> Any:
        """The gpiozero pin object driving `colour` (tests read its state)."""
        return self._lamps[colour].pin

    def set(self, colour: str, blink: bool = False) -> None:
        """Shows `colour` (`off`, `green`, `amber`, `red`), steady or blinking."""
        if colour != "off" and colour not in COLOURS:
            raise ValueError(f"stack light colour {colour!r} is not one of off, {COLOURS}")
        with self._lock:
            if not self._lamps:
                return  # closed: a command that raced the agent's stop changes nothing
            for name, lamp in self._lamps.items():
                if name != colour:
                    lamp.off()
            if colour != "off":
                lamp = self._lamps[colour]
                if blink:
                    lamp.blink(on_time=self.blink_s, off_time=self.blink_s, background=True)
                else:
                    lamp.on()
            self.colour, self.blinking = colour, blink and colour != "off"

    def close(self) -> None:
        """Switches the lamps off and releases their pins."""
        with self._lock:
            for lamp in self._lamps.values():
                lamp.off()  # a stopped agent shows no stale colour
                lamp.close()
            self._lamps.clear()
            self.colour, self.blinking = "off", False

    def __enter__(self) -> StackLight:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
