"""An emulated reader node on a pty: the firmware's own link and ring-buffer code under CPython.

`EmulatedNode` opens a pseudo-terminal pair and runs `firmware/taktnode/link.py` (the code that
runs on the board) on the master side in a thread; the agent opens `node.port` (the slave
device) with pyserial, exactly as it opens `/dev/ttyACM0` on a Pi. Tests drive it like a node on
the shop floor (`read_tag`, `set_run`, `cycle`), cut power (`reset`: RAM, and with it the ring of
unacknowledged frames, is lost; a new random instance id is drawn) and damage the line through
`faults` (dropped bytes, flipped bits, duplicated writes, a broken link) while the node stays
powered. What the node produced and what it lost at each reset are recorded for assertions.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import random
import sys
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FIRMWARE_DIR", "EmulatedNode", "LinkFaults", "firmware_module"]

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware"


def firmware_module(name: str) -> Any:
    """Imports `taktnode.<name>` from the firmware folder (MicroPython code, run by CPython)."""
    path = str(FIRMWARE_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(f"taktnode.{name}")


@dataclass
class LinkFaults:
    """Damage applied to every byte crossing the emulated cable, in both directions."""

    drop_rate: float = 0.0
    flip_rate: float = 0.0
    duplicate_rate: float = 0.0
    broken: bool = False
    seed: int = 1
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def damage(self, data: bytes) -> bytes:
        """Returns what arrives at the other end when `data` is sent."""
        if self.broken:
            return b""
        if not (self.drop_rate or self.flip_rate or self.duplicate_rate):
            return data
        rng = self.rng
        out = bytearray()
        for byte in data:
            if rng.random() < self.drop_rate:
                continue
            if rng.random() < self.flip_rate:
                byte ^= 1 << rng.randrange(8)
            out.append(byte)
        if rng.random() < self.duplicate_rate:
            out.extend(bytes(out))
        return bytes(out)


class _PtyStream:
    """The firmware's stream interface over the pty master, with faults in both directions."""

    def __init__(self, fd: int, faults: LinkFaults) -> None:
        self.fd = fd
        self.faults = faults

    def read_into(self, buf: bytearray) -> int:
        try:
            data = os.read(self.fd, len(buf))
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno == errno.EIO:  # nobody has the port open
                return 0
            raise
        data = self.faults.damage(data)[: len(buf)]
        buf[: len(data)] = data
        return len(data)

    def write(self, buf: bytearray, n: int) -> None:
        data = self.faults.damage(bytes(buf[:n]))
        # Nobody reading and the buffer full: like USB CDC without a host, the bytes are gone.
        with contextlib.suppress(OSError):
            os.write(self.fd, data)


class _Uptime:
    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()

    def ms(self) -> int:
        return (time.monotonic_ns() - self._t0) // 1_000_000


class EmulatedNode:
    """A reader node behind a pty, running the firmware's link code in a thread.

    Args:
        node_id: the node id the firmware reports in its HELLO.
        faults: line damage, changeable while running.
        ring_size: slots in the ring of unacknowledged frames (the firmware's default is 64).
        rto_ms: retransmission timeout.
        heartbeat_ms: HELLO period.
        poll_s: how often the node's main loop runs.
    """

    def __init__(
        self,
        node_id: str = "node-1",
        *,
        faults: LinkFaults | None = None,
        ring_size: int | None = None,
        rto_ms: int = 100,
        heartbeat_ms: int = 500,
        poll_s: float = 0.002,
    ) -> None:
        self.node_id = node_id
        self.faults = faults or LinkFaults()
        self._link_mod = firmware_module("link")
        self._ring_mod = firmware_module("ring")
        self._version = str(importlib.import_module("taktnode").VERSION)
        self.ring_size = ring_size or int(self._ring_mod.RING_SIZE)
        self.rto_ms = rto_ms
        self.heartbeat_ms = heartbeat_ms
        self.poll_s = poll_s
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.produced: list[tuple[str, int]] = []
        self.lost_at_reset: list[tuple[str, int]] = []
        self.overflowed = 0
        self.resets = 0
        self.stack_light = 0
        self.link: Any = None
        self._boot()

    def _boot(self) -> None:
        self.instance = os.urandom(16)
        self._uptime = _Uptime()
        self.link = self._link_mod.NodeLink(
            _PtyStream(self._master, self.faults),
            self._uptime,
            self.instance,
            self.node_id,
            self._version,
            on_command=self._on_command,
            ring=self._ring_mod.Ring(self.ring_size),
            rto_ms=self.rto_ms,
            heartbeat_ms=self.heartbeat_ms,
        )
        self.link.send_hello(self._uptime.ms())

    def _on_command(self, op: int, arg: int) -> None:
        if op == self._link_mod.OP_STACK_LIGHT:
            self.stack_light = arg

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> EmulatedNode:
        """Starts the node's main loop."""
        self._thread = threading.Thread(target=self._run, name="emulated-node", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                self.link.poll()

    def close(self) -> None:
        """Stops the loop and closes the pty."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> EmulatedNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the shop floor -----------------------------------------------------------------------

    def _event(self, kind: int, data: bytes) -> tuple[str, int] | None:
        with self._lock:
            seq = self.link.send_event(kind, data, self._uptime.ms())
            if not seq:
                self.overflowed += 1
                return None
            key = (self.instance.hex(), int(seq))
            self.produced.append(key)
            return key

    def read_tag(self, uid: bytes, *, tool: bool = False) -> tuple[str, int] | None:
        """A tag is read; returns its event key, or None when the ring was full."""
        kind = self._link_mod.KIND_TOOL if tool else self._link_mod.KIND_BADGE
        return self._event(kind, bytes(uid))

    def set_run(self, on: bool) -> tuple[str, int] | None:
        """The machine's run signal changes."""
        return self._event(self._link_mod.KIND_RUN, b"\x01" if on else b"\x00")

    def cycle(self, count: int = 1) -> tuple[str, int] | None:
        """The machine completed `count` cycles."""
        return self._event(self._link_mod.KIND_CYCLE, count.to_bytes(4, "big"))

    def reset(self) -> list[tuple[str, int]]:
        """Power cycle: unacknowledged frames in RAM are lost; returns their keys."""
        with self._lock:
            lost = [(self.instance.hex(), int(seq)) for seq in self.link.ring.held()]
            self.lost_at_reset.extend(lost)
            self.resets += 1
            self._boot()
        return lost

    def unacknowledged(self) -> list[tuple[str, int]]:
        """Keys of the frames still in the ring."""
        with self._lock:
            return [(self.instance.hex(), int(s)) for s in self.link.ring.held()]
