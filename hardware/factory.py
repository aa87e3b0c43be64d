"""The hardware factory: where the agent's drivers get their SPI bus, pins, serial port and clock.

Two factories share one surface (`Hardware`): `PiHardware` hands out the real modules
(`spidev`, `RPi.GPIO`, gpiozero's own pin factory, pyserial ports) and `EmulatedHardware` hands out
the emulators in this package (MFRC522 chips behind a fake `spidev`, a fake `RPi.GPIO` whose
reset pin reaches the chips, gpiozero's `MockFactory`, pty pairs for serial devices). The choice
is explicit: `hardware_factory(setting)` takes the config value, else the environment variable
`TAKTLINE_HARDWARE` (`pi` or `emulated`), else `pi`; on a machine that is not a Pi the real
factory fails with a message saying how to choose the emulated one. Nothing falls back silently.

Packages that import `spidev` and `RPi.GPIO` at import time (`mfrc522`) get them through
`Hardware.mfrc522_class()`: the emulated factory imports the package while its fake modules are
in `sys.modules` and restores `sys.modules` at once, so the class keeps this factory's fakes and
no global state is left behind. `with hw.installed():` does the same for any other code, for the
duration of the block. On a Raspberry Pi 5, RPi.GPIO fails ("Cannot determine SOC peripheral
base address"): install `rpi-lgpio` (a drop-in `RPi.GPIO` on lgpio) in its place.
"""

from __future__ import annotations

import importlib
import os
import sys
import tty
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from types import ModuleType, TracebackType
from typing import Any

from hardware.hx711_chip import HX711Chip
from hardware.mfrc522_chip import MFRC522Chip
from hardware.rpi_gpio_emu import BCM_TO_BOARD, GpioHeader, gpio_module
from hardware.spidev_emu import SpiWiring, spidev_module
from taktline.clock import Clock, SystemClock

__all__ = [
    "ENV_VAR",
    "GPSD_DEFAULT",
    "EmulatedHardware",
    "Hardware",
    "HardwareError",
    "HardwareUnavailable",
    "PiHardware",
    "UnknownHardware",
    "hardware_factory",
]

ENV_VAR = "TAKTLINE_HARDWARE"
#: Where gpsd listens unless the config says otherwise (its Debian default).
GPSD_DEFAULT: tuple[str, int] = ("127.0.0.1", 2947)
_DRIVER_MODULES = ("mfrc522",)
_FAKED = ("spidev", "RPi", "RPi.GPIO")


class HardwareError(Exception):
    """Base of the errors the hardware factory raises."""


class UnknownHardware(HardwareError, ValueError):
    """The hardware setting names neither `pi` nor `emulated`."""


class HardwareUnavailable(HardwareError, OSError):
    """The requested hardware (a module, a device node, a serial port) is not there."""


