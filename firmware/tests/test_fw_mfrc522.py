import unittest

from chipsim import SimChip, SimTag
from doubles import SPI, Pin
from taktnode.mfrc522 import MFRC522, crc_a
from taktnode.reader import TagWatcher

try:  # CPython: the register-level emulator the Pi's reader tests use
    from hardware.mfrc522_chip import MFRC522Chip, Tag
except ImportError:  # MicroPython: the stand-in only
    MFRC522Chip = None


class SimBench:
    name = "chipsim"

    def __init__(self):
        self.chip = SimChip()

    def tag(self, uid):
        return self.chip.add_tag(SimTag(uid))

    def remove(self, tag):
        self.chip.remove_tag(tag)

    def corrupt_next_sak(self, tag):
        tag.corrupt_sak += 1


class EmulatorBench:
    name = "hardware.mfrc522_chip"

    def __init__(self):
        self.chip = MFRC522Chip()

    def tag(self, uid):
        return self.chip.add_tag(Tag(bytes(uid)))

    def remove(self, tag):
        self.chip.remove_tag(tag)

    def corrupt_next_sak(self, tag):
        self.chip.fail_next_crc(1)


def benches():
    out = [SimBench()]
    if MFRC522Chip is not None:
        out.append(EmulatorBench())
    return out


def driver(bench):
    cs = Pin(1)
    reader = MFRC522(SPI(bench.chip), cs)
    return reader, cs


UID4 = bytes([0x04, 0xA1, 0xB2, 0xC3])
UID7 = bytes([0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66])


class TestCrcA(unittest.TestCase):
    def test_known_value(self):
        # ISO 14443-3 annex B: CRC_A of 0x00 0x00 is 0x1EA0
        self.assertEqual(crc_a(b"\x00\x00", 2), 0x1EA0)


class TestDriver(unittest.TestCase):
    def test_init_reports_version_and_cs_is_released(self):
        for bench in benches():
            reader, cs = driver(bench)
            self.assertIn(reader.init(), (0x91, 0x92))
            self.assertEqual(cs.value(), 1)

    def test_no_tag(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            self.assertIsNone(reader.read_uid())

    def test_four_byte_uid(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            bench.tag(UID4)
            self.assertEqual(reader.read_uid(), UID4, bench.name)

    def test_seven_byte_uid_through_two_cascade_levels(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            bench.tag(UID7)
            self.assertEqual(reader.read_uid(), UID7, bench.name)

    def test_halted_tag_is_still_seen_through_wupa(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            tag = bench.tag(UID4)
            for _ in range(3):
                self.assertEqual(reader.read_uid(), UID4, bench.name)
            bench.remove(tag)
            self.assertIsNone(reader.read_uid())

    def test_corrupted_sak_gives_no_uid_then_recovers(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            tag = bench.tag(UID7)
            bench.corrupt_next_sak(tag)
            self.assertIsNone(reader.read_uid(), bench.name)
            self.assertEqual(reader.read_uid(), UID7, bench.name)


class TestWatcher(unittest.TestCase):
    def test_one_read_per_presentation(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            seen = []
            watcher = TagWatcher(reader, seen.append, absent_polls=2)
            tag = bench.tag(UID4)
            for _ in range(5):
                watcher.poll()
            self.assertEqual(seen, [UID4], bench.name)
            bench.remove(tag)
            watcher.poll()
            watcher.poll()
            tag = bench.tag(UID4)
            watcher.poll()
            self.assertEqual(seen, [UID4, UID4], bench.name)
            bench.remove(tag)
            bench.tag(UID7)
            watcher.poll()
            self.assertEqual(seen, [UID4, UID4, UID7], bench.name)

    def test_one_missed_answer_does_not_double_the_read(self):
        for bench in benches():
            reader, _ = driver(bench)
            reader.init()
            seen = []
            watcher = TagWatcher(reader, seen.append, absent_polls=2)
            tag = bench.tag(UID4)
            watcher.poll()
            bench.corrupt_next_sak(tag)
            watcher.poll()
            watcher.poll()
            self.assertEqual(seen, [UID4], bench.name)


if __name__ == "__main__":
    unittest.main()
