"""The RFID reader: the real mfrc522 package code against the emulated MFRC522."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.rfid import RfidError, RfidReader
from hardware.factory import EmulatedHardware, PiHardware
from hardware.mfrc522_chip import MFRC522Chip, Tag
from taktline.clock import FakeClock

NTAG = bytes.fromhex("04A1B2C3D4E580")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hw(clock: FakeClock) -> Iterator[EmulatedHardware]:
    modules = {name: sys.modules.get(name) for name in ("spidev", "RPi", "RPi.GPIO", "mfrc522")}
    with EmulatedHardware(clock) as hardware:
        yield hardware
    assert {name: sys.modules.get(name) for name in modules} == modules


@pytest.fixture
def chip(hw: EmulatedHardware) -> MFRC522Chip:
    return hw.add_mfrc522(0, 0, reset_pin=25)


@pytest.fixture
def reader(hw: EmulatedHardware, chip: MFRC522Chip) -> Iterator[RfidReader]:
    with RfidReader(hw, 0, 0, reset_pin=25) as rfid:
        yield rfid


def hold(reader: RfidReader, clock: FakeClock, seconds: float, every: float = 0.1) -> list[str]:
    """Polls for `seconds` of fake time; returns every tag reported."""
    reads: list[str] = []
    for _ in range(round(seconds / every)):
        tag = reader.poll()
        if tag is not None:
            reads.append(tag)
        clock.advance(every)
    return reads


def test_a_tap_is_exactly_one_read(reader: RfidReader, chip: MFRC522Chip, clock: FakeClock) -> None:
    assert reader.is_connected and reader.poll() is None
    tag = chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert hold(reader, clock, 0.3) == ["DEADBEEF"]  # contract id: no BCC (0x22)
    assert reader.is_present
    chip.remove_tag(tag)
    assert hold(reader, clock, 1.0) == []
    assert not reader.is_present and reader.reads == 1


def test_a_tag_held_ten_seconds_is_one_read(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert hold(reader, clock, 10.0) == ["DEADBEEF"]


def test_a_second_tap_after_leaving_is_a_second_read(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    tag = Tag(bytes.fromhex("DEADBEEF"))
    left: list[str] = []
    reader.when_tag_left = left.append
    for _ in range(2):
        chip.add_tag(tag)
        assert hold(reader, clock, 0.2) == ["DEADBEEF"]
        chip.remove_tag(tag)
        hold(reader, clock, 1.0)
    assert left == ["DEADBEEF", "DEADBEEF"]


def test_a_crc_error_is_counted_not_reported(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    chip.fail_next_crc()
    assert reader.poll() is None
    assert reader.crc_errors == 1 and not reader.is_present
    assert hold(reader, clock, 0.5) == ["DEADBEEF"]


def test_a_crc_error_while_held_does_not_make_a_second_read(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert hold(reader, clock, 1.0) == ["DEADBEEF"]
    chip.fail_next_crc()
    assert hold(reader, clock, 2.0) == []
    assert reader.crc_errors == 1 and reader.reads == 1


def test_seven_byte_uid_uses_the_second_cascade_level(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(NTAG))
    assert hold(reader, clock, 0.5) == ["04A1B2C3D4E580"]  # no 0x88, no BCCs


def test_two_tags_in_the_field_are_two_reads(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(bytes.fromhex("12345678")))
    chip.add_tag(Tag(bytes.fromhex("12345679")))
    chip.add_tag(Tag(NTAG))
    assert sorted(hold(reader, clock, 1.0)) == ["04A1B2C3D4E580", "12345678", "12345679"]
    assert reader.collisions > 0
    assert reader.tags_present == {"04A1B2C3D4E580", "12345678", "12345679"}


def test_no_card_poll_is_bounded(reader: RfidReader, chip: MFRC522Chip) -> None:
    before = chip.transfers
    assert reader.poll() is None
    assert chip.transfers - before < 40  # the package's own loop makes over 2,000


def test_callback_and_wait_for_tag(reader: RfidReader, chip: MFRC522Chip, clock: FakeClock) -> None:
    seen: list[str] = []
    reader.when_tag = seen.append
    assert reader.wait_for_tag(timeout=0.5) is None
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert reader.wait_for_tag(timeout=0.5) == "DEADBEEF"
    assert seen == ["DEADBEEF"]


def test_two_readers_on_two_chip_selects(hw: EmulatedHardware, clock: FakeClock) -> None:
    entry = hw.add_mfrc522(0, 0, reset_pin=25)
    exit_ = hw.add_mfrc522(0, 1, reset_pin=24)
    with RfidReader(hw, 0, 0, reset_pin=25) as a, RfidReader(hw, 0, 1, reset_pin=24) as b:
        assert entry.powered and exit_.powered and entry.antenna_on and exit_.antenna_on
        tag = entry.add_tag(Tag(bytes.fromhex("DEADBEEF")))
        assert (a.poll(), b.poll()) == ("DEADBEEF", None)
        entry.remove_tag(tag)
        exit_.add_tag(tag)
        clock.advance(1)
        assert (a.poll(), b.poll()) == (None, "DEADBEEF")
        a.close()
        assert exit_.powered  # closing one reader leaves the other's reset pin alone
        clock.advance(1)
        assert b.poll() is None and b.is_present


def test_board_numbering_is_respected(hw: EmulatedHardware, chip: MFRC522Chip) -> None:
    gpio = hw.gpio()
    gpio.setmode(gpio.BOARD)
    with RfidReader(hw, 0, 0, reset_pin=25) as rfid:
        assert chip.powered and rfid.is_connected
        assert hw.header.levels[25] == 1


def test_no_log_handler_added_per_reader(hw: EmulatedHardware, chip: MFRC522Chip) -> None:
    logger = logging.getLogger("mfrc522Logger")
    before = list(logger.handlers)
    readers = [RfidReader(hw, 0, 0) for _ in range(3)]
    assert logger.handlers == before
    for rfid in readers:
        rfid.close()


def test_reader_that_disappears_and_comes_back(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert reader.poll() == "DEADBEEF"
    chip.unplug()
    with caplog.at_level(logging.ERROR, logger="agent.rfid"):
        assert hold(reader, clock, 1.0) == []
    assert not reader.is_connected and not reader.is_present
    assert "VersionReg reads 0x00" in (reader.error or "")
    assert sum("VersionReg" in r.message for r in caplog.records) == 1  # logged once
    chip.plug()
    chip.set_reset_pin(False)  # it lost power while away: registers back to reset values
    chip.set_reset_pin(True)
    assert hold(reader, clock, 0.3) == []  # still the same tag in the field: no new read
    assert reader.is_connected and reader.is_present


def test_spi_errors_are_an_error_state(
    hw: EmulatedHardware, reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    hw.wiring.fail(0, 0)
    assert reader.poll() is None
    assert reader.error is not None and "EIO" in reader.error
    hw.wiring.heal(0, 0)
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert reader.poll() == "DEADBEEF"


def test_missing_spi_device_is_an_error_state_and_retried(clock: FakeClock) -> None:
    with EmulatedHardware(clock, spi_nodes=()) as hw:
        rfid = RfidReader(hw, 0, 0, retry_after=5)
        assert rfid.error is not None and "spidev0.0" in rfid.error
        assert rfid.poll() is None
        chip = hw.add_mfrc522(0, 0)
        chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
        assert rfid.poll() is None  # waits for retry_after
        clock.advance(5)
        assert rfid.poll() == "DEADBEEF" and rfid.is_connected
        rfid.close()


def test_bad_reset_pin_is_rejected(hw: EmulatedHardware) -> None:
    with pytest.raises(RfidError, match="GPIO99"):
        RfidReader(hw, 0, 0, reset_pin=99)


def test_a_garbled_uid_is_counted_not_reported(
    reader: RfidReader, chip: MFRC522Chip, clock: FakeClock
) -> None:
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    chip.fail_next_bcc()
    # The garbled answer (DFADBEEF, BCC 0x22) is counted; the tag still answering is re-read.
    assert hold(reader, clock, 0.5) == ["DEADBEEF"]
    assert reader.crc_errors == 1 and reader.reads == 1


def test_the_subclass_keeps_the_package_block_read_and_write(
    hw: EmulatedHardware, chip: MFRC522Chip
) -> None:
    from agent.rfid import _driver_class

    logger = logging.getLogger("mfrc522Logger")
    handlers = list(logger.handlers)
    driver = _driver_class(hw.mfrc522_class())(bus=0, device=0, pin_mode=11, pin_rst=25)
    driver.clock = hw.clock
    chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    assert driver.MFRC522_Request(driver.PICC_REQIDL) == (driver.MI_OK, 16)
    status, uid = driver.MFRC522_Anticoll()
    assert status == driver.MI_OK
    assert driver.MFRC522_SelectTag(uid) == 0x08
    assert driver.MFRC522_Auth(driver.PICC_AUTHENT1A, 8, [0xFF] * 6, uid) == driver.MI_OK
    driver.MFRC522_Write(8, list(range(16)))
    assert driver.MFRC522_Read(8) == list(range(16))
    for handler in logger.handlers[:]:
        if handler not in handlers:
            logger.removeHandler(handler)  # the package adds one per instance


@settings(max_examples=20, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=7, max_size=7)).filter(
            lambda uid: uid[0] != 0x88
        ),
        min_size=1,
        max_size=3,
        unique=True,
    )
)
def test_every_tag_in_the_field_is_read_once(tag_uids: list[bytes]) -> None:
    clock = FakeClock()
    with EmulatedHardware(clock) as hw:
        chip = hw.add_mfrc522(0, 0)
        for uid in tag_uids:
            chip.add_tag(Tag(uid))
        with RfidReader(hw, 0, 0, max_tags=4) as rfid:
            reads = hold(rfid, clock, 2.0)
    assert sorted(reads) == sorted(uid.hex().upper() for uid in tag_uids)


def test_real_hardware_off_a_pi_is_an_error_state_not_a_crash() -> None:
    rfid = RfidReader(PiHardware(FakeClock()), 0, 0)
    assert rfid.error is not None and "TAKTLINE_HARDWARE=emulated" in rfid.error
    assert rfid.poll() is None and not rfid.is_connected
    rfid.close()
