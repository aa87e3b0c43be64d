"""Uptime that does not wrap, from the board's wrapping millisecond ticks.

The node has no wall clock. Every event carries the node's uptime; the agent turns uptime into
UTC at receipt (see `docs/serial-link.md`). `ticks_ms` wraps (after about 12 days on an RP2040),
so uptime is accumulated from tick differences; call `ms()` at least once per wrap period (the
main loop does, every few milliseconds).
"""


class Uptime:
    """Milliseconds since boot, from injected `ticks_ms` and `ticks_diff` functions."""

    def __init__(self, ticks_ms, ticks_diff):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._last = ticks_ms()
        self._ms = 0

    def ms(self):
        """Milliseconds since this object was made (boot)."""
        now = self._ticks_ms()
        self._ms += self._ticks_diff(now, self._last)
        self._last = now
        return self._ms

    def at_ticks(self, ticks):
        """Uptime in ms of an earlier `ticks_ms()` reading (e.g. an edge seen by an IRQ)."""
        now_ms = self.ms()
        return now_ms - self._ticks_diff(self._last, ticks)
