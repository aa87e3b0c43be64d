"""An HX711 load-cell ADC at its two pins, for gpiozero's `MockFactory`.

The HX711 (Avia Semiconductor) talks over two wires: the host drives PD_SCK, the chip drives
DOUT. DOUT is high while a conversion runs and goes low when a 24-bit sample is ready. The host
then gives 24 clock pulses; on each rising edge the chip shifts out one bit, most significant
first, two's complement. One to three more pulses choose the input and gain of the *next*
conversion (25 pulses: channel A, gain 128; 26: channel B, gain 32; 27: channel A, gain 64) and
put DOUT back high until that conversion is ready (`rate_hz`: 10 or 80 samples per second).
PD_SCK held high for more than 60 us powers the chip down; bringing it low again resets it
(channel A, gain 128) and the first sample comes after the settling time (4 conversions).

`HX711Chip.attach(factory, dout=, sck=)` puts the chip's two pins into a `MockFactory` before
the driver opens them: the driver's gpiozero devices then drive and read these pins and the real
driver code (`agent.hx711`) bit-bangs the protocol against the chip. Times come from the clock
the chip is given (the hardware factory's), so a test on a `FakeClock` decides when a sample is
ready; the load is set in grams (`load_g`) through the calibration (`offset`, `counts_per_g`),
or directly in counts (`counts`).
"""

from __future__ import annotations

import threading
from typing import Any, Final

from gpiozero.pins.mock import MockPin

from taktline.clock import Clock, SystemClock

__all__ = ["HX711Chip"]

#: PD_SCK high at least this long powers the chip down (datasheet: > 60 us).
POWER_DOWN_NS: Final = 60_000
_BITS: Final = 24
_FULL_SCALE: Final = 1 << (_BITS - 1)
#: Pulses after the 24 data bits -> (channel, gain) of the next conversion.
_GAIN_PULSES: Final = {1: ("A", 128), 2: ("B", 32), 3: ("A", 64)}
_SETTLING_CONVERSIONS: Final = 4


class HX711Chip:
    """The chip's state: its input (in counts at gain 128), conversion timing, shift register.

    Args:
        clock: Where the chip takes time (conversions, power-down).
        rate_hz: Samples per second (the RATE pin: 10 or 80).
        offset: Counts with no load (the empty bin and the cell's own offset).
        counts_per_g: Counts per gram at gain 128 (the calibration).
        power_down_ns: PD_SCK high time that powers the chip down.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        rate_hz: float = 80.0,
        offset: int = 0,
        counts_per_g: float = 100.0,
        power_down_ns: int = POWER_DOWN_NS,
    ) -> None:
        self.clock = clock or SystemClock()
        self.period_ns = int(1e9 / rate_hz)
        self.offset = offset
        self.counts_per_g = counts_per_g
        self.power_down_ns = power_down_ns
        self.counts = offset
        self.channel_b_counts = 0
        self.channel, self.gain = "A", 128
        self.samples = 0
        self.power_downs = 0
        self._lock = threading.Lock()
        self._sck = False
        self._sck_high_ns = 0
        self._pulses = 0  # pulses since the sample was latched (0: none shifted yet)
        self._latched = 0
        self._dout = True
        self._ready_ns = self.clock.monotonic_ns() + self.period_ns * _SETTLING_CONVERSIONS

    # ----- what a test sets ------------------------------------------------------------------

    @property
    def load_g(self) -> float:
        """The load on the cell in grams (through `offset` and `counts_per_g`)."""
        return (self.counts - self.offset) / self.counts_per_g

    @load_g.setter
    def load_g(self, grams: float) -> None:
        self.counts = self.offset + round(grams * self.counts_per_g)

    # ----- pins -----------------------------------------------------------------------------

    def attach(self, factory: Any, *, dout: int, sck: int) -> None:
        """Creates the chip's DOUT and PD_SCK pins in a gpiozero `MockFactory`."""
        factory.pin(dout, pin_class=_DataPin, chip=self)
        factory.pin(sck, pin_class=_ClockPin, chip=self)

    def _sample(self) -> int:
        if self.channel == "B":
            value = self.channel_b_counts
        else:
            value = self.counts if self.gain == 128 else self.counts // 2
        return max(-_FULL_SCALE, min(_FULL_SCALE - 1, value))

    def _powered_down(self, now: int) -> bool:
        return self._sck and now - self._sck_high_ns >= self.power_down_ns

    def _settle(self, now: int) -> None:
        # A read ended (its gain pulses given) and the next sample is ready: a new read may begin.
        if self._pulses > _BITS and now >= self._ready_ns:
            self._pulses = 0

    def dout(self) -> bool:
        """The DOUT level now."""
        with self._lock:
            now = self.clock.monotonic_ns()
            if self._powered_down(now):
                return True
            self._settle(now)
            if self._pulses == 0:
                return now < self._ready_ns  # low: a sample is ready
            return self._dout

    def sck(self, level: bool) -> None:
        """The host drove PD_SCK to `level`."""
        with self._lock:
            now = self.clock.monotonic_ns()
            if level == self._sck:
                return
            if not level:
                if self._powered_down(now):  # back from power-down: reset, then settle
                    self.power_downs += 1
                    self.channel, self.gain = "A", 128
                    self._pulses = 0
                    self._ready_ns = now + self.period_ns * _SETTLING_CONVERSIONS
                self._sck = False
                return
            self._sck, self._sck_high_ns = True, now
            self._settle(now)
            if self._pulses == 0:
                if now < self._ready_ns:
                    return  # no sample ready: the pulse shifts nothing
                self._latched = self._sample() & ((1 << _BITS) - 1)
            if self._pulses >= _BITS + len(_GAIN_PULSES):
                return  # past the 27th pulse: nothing more to choose
            self._pulses += 1
            if self._pulses <= _BITS:
                self._dout = bool(self._latched >> (_BITS - self._pulses) & 1)
                return
            self._dout = True  # the 25th pulse pulls DOUT high; more pulses pick the gain
            self.channel, self.gain = _GAIN_PULSES[self._pulses - _BITS]
            if self._pulses == _BITS + 1:
                self.samples += 1
                self._ready_ns = now + self.period_ns


class _DataPin(MockPin):  # type: ignore[misc]
    """DOUT: its level is the chip's; a pull resistor setting changes nothing."""

    def __init__(self, factory: Any, info: Any, chip: HX711Chip) -> None:
        super().__init__(factory, info)
        self.chip = chip

    def _get_state(self) -> bool:
        return self.chip.dout()

    def _set_pull(self, value: str) -> None:
        self._pull = value  # the chip drives DOUT push-pull


class _ClockPin(MockPin):  # type: ignore[misc]
    """PD_SCK: every change reaches the chip."""

    def __init__(self, factory: Any, info: Any, chip: HX711Chip) -> None:
        super().__init__(factory, info)
        self.chip = chip

    def _change_state(self, value: bool) -> bool:
        changed: bool = super()._change_state(value)
        self.chip.sck(bool(value))
        return changed