class Hardware(ABC):
    """What drivers ask for their bus, pins, serial ports, gpsd address and clock.

    Args:
        clock: The clock every driver uses; the system clock when omitted.
    """

    kind = "abstract"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        #: An emulated receiver's gpsd, set by whoever attaches one (tests, the demo); it wins
        #: over the config's address, as the emulated chips win over the config's SPI device.
        self.gpsd: tuple[str, int] | None = None

    def spi(self, bus: int, device: int) -> Any:
        """An opened `spidev.SpiDev` on `/dev/spidev{bus}.{device}`."""
        spidev = self.module("spidev")
        dev = spidev.SpiDev()
        try:
            dev.open(bus, device)
        except OSError as exc:
            raise HardwareUnavailable(
                f"SPI device /dev/spidev{bus}.{device} cannot be opened ({exc}); "
                "enable SPI (dtparam=spi=on) and check the chip select"
            ) from exc
        return dev

    def gpio(self) -> Any:
        """The `RPi.GPIO` module drivers must use."""
        return self.module("RPi.GPIO")

    @abstractmethod
    def module(self, name: str) -> Any:
        """The module `name` (`spidev`, `RPi.GPIO`, ...) as this factory provides it."""
        ...

    @abstractmethod
    def pin_factory(self) -> Any:
        """The gpiozero pin factory for this hardware."""
        ...

    @abstractmethod
    def serial_port(self, port: str, *, baudrate: int = 115200, timeout: float | None = 0.1) -> Any:
        """An opened `serial.Serial` on `port`."""
        ...

    def gpsd_address(self, configured: tuple[str, int] | None = None) -> tuple[str, int]:
        """Host and port of the gpsd daemon.

        An emulated receiver attached to this factory (`gpsd`) first, else the agent's configured
        address (`gpsd = "host:port"` in `[lorry]`), else gpsd's default `GPSD_DEFAULT`.
        """
        return self.gpsd or configured or GPSD_DEFAULT

    @abstractmethod
    def mfrc522_class(self) -> type[Any]:
        """The `mfrc522.MFRC522` class, bound to this factory's `spidev` and `RPi.GPIO`."""
        ...

    def wire_hx711(self, dout: int, sck: int) -> None:  # noqa: B027 - real chips are wired
        """Makes sure an HX711 sits on `dout`/`sck` (the emulated factory wires one if none)."""

    def close(self) -> None:  # noqa: B027 - a default: real hardware holds nothing to release
        """Releases what the factory opened."""

    def __enter__(self) -> Hardware:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PiHardware(Hardware):
    """The real hardware of a Raspberry Pi."""

    kind = "pi"

    def module(self, name: str) -> Any:
        """Imports the real module `name`; fails with advice when this is not a Pi."""
        try:
            return importlib.import_module(name)
        except (ImportError, RuntimeError) as exc:
            raise HardwareUnavailable(
                f"cannot import {name} ({exc}). Off a Pi, choose the emulated hardware: "
                f'{ENV_VAR}=emulated or `hardware = "emulated"` in the agent\'s config. On a Pi 5, '
                "RPi.GPIO fails: install rpi-lgpio in its place (pip install rpi-lgpio)."
            ) from exc

    def pin_factory(self) -> Any:
        """The lgpio pin factory of gpiozero (Pi 5 and earlier), else its RPi.GPIO factory."""
        try:
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        except Exception as first:  # lgpio missing or failing: fall back to the next real factory
            try:
                from gpiozero.pins.rpigpio import RPiGPIOFactory

                return RPiGPIOFactory()
            except Exception as exc:
                raise HardwareUnavailable(
                    f"no GPIO pin factory: lgpio ({first}), RPi.GPIO ({exc}). Off a Pi, choose the "
                    f'emulated hardware: {ENV_VAR}=emulated or `hardware = "emulated"` in the '
                    "agent's config; on a Pi, install the `pi` extra"
                ) from exc

    def serial_port(self, port: str, *, baudrate: int = 115200, timeout: float | None = 0.1) -> Any:
        """Opens a real serial port (`/dev/ttyACM0`, `/dev/serial0`, ...)."""
        import serial

        try:
            return serial.Serial(port, baudrate=baudrate, timeout=timeout)
        except serial.SerialException as exc:
            raise HardwareUnavailable(f"serial port {port} cannot be opened: {exc}") from exc

    def mfrc522_class(self) -> type[Any]:
        """The real package's class."""
        module = self.module("mfrc522.MFRC522")
        cls: type[Any] = module.MFRC522
        return cls


