"""A drop-in fake of the `spidev` module that routes transfers to emulated chips.

`spidev_module(wiring)` builds a module object with the real module's `SpiDev` surface (`open`,
`xfer`, `xfer2`, `xfer3`, `writebytes`, `readbytes`, `close`, `mode`, `max_speed_hz`, ...). Each
`SpiDev.open(bus, device)` is bound to the device node `/dev/spidev{bus}.{device}` of one
`SpiWiring`; every transfer is one chip-select frame on the chip wired there. Installing the
module into `sys.modules` is the hardware factory's job (`hardware.factory`), never done here.

Faults a test can drive: a missing device node (`open` fails as on a Pi without the SPI overlay),
an empty chip select (MISO reads 0x00), and a bus that fails with EIO (`SpiWiring.fail`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any, Protocol

__all__ = ["SpiDev", "SpiTarget", "SpiWiring", "spidev_module"]


class SpiTarget(Protocol):
    """What sits on a chip select: anything that clocks one full-duplex frame."""

    def transfer(self, frame: Sequence[int]) -> list[int]:
        """Clocks `frame` out on MOSI; returns what came back on MISO."""
        ...


class SpiWiring:
    """The SPI device nodes of one emulated Pi and the chips wired to their chip selects.

    Args:
        nodes: The `(bus, device)` nodes that exist (the default SPI overlay gives 0.0 and 0.1).
    """

    def __init__(self, nodes: Iterable[tuple[int, int]] = ((0, 0), (0, 1))) -> None:
        self.nodes = set(nodes)
        self._targets: dict[tuple[int, int], SpiTarget] = {}
        self._failing: dict[tuple[int, int], int] = {}

    def attach(self, bus: int, device: int, target: SpiTarget) -> None:
        """Wires `target` to chip select `device` of `bus` (creating the node if needed)."""
        self.nodes.add((bus, device))
        self._targets[(bus, device)] = target

    def detach(self, bus: int, device: int) -> None:
        """Removes the chip from that chip select: MISO then reads 0x00."""
        self._targets.pop((bus, device), None)

    def target(self, bus: int, device: int) -> SpiTarget | None:
        """The chip on that chip select, if any."""
        return self._targets.get((bus, device))

    def fail(self, bus: int, device: int, error: int = errno.EIO) -> None:
        """Makes every transfer on that node fail with `OSError(error)` until `heal`."""
        self._failing[(bus, device)] = error

    def heal(self, bus: int, device: int) -> None:
        """Ends a failure set by `fail`."""
        self._failing.pop((bus, device), None)

    def xfer(self, bus: int, device: int, frame: Sequence[int]) -> list[int]:
        """One chip-select frame on that node."""
        if (bus, device) in self._failing:
            code = self._failing[(bus, device)]
            raise OSError(code, f"{errno.errorcode.get(code, code)} on /dev/spidev{bus}.{device}")
        target = self._targets.get((bus, device))
        if target is None:
            return [0] * len(frame)
        return target.transfer([int(b) & 0xFF for b in frame])


class SpiDev:
    """The emulated `spidev.SpiDev`; instances come from a module made by `spidev_module`."""

    _wiring: SpiWiring

    def __init__(self, bus: int | None = None, device: int | None = None) -> None:
        self.mode = 0
        self.max_speed_hz = 0
        self.bits_per_word = 8
        self.lsbfirst = False
        self.cshigh = False
        self.no_cs = False
        self.threewire = False
        self.loop = False
        self._node: tuple[int, int] | None = None
        if bus is not None and device is not None:
            self.open(bus, device)

    def open(self, bus: int, device: int) -> None:
        """Opens `/dev/spidev{bus}.{device}`; fails as the real module does when it is missing."""
        if (bus, device) not in self._wiring.nodes:
            path = f"/dev/spidev{bus}.{device}"
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self._node = (bus, device)
        self.max_speed_hz = self.max_speed_hz or 125_000_000

    def close(self) -> None:
        """Closes the device node (closing twice is harmless, as with the real module)."""
        self._node = None

    def fileno(self) -> int:
        """The real module's file descriptor; -1 when closed (no real descriptor exists)."""
        return -1

    def _xfer(self, data: Sequence[int]) -> list[int]:
        if self._node is None:
            raise OSError(errno.EBADF, "Bad file descriptor (SpiDev is not open)")
        return self._wiring.xfer(self._node[0], self._node[1], data)

    def xfer(self, data: Sequence[int], *args: Any) -> list[int]:
        """Full-duplex transfer of `data` (chip select released between bytes on the real one)."""
        return self._xfer(data)

    def xfer2(self, data: Sequence[int], *args: Any) -> list[int]:
        """Full-duplex transfer of `data` in one chip-select frame."""
        return self._xfer(data)

    def xfer3(self, data: Sequence[int], *args: Any) -> list[int]:
        """Like `xfer2` for long buffers."""
        return self._xfer(data)

    def writebytes(self, data: Sequence[int]) -> None:
        """Writes `data`, discarding what comes back."""
        self._xfer(data)

    def writebytes2(self, data: Sequence[int]) -> None:
        """Like `writebytes` for long buffers."""
        self._xfer(data)

    def readbytes(self, count: int) -> list[int]:
        """Clocks out `count` zero bytes and returns what comes back."""
        return self._xfer([0] * count)


def spidev_module(wiring: SpiWiring) -> ModuleType:
    """Builds a fresh `spidev` module whose `SpiDev` opens the nodes of `wiring`."""
    module = ModuleType("spidev", "Emulated spidev (taktline hardware/spidev_emu.py).")
    bound = type("SpiDev", (SpiDev,), {"_wiring": wiring, "__module__": "spidev"})
    module.__dict__.update(SpiDev=bound, __version__="3.6-emulated")
    return module
