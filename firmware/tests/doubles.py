"""Test doubles for the node's hardware: clock, serial stream, pins, SPI, watchdog, board.

`FakeBoard` has the same methods as `taktnode.hw.Board`; the wasm runner copies this file into
MicroPython's virtual file system so the same tests run there. Pins fire their IRQ handler the
way `machine.Pin` does; SPI hands every full-duplex transfer to a chip object
(`chip.transfer(list_of_ints) -> bytes`): `chipsim.SimChip` here, or the register-level
emulator `hardware.mfrc522_chip.MFRC522Chip` under CPython.
"""


def ticks_diff(a, b):
    return a - b


class FakeTicks:
    """A millisecond tick counter that moves only when told to."""

    def __init__(self, start=1000):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms


class Uptime:
    """Uptime double with `ms()`, driven by a FakeTicks."""

    def __init__(self, ticks):
        self.ticks = ticks
        self.t0 = ticks.now

    def ms(self):
        return self.ticks.now - self.t0


class Pipe:
    """One direction of a serial line: bytes written are read back in order."""

    def __init__(self):
        self.data = bytearray()

    def push(self, data):
        self.data.extend(data)

    def take(self, buf):
        n = min(len(buf), len(self.data))
        buf[0:n] = self.data[0:n]
        self.data = self.data[n:]
        return n


class Stream:
    """The node's serial stream: `rx` is what the node reads, `tx` what it wrote."""

    def __init__(self):
        self.rx = Pipe()
        self.tx = bytearray()

    def read_into(self, buf):
        return self.rx.take(buf)

    def write(self, buf, n):
        self.tx.extend(buf[0:n])

    def drain(self):
        out = bytes(self.tx)
        self.tx = bytearray()
        return out


class Pin:
    """A pin that fires its IRQ handler on edges, like machine.Pin."""

    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, value=1):
        self._value = value
        self.handler = None
        self.trigger = 0
        self.history = []

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        self.history.append(self._value)
        return None

    def irq(self, handler=None, trigger=0):
        self.handler = handler
        self.trigger = trigger

    def drive(self, v):
        old = self._value
        self._value = 1 if v else 0
        if self.handler is None or old == self._value:
            return
        if (self._value and self.trigger & Pin.IRQ_RISING) or (
            not self._value and self.trigger & Pin.IRQ_FALLING
        ):
            self.handler(self)


class SPI:
    """Full-duplex SPI: each `write_readinto` is one transfer to `chip` (CS framing is ours)."""

    def __init__(self, chip):
        self.chip = chip
        self.transfers = 0

    def write_readinto(self, wbuf, rbuf):
        self.transfers += 1
        back = self.chip.transfer(list(wbuf))
        for i in range(len(rbuf)):
            rbuf[i] = back[i]


class Watchdog:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


_SEED = [0]


class FakeBoard:
    """Same methods as taktnode.hw.Board, backed by the doubles above."""

    def __init__(self, chip=None, seed=1):
        self.ticks = FakeTicks()
        self.stream = Stream()
        self.chip = chip
        self.pins = {}
        self.wdt = None
        self._seed = seed

    def ticks_ms(self):
        return self.ticks.now

    def ticks_diff(self, a, b):
        return a - b

    def urandom(self, n):
        _SEED[0] += 1  # every board (every boot) draws different bytes, like os.urandom
        seed = _SEED[0] * 7919 + self._seed
        return bytes(((seed >> (i % 3) * 8) * 131 + i * 29) & 0xFF for i in range(n))

    def spi(self):
        return SPI(self.chip)

    def pin_in(self, number):
        return self.pins.setdefault(number, Pin(1))

    def pin_out(self, number):
        return self.pins.setdefault(number, Pin(0))

    def serial(self):
        return self.stream

    def watchdog(self, timeout_ms):
        self.wdt = Watchdog()
        return self.wdt

    def reset_cause(self):
        return 0

    def node_id(self):
        return "node-fake"

    def sleep_ms(self, ms):
        self.ticks.advance(ms)
