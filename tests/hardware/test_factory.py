"""The hardware factory, the fake spidev and RPi.GPIO modules, and the real mfrc522 code on them."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Iterator

import pytest

from hardware.factory import (
    EmulatedHardware,
    HardwareUnavailable,
    PiHardware,
    UnknownHardware,
    hardware_factory,
)
from hardware.mfrc522_chip import Tag
from taktline.clock import FakeClock


@pytest.fixture
def hw() -> Iterator[EmulatedHardware]:
    with EmulatedHardware(FakeClock()) as hardware:
        yield hardware


@pytest.fixture(autouse=True)
def _no_mfrc522_log_handlers() -> Iterator[None]:
    logger = logging.getLogger("mfrc522Logger")
    before = list(logger.handlers)
    yield
    for handler in logger.handlers[:]:
        if handler not in before:
            logger.removeHandler(handler)


def test_choice_is_explicit() -> None:
    assert isinstance(hardware_factory(environ={}), PiHardware)
    assert isinstance(hardware_factory(environ={"TAKTLINE_HARDWARE": "emulated"}), EmulatedHardware)
    assert isinstance(hardware_factory("emulated", environ={}), EmulatedHardware)
    assert isinstance(hardware_factory("pi", environ={"TAKTLINE_HARDWARE": "emulated"}), PiHardware)
    with pytest.raises(UnknownHardware, match="'mock'"):
        hardware_factory("mock", environ={})
    with pytest.raises(UnknownHardware, match="TAKTLINE_HARDWARE"):
        hardware_factory(environ={"TAKTLINE_HARDWARE": "fake"})


def test_real_factory_off_a_pi_says_how_to_choose_the_emulated_one() -> None:
    before = dict(sys.modules)
    with pytest.raises(HardwareUnavailable, match="TAKTLINE_HARDWARE=emulated"):
        PiHardware().mfrc522_class()
    assert "RPi.GPIO" not in sys.modules or sys.modules["RPi.GPIO"] is before.get("RPi.GPIO")


def test_installed_is_reversible(hw: EmulatedHardware) -> None:
    sentinel = object()
    sys.modules["spidev"] = sentinel  # type: ignore[assignment]
    try:
        with hw.installed():
            import spidev

            assert spidev is hw.module("spidev")
            import mfrc522  # the real package imports on the fakes

            assert mfrc522.MFRC522 is not None
        assert sys.modules["spidev"] is sentinel
        assert "mfrc522" not in sys.modules and "RPi.GPIO" not in sys.modules
    finally:
        del sys.modules["spidev"]


def test_mfrc522_class_leaves_no_global_state(hw: EmulatedHardware) -> None:
    cls = hw.mfrc522_class()
    assert "mfrc522" not in sys.modules and "spidev" not in sys.modules
    other = EmulatedHardware().mfrc522_class()
    assert other is not cls  # each emulated Pi has its own copy bound to its own fakes


def test_spidev_routes_by_chip_select(hw: EmulatedHardware) -> None:
    a = hw.add_mfrc522(0, 0, reset_pin=None)
    b = hw.add_mfrc522(0, 1, reset_pin=None)
    b.version = 0x91
    b.set_reset_pin(False)
    b.set_reset_pin(True)
    spi0, spi1 = hw.spi(0, 0), hw.spi(0, 1)
    assert spi0.xfer2([0x80 | (0x37 << 1), 0])[1] == 0x92
    assert spi1.xfer2([0x80 | (0x37 << 1), 0])[1] == 0x91
    assert a.transfers == 1 and b.transfers == 1
    spi1.close()
    with pytest.raises(OSError):
        spi1.xfer2([0, 0])


def test_spidev_faults(hw: EmulatedHardware) -> None:
    with pytest.raises(HardwareUnavailable, match=r"spidev1\.0"):
        hw.spi(1, 0)
    spi = hw.spi(0, 1)
    assert spi.xfer2([0x80 | (0x37 << 1), 0]) == [0, 0]  # nothing wired: MISO low
    hw.wiring.fail(0, 1)
    with pytest.raises(OSError) as info:
        spi.xfer2([0])
    assert info.value.errno == errno.EIO
    hw.wiring.heal(0, 1)
    assert spi.readbytes(2) == [0, 0]


def test_gpio_module_behaves_like_rpi_gpio(hw: EmulatedHardware) -> None:
    gpio = hw.gpio()
    with pytest.raises(RuntimeError, match="setmode"):
        gpio.setup(22, gpio.OUT)
    gpio.setmode(gpio.BOARD)
    assert gpio.getmode() == gpio.BOARD
    with pytest.raises(ValueError, match="different mode"):
        gpio.setmode(gpio.BCM)
    with pytest.raises(RuntimeError, match="OUTPUT"):
        gpio.output(22, 1)
    with pytest.raises(ValueError, match="invalid"):
        gpio.setup(4, gpio.OUT)  # physical pin 4 is 5 V
    gpio.setup(22, gpio.OUT, initial=gpio.HIGH)
    assert hw.header.levels[25] == 1  # physical 22 is GPIO25
    gpio.setup(11, gpio.IN, pull_up_down=gpio.PUD_UP)
    assert gpio.input(11) == 1
    gpio.cleanup()
    assert gpio.getmode() is None


def test_reset_pin_reaches_the_chip(hw: EmulatedHardware) -> None:
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    gpio = hw.gpio()
    gpio.setmode(gpio.BCM)
    gpio.setup(25, gpio.OUT)
    assert not chip.powered
    gpio.output(25, gpio.HIGH)
    assert chip.powered


def test_real_mfrc522_package_reads_a_tag_and_shows_its_quirks(hw: EmulatedHardware) -> None:
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    cls = hw.mfrc522_class()
    reader = cls(bus=0, device=0, pin_mode=10, pin_rst=22)
    assert chip.powered and chip.antenna_on
    start = chip.transfers
    status, _ = reader.MFRC522_Request(reader.PICC_REQIDL)
    assert status == reader.MI_ERR
    assert chip.transfers - start > 2000  # no card: the IRQ loop ignores the timer
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert reader.MFRC522_Request(reader.PICC_REQIDL) == (reader.MI_OK, 16)
    status, uid = reader.MFRC522_Anticoll()
    assert status == reader.MI_OK and uid == [0xDE, 0xAD, 0xBE, 0xEF, 0x22]  # BCC included
    assert reader.MFRC522_SelectTag(uid) == 0x08
    assert reader.MFRC522_Auth(reader.PICC_AUTHENT1A, 8, [0xFF] * 6, uid) == reader.MI_OK
    reader.MFRC522_Write(8, list(range(16)))
    assert reader.MFRC522_Read(8) == list(range(16))


def test_serial_ports_are_pty_pairs(hw: EmulatedHardware) -> None:
    device = hw.add_serial_device("/dev/ttyACM0")
    port = hw.serial_port("/dev/ttyACM0", timeout=1)
    try:
        os.write(device, b"hello")
        assert port.read(5) == b"hello"
        port.write(b"ok")
        port.flush()
        assert os.read(device, 2) == b"ok"
    finally:
        port.close()
    with pytest.raises(HardwareUnavailable, match="add_serial_device"):
        hw.serial_port("/dev/ttyUSB9")


def test_pin_factory_is_gpiozero_mock(hw: EmulatedHardware) -> None:
    from gpiozero import Button
    from gpiozero.pins.mock import MockFactory

    factory = hw.pin_factory()
    assert isinstance(factory, MockFactory)
    button = Button(17, pin_factory=factory)
    try:
        factory.pin(17).drive_low()
        assert button.is_pressed
    finally:
        button.close()
