"""A small MFRC522 stand-in for MicroPython (where hardware/'s emulator cannot be imported).

It models what the driver uses: registers, the FIFO, Transceive with StartSend, the timer IRQ
for silence, and ISO 14443-3 tags (IDLE/READY/ACTIVE/HALT, REQA/WUPA, anticollision and select
through cascade levels with CRC_A, HLTA). Under CPython the driver tests run against both this
and the register-level emulator `hardware.mfrc522_chip.MFRC522Chip`.
"""


def crc_a(data):
    crc = 0x6363
    for v in data:
        b = (v ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return [crc & 0xFF, crc >> 8]


class SimTag:
    def __init__(self, uid, sak=0x08):
        self.uid = bytes(uid)
        if len(self.uid) == 4:
            self.levels = [list(self.uid)]
        else:
            self.levels = [[0x88] + list(self.uid[0:3]), list(self.uid[3:7])]
        for lv in self.levels:
            lv.append(lv[0] ^ lv[1] ^ lv[2] ^ lv[3])
        self.sak = sak
        self.state = "IDLE"
        self.level = 0
        self.halted_before = False
        self.corrupt_sak = 0

    def receive(self, data, bits):
        if bits == 7:
            cmd = data[0]
            if (cmd == 0x26 and self.state == "IDLE") or (
                cmd == 0x52 and self.state in ("IDLE", "HALT")
            ):
                self.halted_before = self.state == "HALT"
                self.state = "READY"
                self.level = 0
                return [0x44, 0x00]
            if self.state in ("READY", "ACTIVE"):
                self.state = "HALT" if self.halted_before else "IDLE"
            return None
        if self.state == "READY":
            sel = (0x93, 0x95, 0x97)[self.level]
            if data[0] != sel:
                self.state = "IDLE"
                return None
            if data[1] == 0x20 and len(data) == 2:
                return list(self.levels[self.level])
            if data[1] == 0x70 and len(data) == 9 and crc_a(data[0:7]) == list(data[7:9]):
                if list(data[2:7]) != self.levels[self.level]:
                    return None
                if self.level + 1 < len(self.levels):
                    self.level += 1
                    sak = [0x04]
                else:
                    self.state = "ACTIVE"
                    sak = [self.sak]
                out = sak + crc_a(sak)
                if self.corrupt_sak:
                    self.corrupt_sak -= 1
                    out[-1] ^= 0x80
                return out
            return None
        if self.state == "ACTIVE" and len(data) == 4 and data[0] == 0x50:
            self.state = "HALT"
            return None
        return None


class SimChip:
    """transfer(frame) -> bytes read back, one chip-select frame at a time."""

    def __init__(self):
        self.regs = bytearray(64)
        self.regs[0x37] = 0x92
        self.fifo = []
        self.tags = []
        self.transfers = 0

    def add_tag(self, tag):
        self.tags.append(tag)
        return tag

    def remove_tag(self, tag):
        self.tags.remove(tag)
        tag.state = "IDLE"

    def transfer(self, frame):
        self.transfers += 1
        out = [0]
        addr = frame[0]
        reg = (addr >> 1) & 0x3F
        if addr & 0x80:
            for nxt in frame[1:]:
                out.append(self._read(reg))
                reg = (nxt >> 1) & 0x3F
        else:
            for value in frame[1:]:
                self._write(reg, value)
                out.append(0)
        return out

    def _read(self, reg):
        if reg == 0x09:
            return self.fifo.pop(0) if self.fifo else 0
        if reg == 0x0A:
            return len(self.fifo)
        return self.regs[reg]

    def _write(self, reg, value):
        if reg == 0x09:
            self.fifo.append(value)
        elif reg == 0x0A:
            if value & 0x80:
                self.fifo = []
        elif reg == 0x04:
            if value & 0x80:
                self.regs[reg] |= value & 0x7F
            else:
                self.regs[reg] &= ~value & 0x7F
        elif reg == 0x01:
            if value & 0x0F == 0x0F:
                self.regs = bytearray(64)
                self.regs[0x37] = 0x92
                self.fifo = []
            else:
                self.regs[reg] = value
        elif reg == 0x0D:
            self.regs[reg] = value
            if value & 0x80 and self.regs[0x01] & 0x0F == 0x0C:
                self._transceive(value & 0x07)
        else:
            self.regs[reg] = value

    def _transceive(self, last_bits):
        data, self.fifo = self.fifo, []
        bits = (len(data) - 1) * 8 + last_bits if last_bits else len(data) * 8
        self.regs[0x06] = 0
        answers = [a for a in (t.receive(data, bits) for t in self.tags) if a is not None]
        if not answers:
            self.regs[0x04] |= 0x01  # TimerIRq
            return
        if len(answers) > 1 and any(a != answers[0] for a in answers):
            self.regs[0x06] |= 0x08  # CollErr
        self.fifo = list(answers[0])
        self.regs[0x0C] &= 0xF8
        self.regs[0x04] |= 0x20  # RxIRq
