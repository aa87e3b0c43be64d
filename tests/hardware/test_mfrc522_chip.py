"""The MFRC522 emulator, driven register by register as a driver would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.mfrc522_chip import ACTIVE, HALT, IDLE, READY, MFRC522Chip, Reg, Tag, crc_a

TRANSCEIVE = 0x0C
CALC_CRC = 0x03
SOFT_RESET = 0x0F


class Host:
    """A minimal driver: register access through the chip's SPI face."""

    def __init__(self, chip: MFRC522Chip) -> None:
        self.chip = chip

    def write(self, reg: int, *values: int) -> None:
        self.chip.transfer([reg << 1, *values])

    def read(self, reg: int) -> int:
        return self.chip.transfer([0x80 | (reg << 1), 0])[1]

    def init(self) -> None:
        self.write(Reg.Command, SOFT_RESET)
        self.write(Reg.TMode, 0x8D)
        self.write(Reg.TxASK, 0x40)
        self.write(Reg.Mode, 0x3D)
        self.write(Reg.TxControl, self.read(Reg.TxControl) | 0x03)

    def transceive(self, data: list[int], framing: int = 0) -> tuple[list[int], int, int]:
        """Returns (FIFO bytes, valid bits in last byte, ComIrq)."""
        self.write(Reg.ComIrq, 0x7F)  # clear all
        self.write(Reg.FIFOLevel, 0x80)
        self.write(Reg.Command, 0x00)
        self.write(Reg.FIFOData, *data)
        self.write(Reg.BitFraming, framing)
        self.write(Reg.Command, TRANSCEIVE)
        self.write(Reg.BitFraming, framing | 0x80)
        irq = self.read(Reg.ComIrq)
        self.write(Reg.BitFraming, framing)
        level = self.read(Reg.FIFOLevel)
        out = [self.read(Reg.FIFOData) for _ in range(level)]
        return out, self.read(Reg.Control) & 0x07, irq

    def crc(self, data: list[int]) -> list[int]:
        self.write(Reg.FIFOLevel, 0x80)
        self.write(Reg.FIFOData, *data)
        self.write(Reg.Command, CALC_CRC)
        assert self.read(Reg.DivIrq) & 0x04
        return [self.read(Reg.CRCResultL), self.read(Reg.CRCResultH)]

    def select(self, sel: int, answer: list[int]) -> list[int]:
        frame = [sel, 0x70, *answer]
        out, _, _ = self.transceive(frame + self.crc(frame))
        return out


@pytest.fixture
def host() -> Host:
    h = Host(MFRC522Chip())
    h.init()
    return h


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        ([0x00, 0x00], 0x1EA0),
        ([0x12, 0x34], 0xCF26),  # ISO 14443-3 annex B: 26 CF on the air
        ([0x50, 0x00], 0xCD57),  # HALT: 50 00 57 CD
        ([0x30, 0x00], 0xA802),  # READ block 0: 30 00 02 A8
        (
            [0x93, 0x70, 0x12, 0x34, 0x56, 0x78, 0x08],
            crc_a([0x93, 0x70, 0x12, 0x34, 0x56, 0x78, 8]),
        ),
    ],
)
def test_crc_a_vectors_in_software_and_in_the_chip(host: Host, data: list[int], crc: int) -> None:
    assert crc_a(data) == crc
    assert host.crc(data) == [crc & 0xFF, crc >> 8]


def test_crc_preset_follows_mode_register(host: Host) -> None:
    host.write(Reg.Mode, 0x3F)  # preset FFFF
    assert host.crc([0x00]) == [crc_a([0x00], 0xFFFF) & 0xFF, crc_a([0x00], 0xFFFF) >> 8]


def test_version_and_burst_read(host: Host) -> None:
    assert host.read(Reg.Version) == 0x92
    out = host.chip.transfer([0x80 | (Reg.Version << 1), 0x80 | (Reg.TMode << 1), 0])
    assert out[1:] == [0x92, 0x8D]


def test_fifo_level_order_flush_and_overflow(host: Host) -> None:
    host.write(Reg.FIFOData, 1, 2, 3)
    assert host.read(Reg.FIFOLevel) == 3
    assert [host.read(Reg.FIFOData) for _ in range(3)] == [1, 2, 3]
    host.write(Reg.FIFOData, *range(64))
    assert host.read(Reg.FIFOLevel) == 64
    assert host.read(Reg.Error) & 0x10 == 0
    host.write(Reg.FIFOData, 99)
    assert host.read(Reg.Error) & 0x10  # BufferOvfl
    assert host.read(Reg.Status1) & 0x02  # HiAlert
    host.write(Reg.FIFOLevel, 0x80)
    assert host.read(Reg.FIFOLevel) == 0
    assert host.read(Reg.Error) & 0x10 == 0
    assert host.read(Reg.Status1) & 0x01  # LoAlert


def test_irq_register_set_and_clear_bits(host: Host) -> None:
    host.write(Reg.ComIrq, 0x7F)
    assert host.read(Reg.ComIrq) == 0
    host.write(Reg.ComIrq, 0x80 | 0x21)
    assert host.read(Reg.ComIrq) == 0x21
    host.write(Reg.ComIrq, 0x01)
    assert host.read(Reg.ComIrq) == 0x20


