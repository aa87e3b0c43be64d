"""The agent's data directory fills up while it records and the broker is away, then empties.

A real outbox and uplink on a 16 MiB tmpfs, a real Mosquitto and the cloud's ingest. The broker
is stopped, the agent goes on recording, the disk is filled: appends are refused (`OutboxFull`)
and one `disk_full` alarm is stored in the room the ballast gave back, naming the free space and
the depth. The broker comes back while the disk is still full: the backlog goes up and the
cloud's confirmations are applied (the uplink thread survives). The disk empties: the agent
takes events again by itself, records `disk_ok`, and every event whose append returned is in the
cloud's log exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import OutboxFull
from taktline.private_broker import PrivateMosquitto
from tests.faults.conftest import SmallDisk
from tests.sync.harness import make_agent, make_cloud, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]

AGENT = "pi-crimp-01"


def test_a_full_disk_is_an_alarm_and_the_agent_recovers_by_itself(
    tmp_path: Path, mosquitto: PrivateMosquitto, small_disk: SmallDisk
) -> None:
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    outbox, uplink = make_agent(small_disk.folder, mosquitto.url, AGENT, resend_after_s=2.0)
    stored: list[tuple[str, int]] = []
    refused = 0

    def record(n: int) -> None:
        nonlocal refused
        for _ in range(n):
            try:
                event = outbox.append(
                    "machine.signal",
                    {"signal": "cycle", "count": 1},
                    source=AGENT,
                    station="crimp-01",
                )
            except OutboxFull:
                refused += 1
            else:
                stored.append(event.key)

    with ingest:
        assert ingest.wait_for_connection(10)
        uplink.start()
        record(50)
        wait_for(lambda: outbox.depth() == 0, 20, "the first events settled")
        mosquitto.stop()
        record(200)  # the broker is away: they wait in the outbox
        small_disk.fill(outbox._db.conn)
        before = len(stored)
        for _ in range(200):  # the write-ahead log reuses its room for a while
            record(50)
            if refused:
                break
        record(20)
        assert refused > 0, "appends are refused on a full disk"
        assert outbox.disk_full
        print(f"\nfull disk: {refused} appends refused, {len(stored) - before} still stored")
        mosquitto.restart()  # the broker comes back while the disk is still full
        wait_for(lambda: uplink.is_connected, 20, "the uplink reconnected")
        wait_for(lambda: outbox.depth() < 20, 30, "the backlog sent and its confirmations applied")
        assert uplink.health().state == "running", uplink.health()
        record(20)  # still full: refused, never lost
        small_disk.empty(outbox._db.conn)
        wait_for(lambda: not outbox.disk_full, 10, "the agent noticed the room")
        record(30)
        wait_for(lambda: outbox.depth() == 0, 30, "everything settled")
        uplink.stop()
    keys = log.event_keys()
    assert len(keys) == len(set(keys))
    logged = set(keys)
    assert set(stored) <= logged, "every stored event reached the cloud once"
    alarms = [event["payload"] for _, event, _ in log.replay() if event["type"] == "agent.alarm"]
    kinds = [a["alarm"] for a in alarms]
    assert kinds.count("disk_full") == 1 and kinds.count("disk_ok") == 1, kinds
    full = next(a for a in alarms if a["alarm"] == "disk_full")
    assert "bytes free" in full["detail"] and "outbox depth" in full["detail"], full
    assert uplink.worker.faults_in_a_row == 0
