"""The machine's two inputs: a run signal (a level) and a cycle pulse, both debounced.

Pin IRQ handlers only note the time of the edge (and count pulses); they allocate nothing.
The main loop's `poll()` turns that into events: a run change once the level has been stable for
`debounce_ms`, and the number of cycles counted since the last event. A pulse closer than
`lockout_ms` to the previous accepted one is contact bounce and is not counted. Inputs are
active low (a contact to ground, the pin's pull-up otherwise).
"""

from taktnode._compat import const

DEBOUNCE_MS = const(30)
LOCKOUT_MS = const(50)
_IRQ_RISING = const(8)  # machine.Pin.IRQ_RISING / IRQ_FALLING on the RP2040 port
_IRQ_FALLING = const(4)


class RunInput:
    """Calls `on_change(on, edge_ticks)` when the debounced level changes."""

    def __init__(self, pin, ticks_ms, ticks_diff, on_change, debounce_ms=DEBOUNCE_MS):
        self.pin = pin
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.on = pin.value() == 0
        self._edge = ticks_ms()
        self._dirty = False
        pin.irq(handler=self._irq, trigger=_IRQ_RISING | _IRQ_FALLING)

    def _irq(self, _pin):
        self._edge = self._ticks_ms()
        self._dirty = True

    def poll(self):
        """Reports the level if it changed and has been stable for the debounce time."""
        if not self._dirty:
            return
        edge = self._edge
        if self._ticks_diff(self._ticks_ms(), edge) < self.debounce_ms:
            return
        self._dirty = False
        on = self.pin.value() == 0
        if on != self.on:
            self.on = on
            self.on_change(on, edge)


class CycleCounter:
    """Counts falling edges; calls `on_cycles(count, last_edge_ticks)` with the new count."""

    def __init__(self, pin, ticks_ms, ticks_diff, on_cycles, lockout_ms=LOCKOUT_MS):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self.on_cycles = on_cycles
        self.lockout_ms = lockout_ms
        self.count = 0
        self.reported = 0
        self._last = ticks_ms() - lockout_ms
        pin.irq(handler=self._irq, trigger=_IRQ_FALLING)

    def _irq(self, _pin):
        now = self._ticks_ms()
        if self._ticks_diff(now, self._last) >= self.lockout_ms:
            self._last = now
            self.count += 1

    def poll(self):
        """Reports the cycles counted since the last report, if any."""
        count = self.count
        if count != self.reported:
            delta = count - self.reported
            self.reported = count
            self.on_cycles(delta, self._last)