def test_streamed_frame_matches_transfer(host: Host) -> None:
    chip = host.chip
    chip.select()
    assert chip.exchange(0x80 | (Reg.Version << 1)) == 0
    assert chip.exchange(0) == 0x92
    chip.deselect()


def test_reqa_gets_atqa_and_no_tag_gets_timer_irq(host: Host) -> None:
    out, last, irq = host.transceive([0x26], framing=0x07)
    assert out == [] and irq & 0x01 and not irq & 0x20
    host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    out, last, irq = host.transceive([0x26], framing=0x07)
    assert out == [0x04, 0x00] and last == 0 and irq & 0x20


def test_anticollision_and_select_of_a_4_byte_uid(host: Host) -> None:
    tag = host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.transceive([0x26], framing=0x07)
    out, _, _ = host.transceive([0x93, 0x20])
    assert out == [0xDE, 0xAD, 0xBE, 0xEF, 0xDE ^ 0xAD ^ 0xBE ^ 0xEF]
    sak = host.select(0x93, out)
    assert sak[0] == 0x08 and sak[1:] == [crc_a([0x08]) & 0xFF, crc_a([0x08]) >> 8]
    assert tag.state == ACTIVE
    halt = [0x50, 0x00]
    out, _, _irq = host.transceive(halt + host.crc(halt))
    assert out == [] and tag.state == HALT
    assert host.transceive([0x26], framing=0x07)[0] == []  # REQA ignores a halted tag
    assert host.transceive([0x52], framing=0x07)[0] == [0x04, 0x00]  # WUPA wakes it


def test_seven_byte_uid_needs_two_cascade_levels(host: Host) -> None:
    uid = bytes.fromhex("04A1B2C3D4E580")
    tag = host.chip.add_tag(Tag(uid))
    assert host.transceive([0x26], framing=0x07)[0] == [0x44, 0x00]
    cl1, _, _ = host.transceive([0x93, 0x20])
    assert cl1[:4] == [0x88, 0x04, 0xA1, 0xB2] and cl1[4] == 0x88 ^ 0x04 ^ 0xA1 ^ 0xB2
    assert host.select(0x93, cl1)[0] == 0x04  # cascade bit: UID not complete
    assert tag.state == READY
    cl2, _, _ = host.transceive([0x95, 0x20])
    assert cl2[:4] == [0xC3, 0xD4, 0xE5, 0x80]
    assert host.select(0x95, cl2)[0] == 0x00
    assert tag.state == ACTIVE