class EmulatedHardware(Hardware):
    """Emulated hardware: MFRC522 chips on SPI, HX711s on mock pins, a GPIO header, pty serial.

    Args:
        clock: The clock drivers use (a `FakeClock` in tests).
        spi_nodes: The `/dev/spidevB.D` nodes that exist.
    """

    kind = "emulated"

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        spi_nodes: tuple[tuple[int, int], ...] = ((0, 0), (0, 1)),
    ) -> None:
        super().__init__(clock)
        self.wiring = SpiWiring(spi_nodes)
        self.header = GpioHeader()
        rpi, gpio = gpio_module(self.header)
        self._modules: dict[str, ModuleType] = {
            "spidev": spidev_module(self.wiring),
            "RPi": rpi,
            "RPi.GPIO": gpio,
        }
        self._pin_factory: Any = None
        self._mfrc522: type[Any] | None = None
        self._serial: dict[str, tuple[int, int]] = {}
        self._paths: dict[str, str] = {}
        #: (dout, sck) -> the HX711 load-cell ADC wired there
        self.hx711s: dict[tuple[int, int], HX711Chip] = {}

    # ----- wiring ---------------------------------------------------------------------------

    def add_mfrc522(
        self,
        bus: int = 0,
        device: int = 0,
        *,
        reset_pin: int | None = 25,
        chip: MFRC522Chip | None = None,
    ) -> MFRC522Chip:
        """Wires an MFRC522 to `bus`/`device` with NRSTPD on BCM pin `reset_pin`; returns it."""
        chip = chip or MFRC522Chip()
        self.wiring.attach(bus, device, chip)
        if reset_pin is not None:
            if reset_pin not in BCM_TO_BOARD:
                raise UnknownHardware(f"reset pin GPIO{reset_pin} is not on the 40-pin header")
            self.header.on_change(reset_pin, chip.set_reset_pin)
        return chip

    def add_hx711(self, dout: int, sck: int, chip: HX711Chip | None = None) -> HX711Chip:
        """Wires an HX711 (a load cell's ADC) to BCM pins `dout` and `sck`; returns it.

        Call it before the driver opens the pins (the pins are created as the chip's).
        """
        chip = chip or HX711Chip(self.clock)
        chip.attach(self.pin_factory(), dout=dout, sck=sck)
        self.hx711s[(dout, sck)] = chip
        return chip

    def wire_hx711(self, dout: int, sck: int) -> None:
        """Wires an HX711 with an empty load cell when none is on these pins yet."""
        if (dout, sck) not in self.hx711s:
            self.add_hx711(dout, sck)

    def add_serial_device(self, port: str) -> int:
        """Creates a pty pair for `port`; returns the device side's file descriptor."""
        device, host = os.openpty()
        tty.setraw(host)
        tty.setraw(device)
        self._serial[port] = (device, host)
        return device

    def connect_serial(self, port: str, device: str) -> None:
        """Makes `port` (a name in an agent config) open an existing pty `device`.

        An `EmulatedNode` (hardware/serial_node.py) makes its own pty; this plugs it in.
        """
        self._paths[port] = device

    # ----- the Hardware surface -------------------------------------------------------------

    def module(self, name: str) -> Any:
        """The emulated `spidev`, `RPi` or `RPi.GPIO` module of this factory."""
        if name not in self._modules:
            raise HardwareUnavailable(f"the emulated hardware provides no module {name!r}")
        return self._modules[name]

    def pin_factory(self) -> Any:
        """The gpiozero `MockFactory` of this emulated Pi (one per factory)."""
        if self._pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            self._pin_factory = MockFactory()
        return self._pin_factory

    def serial_port(self, port: str, *, baudrate: int = 115200, timeout: float | None = 0.1) -> Any:
        """Opens the host side of the pty made by `add_serial_device(port)`."""
        import serial

        if port in self._paths:
            return serial.Serial(self._paths[port], baudrate=baudrate, timeout=timeout)
        if port not in self._serial:
            raise HardwareUnavailable(
                f"no emulated serial device on {port}; call add_serial_device({port!r}) first"
            )
        return serial.Serial(os.ttyname(self._serial[port][1]), baudrate=baudrate, timeout=timeout)

    def mfrc522_class(self) -> type[Any]:
        """Imports `mfrc522` against this factory's fakes, leaving `sys.modules` as it was."""
        if self._mfrc522 is None:
            with self.installed():
                module = importlib.import_module("mfrc522.MFRC522")
            self._mfrc522 = module.MFRC522
        return self._mfrc522

    @contextmanager
    def installed(self) -> Iterator[EmulatedHardware]:
        """Puts the fake `spidev`, `RPi` and `RPi.GPIO` into `sys.modules` for the block.

        Modules of packages that bind them at import (`mfrc522`) are evicted on entry and on
        exit, so each block imports them afresh; everything is restored on exit.
        """
        saved = _save_modules()
        try:
            for name in [*_FAKED, *_driver_modules()]:
                sys.modules.pop(name, None)
            sys.modules.update(self._modules)
            yield self
        finally:
            _restore_modules(saved)

    def close(self) -> None:
        """Closes the serial ptys and gpiozero's mock factory."""
        for device, host in self._serial.values():
            for fd in (device, host):
                with suppress(OSError):
                    os.close(fd)
        self._serial.clear()
        if self._pin_factory is not None:
            self._pin_factory.close()
            self._pin_factory = None


def _driver_modules() -> list[str]:
    # a copy of the keys: another thread may import while this one looks (seen in the demo)
    return [
        name
        for name in list(sys.modules)
        if any(name == root or name.startswith(root + ".") for root in _DRIVER_MODULES)
    ]


def _save_modules() -> dict[str, ModuleType | None]:
    return {name: sys.modules.get(name) for name in [*_FAKED, *_driver_modules()]}


def _restore_modules(saved: Mapping[str, ModuleType | None]) -> None:
    for name in [*_FAKED, *_driver_modules()]:
        sys.modules.pop(name, None)
    for name, module in saved.items():
        if module is not None:
            sys.modules[name] = module


def hardware_factory(
    setting: str | None = None,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> Hardware:
    """Chooses the hardware: `setting` (the config's value), else `$TAKTLINE_HARDWARE`, else pi.

    Raises:
        UnknownHardware: The setting is neither `pi` nor `emulated`.
    """
    env = os.environ if environ is None else environ
    source = "config value `hardware`" if setting else f"environment variable {ENV_VAR}"
    choice = (setting or env.get(ENV_VAR) or "pi").strip().lower()
    if choice == "emulated":
        return EmulatedHardware(clock)
    if choice == "pi":
        return PiHardware(clock)
    raise UnknownHardware(f"{source} is {choice!r}; use 'pi' (real hardware) or 'emulated'")
