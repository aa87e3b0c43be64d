"""The board: the only module that imports `machine`.

Everything the logic needs from the hardware comes through `Board`: SPI, pins, the watchdog,
the USB serial stream, random bytes and ticks. `tests/doubles.FakeBoard` has the same methods.
"""

import os
import select
import sys
import time

import machine
import micropython


class UsbSerial:
    """Non-blocking byte stream over the USB CDC port (the REPL's stdin/stdout).

    Ctrl-C (0x03) is a data byte in our frames, so keyboard interrupts are switched off; see
    `docs/serial-link.md` for how to get a REPL back (the maintenance jumper).
    """

    def __init__(self):
        micropython.kbd_intr(-1)
        self._in = sys.stdin.buffer  # type: ignore[attr-defined]
        self._out = sys.stdout.buffer  # type: ignore[attr-defined]
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)

    def read_into(self, buf):
        """Reads what is waiting, without blocking; returns the count."""
        n = 0
        while n < len(buf) and self._poll.poll(0):
            if not self._in.readinto(self._one):
                break
            buf[n] = self._one[0]
            n += 1
        return n

    def write(self, buf, n):
        """Writes the first `n` bytes of `buf`."""
        self._out.write(memoryview(buf)[0:n])


class Board:
    """A Pico W wired as in `taktnode.config`."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.sleep_ms = time.sleep_ms
        rst = machine.Pin(cfg.PIN_RST, machine.Pin.OUT)
        rst.value(1)

    def maintenance(self):
        """Whether the maintenance jumper (PIN_MAINTENANCE to ground) is fitted."""
        pin = machine.Pin(self.cfg.PIN_MAINTENANCE, machine.Pin.IN, machine.Pin.PULL_UP)
        return pin.value() == 0

    def ticks_ms(self):
        """Wrapping millisecond ticks."""
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        """Signed difference of two tick readings."""
        return time.ticks_diff(a, b)

    def urandom(self, n):
        """`n` random bytes from the hardware random source."""
        return os.urandom(n)

    def node_id(self):
        """Default node id: "node-" and the flash chip's unique id in hex."""
        uid = machine.unique_id()
        return "node-" + "".join("%02x" % b for b in uid)

    def spi(self):
        """The reader's SPI bus (mode 0, 1 MHz)."""
        c = self.cfg
        return machine.SPI(
            c.SPI_ID,
            baudrate=1_000_000,
            polarity=0,
            phase=0,
            sck=machine.Pin(c.PIN_SCK),
            mosi=machine.Pin(c.PIN_MOSI),
            miso=machine.Pin(c.PIN_MISO),
        )

    def pin_in(self, number):
        """An input with pull-up (inputs are active low)."""
        return machine.Pin(number, machine.Pin.IN, machine.Pin.PULL_UP)

    def pin_out(self, number):
        """A push-pull output."""
        return machine.Pin(number, machine.Pin.OUT)

    def serial(self):
        """The USB serial link to the Pi."""
        return UsbSerial()

    def watchdog(self, timeout_ms):
        """Starts the hardware watchdog (it cannot be stopped again)."""
        return machine.WDT(timeout=timeout_ms)

    def reset_cause(self):
        """Why the board last reset (machine.PWRON_RESET, WDT_RESET, ...)."""
        return machine.reset_cause()
