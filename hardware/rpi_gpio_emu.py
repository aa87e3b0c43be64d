"""A drop-in fake of `RPi.GPIO` on an emulated 40-pin header.

`gpio_module(header)` builds an `RPi.GPIO`-shaped module (setmode/getmode, setwarnings, setup,
output, input, cleanup and the BOARD/BCM/OUT/IN/HIGH/LOW/PUD_* constants) over one `GpioHeader`.
The header keeps pin levels in BCM numbering and calls listeners when an output changes level:
that is how an emulated MFRC522's NRSTPD follows the reset pin the `mfrc522` package drives.
It raises the real module's errors for the mistakes drivers make (no numbering mode, a second
mode, writing a pin not set up as an output, a channel that does not exist).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

__all__ = ["BOARD_TO_BCM", "GpioHeader", "gpio_module"]

BOARD = 10
BCM = 11
OUT = 0
IN = 1
LOW = 0
HIGH = 1
PUD_OFF = 20
PUD_DOWN = 21
PUD_UP = 22

# Physical pin -> BCM GPIO number on the 40-pin header.
BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
    36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip
BCM_TO_BOARD = {bcm: board for board, bcm in BOARD_TO_BCM.items()}


class GpioHeader:
    """The pins of one emulated Pi, in BCM numbering, with listeners on output changes."""

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}
        self.directions: dict[int, int] = {}
        self._listeners: dict[int, list[Callable[[bool], None]]] = {}

    def on_change(self, bcm: int, listener: Callable[[bool], None]) -> None:
        """Calls `listener(level)` whenever output pin `bcm` is driven to a new level."""
        self._listeners.setdefault(bcm, []).append(listener)

    def drive(self, bcm: int, level: int) -> None:
        """Sets the level of pin `bcm` (an output written by the host, or an input from outside)."""
        level = HIGH if level else LOW
        changed = self.levels.get(bcm) != level
        self.levels[bcm] = level
        if changed and self.directions.get(bcm) == OUT:
            for listener in self._listeners.get(bcm, []):
                listener(bool(level))


class _Gpio:
    """The state behind one emulated RPi.GPIO module."""

    def __init__(self, header: GpioHeader) -> None:
        self.header = header
        self.mode: int | None = None
        self.warnings = True

    def setmode(self, mode: int) -> None:
        if mode not in (BOARD, BCM):
            raise ValueError("An invalid mode was passed to setmode()")
        if self.mode is not None and self.mode != mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def getmode(self) -> int | None:
        return self.mode

    def setwarnings(self, flag: bool) -> None:
        self.warnings = bool(flag)

    def _bcm(self, channel: int) -> int:
        if self.mode is None:
            raise RuntimeError(
                "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or "
                "GPIO.setmode(GPIO.BCM)"
            )
        if self.mode == BOARD:
            if channel not in BOARD_TO_BCM:
                raise ValueError("The channel sent is invalid on a Raspberry Pi")
            return BOARD_TO_BCM[channel]
        if channel not in BCM_TO_BOARD:
            raise ValueError("The channel sent is invalid on a Raspberry Pi")
        return channel

    def setup(
        self,
        channel: int | Iterable[int],
        direction: int,
        pull_up_down: int = PUD_OFF,
        initial: int = -1,
    ) -> None:
        for one in [channel] if isinstance(channel, int) else list(channel):
            bcm = self._bcm(one)
            self.header.directions[bcm] = direction
            if direction == OUT:
                self.header.drive(bcm, initial if initial != -1 else LOW)
            elif pull_up_down != PUD_OFF and bcm not in self.header.levels:
                self.header.levels[bcm] = HIGH if pull_up_down == PUD_UP else LOW

    def output(self, channel: int | Iterable[int], value: int | Iterable[int]) -> None:
        channels = [channel] if isinstance(channel, int) else list(channel)
        values = [value] * len(channels) if isinstance(value, int) else list(value)
        for one, level in zip(channels, values, strict=True):
            bcm = self._bcm(one)
            if self.header.directions.get(bcm) != OUT:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            self.header.drive(bcm, level)

    def input(self, channel: int) -> int:
        bcm = self._bcm(channel)
        if bcm not in self.header.directions:
            raise RuntimeError("You must setup() the GPIO channel first")
        return self.header.levels.get(bcm, LOW)

    def cleanup(self, channel: int | Iterable[int] | None = None) -> None:
        if channel is None:
            self.header.directions.clear()
            self.mode = None
            return
        for one in [channel] if isinstance(channel, int) else list(channel):
            self.header.directions.pop(self._bcm(one), None)


def gpio_module(header: GpioHeader) -> tuple[ModuleType, ModuleType]:
    """Builds fresh `RPi` and `RPi.GPIO` modules over `header`; returns `(RPi, RPi.GPIO)`."""
    state = _Gpio(header)
    gpio = ModuleType("RPi.GPIO", "Emulated RPi.GPIO (taktline hardware/rpi_gpio_emu.py).")
    names: dict[str, Any] = {
        "BOARD": BOARD,
        "BCM": BCM,
        "OUT": OUT,
        "IN": IN,
        "LOW": LOW,
        "HIGH": HIGH,
        "PUD_OFF": PUD_OFF,
        "PUD_DOWN": PUD_DOWN,
        "PUD_UP": PUD_UP,
        "VERSION": "0.7.1-emulated",
        "RPI_INFO": {"P1_REVISION": 3, "TYPE": "Emulated", "PROCESSOR": "emulated"},
        "setmode": state.setmode,
        "getmode": state.getmode,
        "setwarnings": state.setwarnings,
        "setup": state.setup,
        "output": state.output,
        "input": state.input,
        "cleanup": state.cleanup,
    }
    gpio.__dict__.update(names)
    package = ModuleType("RPi", "Emulated RPi package.")
    package.__path__ = []
    package.__dict__["GPIO"] = gpio
    return package, gpio
