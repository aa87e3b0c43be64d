"""The node's serial link end to end: firmware link code on a pty, the agent's pyserial link.

Every test checks the same promise: each read the node made reaches the outbox exactly once,
with the node's identity, whatever happens to the line or to the agent; after a node reset the
only reads missing are the ones the node still held unacknowledged (the documented loss window).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import serial

from agent.outbox import Outbox
from agent.serial_link import SerialLink, cobs_decode, crc16, encode_frame
from hardware.serial_node import EmulatedNode, LinkFaults, firmware_module
from taktline.clock import FakeClock

AGENT = "pi-7"
STATIONS = {"node-1": "press-3"}
REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(0.01)


def stored(outbox: Outbox) -> dict[tuple[str, int], dict[str, Any]]:
    events = [json.loads(body) for _, body in outbox.pending(limit=100_000)]
    keyed = {(e["instance"], e["seq"]): e for e in events}
    assert len(keyed) == len(events)
    return keyed


def uid(i: int) -> bytes:
    return bytes([0x04, 0x10, i // 256, i % 256])


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", agent=AGENT, clock=FakeClock(), synchronous="NORMAL") as ob:
        yield ob


@pytest.fixture
def node() -> Iterator[EmulatedNode]:
    with EmulatedNode("node-1", rto_ms=60, heartbeat_ms=300) as n:
        yield n


@contextmanager
def agent_link(node: EmulatedNode, outbox: Outbox, **kw: Any) -> Iterator[SerialLink]:
    port = serial.Serial(node.port, baudrate=115200, timeout=0.02)
    with SerialLink(port, outbox, agent=AGENT, stations=kw.pop("stations", STATIONS), **kw) as link:
        yield link


def drained(node: EmulatedNode, outbox: Outbox) -> Callable[[], bool]:
    return lambda: not node.unacknowledged() and len(stored(outbox)) >= len(node.produced)


def assert_exactly_once(node: EmulatedNode, outbox: Outbox, tags: dict[tuple[str, int], str]):
    got = stored(outbox)
    assert set(got) == set(node.produced)
    for key, tag in tags.items():
        assert got[key]["payload"] == {"tag": tag}


# --- framing: the agent's implementation against the firmware's ---------------------------------


def test_agent_and_firmware_framing_agree() -> None:
    fr = firmware_module("frame")
    for body in (b"\x02", b"\x02\x00\x00", bytes(range(94)), b"\x81" + bytes(20)):
        wire = encode_frame(body)
        got: list[bytes] = []
        fr.Decoder(lambda buf, n, got=got: got.append(bytes(buf[:n]))).feed(wire)
        assert got == [body]
        buf = bytearray(fr.MAX_FRAME)
        buf[: len(body)] = body
        out = bytearray(fr.MAX_ENCODED)
        n = fr.encode(buf, len(body), out)
        assert bytes(out[:n]) == wire
        decoded = cobs_decode(wire[1:-1])
        assert decoded is not None and crc16(decoded) == 0


# --- a clean line -------------------------------------------------------------------------------


def test_reads_become_contract_events_with_the_nodes_identity(
    node: EmulatedNode, outbox: Outbox
) -> None:
    with agent_link(node, outbox):
        badge = node.read_tag(uid(1))
        tool = node.read_tag(bytes.fromhex("04A1B2C3D4E5F6"), tool=True)
        run = node.set_run(True)
        cycles = node.cycle(3)
        wait_until(drained(node, outbox))
    got = stored(outbox)
    instance = node.instance.hex()
    assert badge and tool and run and cycles
    assert [k[1] for k in (badge, tool, run, cycles)] == [1, 2, 3, 4]
    for key in (badge, tool, run, cycles):
        event = got[key]
        assert (event["source"], event["agent"], event["station"]) == ("node-1", AGENT, "press-3")
        assert event["instance"] == event["boot"] == instance
        age = datetime.now(UTC) - datetime.fromisoformat(event["time"][:-1]).replace(tzinfo=UTC)
        assert timedelta(0) <= age < timedelta(seconds=5)
    assert got[badge]["type"] == "badge.read"
    assert got[badge]["payload"] == {"tag": "04100001"}
    assert got[tool]["payload"] == {"tag": "04A1B2C3D4E5F6"}
    assert got[run]["payload"] == {"signal": "run", "on": True}
    assert got[cycles]["payload"] == {"signal": "cycle", "count": 3}
    assert got[badge]["mono_ns"] <= got[cycles]["mono_ns"]


def test_commands_reach_the_node(node: EmulatedNode, outbox: Outbox) -> None:
    node.faults.flip_rate = 0.01
    with agent_link(node, outbox) as link:
        cmd = link.send_command({"red": True, "green": True})
        assert link.wait_for_command(cmd, timeout=5)
        assert node.stack_light == 5
        assert link.wait_for_command(link.send_command(0), timeout=5)
        assert node.stack_light == 0


def test_unregistered_node_gets_no_acks(node: EmulatedNode, outbox: Outbox) -> None:
    with agent_link(node, outbox, stations={"other-node": "press-1"}) as link:
        node.read_tag(uid(2))
        wait_until(lambda: link.stats.unregistered >= 2)
    assert stored(outbox) == {}
    assert len(node.unacknowledged()) == 1


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.faults
@pytest.mark.parametrize(
    "faults",
    [
        LinkFaults(drop_rate=0.01, seed=3),
        LinkFaults(flip_rate=0.005, seed=4),
        LinkFaults(duplicate_rate=0.3, seed=5),
        LinkFaults(drop_rate=0.005, flip_rate=0.003, duplicate_rate=0.1, seed=6),
    ],
    ids=["dropped-bytes", "flipped-bits", "duplicated-frames", "all-at-once"],
)
def test_damaged_line_loses_and_doubles_nothing(
    node: EmulatedNode, outbox: Outbox, faults: LinkFaults
) -> None:
    node.faults = faults
    node.link.stream.faults = faults
    tags = {}
    with agent_link(node, outbox) as link:
        for i in range(40):
            key = node.read_tag(uid(i))
            assert key is not None
            tags[key] = uid(i).hex().upper()
            time.sleep(0.005)
        wait_until(drained(node, outbox), timeout=20)
    assert_exactly_once(node, outbox, tags)
    assert link.stats.stored == 40
    if faults.flip_rate or faults.drop_rate:
        assert link.stats.decode_errors + node.link.decode_errors > 0


@pytest.mark.faults
def test_link_broken_and_restored_while_node_stays_powered(
    node: EmulatedNode, outbox: Outbox
) -> None:
    tags = {}
    with agent_link(node, outbox):
        for i in range(5):
            key = node.read_tag(uid(i))
            assert key
            tags[key] = uid(i).hex().upper()
        wait_until(drained(node, outbox))
        node.faults.broken = True
        for i in range(5, 25):
            key = node.read_tag(uid(i))
            assert key
            tags[key] = uid(i).hex().upper()
        time.sleep(0.3)
        assert len(node.unacknowledged()) == 20
        node.faults.broken = False
        wait_until(drained(node, outbox))
    assert_exactly_once(node, outbox, tags)


@pytest.mark.faults
def test_agent_stopped_and_restarted_mid_stream(
    node: EmulatedNode, outbox: Outbox, tmp_path: Path
) -> None:
    tags = {}

    def read(i: int) -> None:
        key = node.read_tag(uid(i))
        assert key
        tags[key] = uid(i).hex().upper()

    with agent_link(node, outbox):
        for i in range(10):
            read(i)
    # The agent is gone; the node keeps reading; a new agent process opens the same outbox.
    for i in range(10, 20):
        read(i)
    path = outbox.path
    outbox.close()
    with Outbox(path, agent=AGENT, synchronous="NORMAL") as again:
        with agent_link(node, again):
            for i in range(20, 30):
                read(i)
            wait_until(drained(node, again))
        assert_exactly_once(node, again, tags)


@pytest.mark.faults
def test_node_reset_mid_stream_loses_only_the_unacknowledged_window(
    node: EmulatedNode, outbox: Outbox
) -> None:
    with agent_link(node, outbox):
        for i in range(10):
            node.read_tag(uid(i))
        wait_until(drained(node, outbox))
        node.faults.broken = True  # the reads below stay in the ring, unacknowledged
        for i in range(10, 16):
            node.read_tag(uid(i))
        first_instance = node.instance.hex()
        lost = node.reset()
        node.faults.broken = False
        for i in range(16, 26):
            node.read_tag(uid(i))
        wait_until(lambda: not node.unacknowledged())
        wait_until(lambda: len(stored(outbox)) == len(node.produced) - len(lost))
    assert node.instance.hex() != first_instance
    assert len(lost) == 6 <= node.ring_size
    got = stored(outbox)
    missing = set(node.produced) - set(got)
    assert missing == set(lost)
    # after the reset the node counts from 1 again, under a new instance: no key is reused
    assert sorted(s for inst, s in got if inst == node.instance.hex()) == list(range(1, 11))


@pytest.mark.faults
def test_node_reset_with_a_healthy_link_loses_at_most_what_was_in_flight(
    node: EmulatedNode, outbox: Outbox
) -> None:
    with agent_link(node, outbox):
        for round_ in range(3):
            for i in range(20):
                node.read_tag(uid(round_ * 100 + i))
            node.reset()
        wait_until(lambda: not node.unacknowledged())
        kept = set(node.produced) - set(node.lost_at_reset)
        wait_until(lambda: kept <= set(stored(outbox)))
    # reads in flight at a reset may have reached the outbox before their ack reached the node
    missing = set(node.produced) - set(stored(outbox))
    assert missing <= set(node.lost_at_reset)
    assert len(node.lost_at_reset) <= 3 * node.ring_size
    assert len({inst for inst, _ in node.produced}) == 3


_AGENT_PROCESS = """
import sys, time, serial
from agent.outbox import Outbox
from agent.serial_link import SerialLink
port = serial.Serial(sys.argv[1], timeout=0.02)
outbox = Outbox(sys.argv[2], agent="pi-7")
with SerialLink(port, outbox, agent="pi-7", stations={"node-1": "press-3"}):
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.faults
@pytest.mark.slow
def test_agent_process_killed_and_restarted(node: EmulatedNode, tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    produced = 0

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", _AGENT_PROCESS, node.port, str(db)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    for _ in range(2):
        proc = start()
        for _ in range(30):
            assert node.read_tag(uid(produced))
            produced += 1
            time.sleep(0.003)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: some reads are not acknowledged
        proc.wait()
    proc = start()
    try:
        wait_until(lambda: not node.unacknowledged(), timeout=20)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Outbox(db, agent=AGENT) as outbox:
        assert set(stored(outbox)) == set(node.produced)
        assert len(node.produced) == produced
