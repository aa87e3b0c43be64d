"""The HX711 load-cell ADC driver: the two-wire protocol bit-banged on gpiozero pins.

PD_SCK is a `DigitalOutputDevice`, DOUT a `DigitalInputDevice`, both from the pin factory the
driver is given (`Hardware.pin_factory()`: the Pi's lgpio factory, or the `MockFactory` in which
`hardware.hx711_chip.HX711Chip` sits). A sample is read only when DOUT is low (one ready):
`read()` never waits, so a role's poll loop is not held up by the chip's 80 or 10 Hz rate. The
pulses use the pin objects directly, not the devices' locks, to keep PD_SCK's high time short:
a high time over 60 us powers the chip down (it resets and shifts no more bits), which a thread
switch or a busy CPU at the wrong moment can cause. The driver times every pulse and discards a
read in which one may have lasted that long (`discarded`), and a bin takes the median of its
last readings besides.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Final, Self

from agent.errors import PinUnavailable
from taktline.clock import Clock, SystemClock

__all__ = ["GAINS", "HX711"]

#: gain -> extra pulses after the 24 data bits (channel A at 128 or 64; channel B is 32).
GAINS: Final = {128: 1, 64: 3, 32: 2}
_BITS: Final = 24
#: A pulse (both writes) that took this long may have held PD_SCK high past 60 us.
SUSPECT_PULSE_NS: Final = 50_000


class HX711:
    """One HX711 on two GPIO pins.

    Args:
        factory: The gpiozero pin factory.
        dout: BCM pin wired to the chip's DOUT.
        sck: BCM pin wired to the chip's PD_SCK.
        gain: 128 or 64 (channel A) or 32 (channel B), for every sample after the first.
        name: For error messages.
        clock: Times the pulses (the hardware factory's clock).
    """

    def __init__(
        self,
        factory: Any,
        *,
        dout: int,
        sck: int,
        gain: int = 128,
        name: str = "hx711",
        clock: Clock | None = None,
    ) -> None:
        import gpiozero

        if gain not in GAINS:
            raise ValueError(f"{name}: gain must be one of {sorted(GAINS)}, got {gain!r}")
        self.name = name
        self.extra = GAINS[gain]
        self.clock = clock or SystemClock()
        self.reads = 0
        self.discarded = 0
        try:
            self._sck_device = gpiozero.DigitalOutputDevice(
                sck, pin_factory=factory, initial_value=False
            )
        except gpiozero.GPIOZeroError as exc:
            raise PinUnavailable(f"{name} PD_SCK: GPIO{sck} cannot be used: {exc}") from exc
        try:
            self._dout_device = gpiozero.DigitalInputDevice(
                dout, pin_factory=factory, pull_up=False
            )
        except gpiozero.GPIOZeroError as exc:
            self._sck_device.close()
            raise PinUnavailable(f"{name} DOUT: GPIO{dout} cannot be used: {exc}") from exc
        self._sck = self._sck_device.pin
        self._dout = self._dout_device.pin

    @property
    def is_ready(self) -> bool:
        """Whether a sample waits (DOUT low)."""
        return not self._dout.state

    def read(self) -> int | None:
        """One sample in counts (signed 24 bit); None when none is ready or the read is suspect."""
        if self._dout.state:
            return None
        sck, dout, clock = self._sck, self._dout, self.clock.monotonic_ns
        value = longest = 0
        for _ in range(_BITS):
            start = clock()
            sck.state = True
            sck.state = False
            longest = max(longest, clock() - start)
            value = (value << 1) | bool(dout.state)
        for _ in range(self.extra):
            start = clock()
            sck.state = True
            sck.state = False
            longest = max(longest, clock() - start)
        if longest >= SUSPECT_PULSE_NS:
            self.discarded += 1  # the chip may have powered down mid-sample: not to be trusted
            return None
        self.reads += 1
        return value - (1 << _BITS) if value & (1 << (_BITS - 1)) else value

    def power_down(self) -> None:
        """Holds PD_SCK high: the chip sleeps until the next `read()` wakes it (and settles)."""
        self._sck.state = True

    def close(self) -> None:
        """Releases both pins (PD_SCK low first)."""
        self._sck_device.close()
        self._dout_device.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