def _resolve(host: Host, sel: int) -> list[int]:
    """Bit-oriented anticollision: picks the 1 branch at each collision."""
    known: list[int] = []
    while True:
        nbytes, extra = divmod(len(known), 8)
        packed = [0] * (nbytes + (1 if extra else 0))
        for i, bit in enumerate(known):
            packed[i // 8] |= bit << (i % 8)
        out, _last, _ = host.transceive(
            [sel, ((2 + nbytes) << 4) | extra, *packed], framing=(extra << 4) | extra
        )
        bits = [(b >> k) & 1 for b in out for k in range(8)][extra:]
        if host.read(Reg.Error) & 0x08:
            pos = host.read(Reg.Coll) & 0x1F or 32
            index = pos - 1 - extra
            known += [*bits[:index], 1]
            continue
        full = known + bits[: 40 - len(known)]
        return [sum(full[i * 8 + k] << k for k in range(8)) for i in range(5)]


def test_two_tags_collide_and_bitwise_anticollision_separates_them(host: Host) -> None:
    a = host.chip.add_tag(Tag(bytes.fromhex("12345678")))
    b = host.chip.add_tag(Tag(bytes.fromhex("12345679")))
    assert host.transceive([0x26], framing=0x07)[0] == [0x04, 0x00]  # same ATQA: no collision
    host.transceive([0x93, 0x20])
    assert host.read(Reg.Error) & 0x08  # CollErr
    coll = host.read(Reg.Coll)
    assert not coll & 0x20 and coll & 0x1F == 25  # first difference: bit 0 of byte 4
    first = _resolve(host, 0x93)
    assert first[:4] == [0x12, 0x34, 0x56, 0x79]
    host.select(0x93, first)
    assert b.state == ACTIVE and a.state == IDLE
    halt = [0x50, 0x00]
    host.transceive(halt + host.crc(halt))
    assert host.transceive([0x26], framing=0x07)[0] == [0x04, 0x00]
    assert _resolve(host, 0x93)[:4] == [0x12, 0x34, 0x56, 0x78]


def test_failed_crc_corrupts_the_next_sak_only(host: Host) -> None:
    host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.chip.fail_next_crc()
    host.transceive([0x26], framing=0x07)
    answer, _, _ = host.transceive([0x93, 0x20])
    sak = host.select(0x93, answer)
    assert crc_a(sak) != 0 and sak[1:] != [crc_a([0x08]) & 0xFF, crc_a([0x08]) >> 8]
    tag = host.chip.tags[0]
    host.chip.remove_tag(tag)
    host.chip.add_tag(tag)
    host.chip.fail_next_crc()
    host.transceive([0x26], framing=0x07)
    host.write(Reg.RxMode, 0x00)
    host.transceive([0x93, 0x20])
    host.write(Reg.RxMode, 0x80)
    host.select(0x93, answer)
    assert host.read(Reg.Error) & 0x04  # CRCErr


def test_tag_leaving_the_field_stops_answering(host: Host) -> None:
    tag = host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.chip.remove_tag(tag)
    assert host.transceive([0x26], framing=0x07)[0] == []
    assert tag.state == IDLE


def test_antenna_off_means_no_answers(host: Host) -> None:
    host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.write(Reg.TxControl, 0x80)
    assert host.transceive([0x26], framing=0x07)[0] == []


def test_unplugged_chip_and_reset_pin(host: Host) -> None:
    chip = host.chip
    chip.unplug()
    assert host.read(Reg.Version) == 0
    chip.plug()
    assert host.read(Reg.TMode) == 0x8D
    chip.set_reset_pin(False)
    assert host.read(Reg.Version) == 0
    chip.set_reset_pin(True)
    assert host.read(Reg.Version) == 0x92 and host.read(Reg.TMode) == 0  # hard reset


def test_mifare_read_needs_authentication(host: Host) -> None:
    memory = bytes(range(256)) * 4
    tag = host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF"), memory=memory))
    host.transceive([0x26], framing=0x07)
    answer, _, _ = host.transceive([0x93, 0x20])
    host.select(0x93, answer)
    read = [0x30, 0x04]
    out, last, _ = host.transceive(read + host.crc(read))
    assert out == [0x04] and last == 4  # NAK
    host.transceive([0x26], framing=0x07)  # the NAK'd tag fell back to IDLE: select again
    host.transceive([0x52], framing=0x07)
    host.transceive([0x93, 0x20])
    host.select(0x93, answer)
    host.write(Reg.FIFOLevel, 0x80)
    host.write(Reg.FIFOData, 0x60, 0x04, *([0xFF] * 6), 0xDE, 0xAD, 0xBE, 0xEF)
    host.write(Reg.Command, 0x0E)
    assert host.read(Reg.Status2) & 0x08 and tag.authenticated
    out, _, _ = host.transceive(read + host.crc(read))
    assert out[:16] == list(memory[64:80])


def test_tag_rejects_bad_uids() -> None:
    with pytest.raises(ValueError, match="5 bytes"):
        Tag(b"\x01\x02\x03\x04\x05")
    with pytest.raises(ValueError, match="cascade tag"):
        Tag(b"\x88\x02\x03\x04")


def test_failed_bcc_garbles_the_next_full_anticollision_answer(host: Host) -> None:
    host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.chip.fail_next_bcc()
    host.transceive([0x26], framing=0x07)
    answer, _, _ = host.transceive([0x93, 0x20])
    assert answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]
    answer, _, _ = host.transceive([0x93, 0x20])  # the tag is still READY: a clean answer now
    assert answer == [0xDE, 0xAD, 0xBE, 0xEF, 0x22]


uids = st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=7, max_size=7)).filter(
    lambda uid: uid[0] != 0x88
)


@settings(max_examples=40, deadline=None, database=None)
@given(st.binary(max_size=40))
def test_chip_crc_matches_software(data: bytes) -> None:
    host = Host(MFRC522Chip())
    host.init()
    crc = crc_a(list(data))
    assert host.crc(list(data)) == [crc & 0xFF, crc >> 8]


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(uids, min_size=1, max_size=4, unique=True))
def test_bitwise_anticollision_finds_every_tag(tag_uids: list[bytes]) -> None:
    host = Host(MFRC522Chip())
    host.init()
    for uid in tag_uids:
        host.chip.add_tag(Tag(uid))
    found: set[bytes] = set()
    for _ in range(len(tag_uids)):
        host.transceive([0x26], framing=0x07)
        levels = []
        for sel in (0x93, 0x95):
            answer = _resolve(host, sel)
            sak = host.select(sel, answer)[0]
            levels.append(bytes(answer[:4]))
            if not sak & 0x04:
                break
        found.add(levels[0] if len(levels) == 1 else levels[0][1:] + levels[1])
        halt = [0x50, 0x00]
        host.transceive(halt + host.crc(halt))
    assert found == set(tag_uids)


def test_power_loss_resets_tags_in_the_field(host: Host) -> None:
    tag = host.chip.add_tag(Tag(bytes.fromhex("DEADBEEF")))
    host.transceive([0x26], framing=0x07)
    answer, _, _ = host.transceive([0x93, 0x20])
    host.select(0x93, answer)
    halt = [0x50, 0x00]
    host.transceive(halt + host.crc(halt))
    assert tag.state == HALT
    host.chip.set_reset_pin(False)
    assert tag.state == IDLE and not host.chip.antenna_on
    host.chip.set_reset_pin(True)
    host.init()
    assert host.transceive([0x26], framing=0x07)[0] == [0x04, 0x00]
