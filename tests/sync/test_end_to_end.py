"""A tap reaches the cloud's status through the outbox and a real Mosquitto."""

from __future__ import annotations

from pathlib import Path

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import make_agent, make_cloud, wait_for

pytestmark = pytest.mark.mqtt


def test_badge_tap_reaches_status(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    log, ingest = make_cloud(tmp_path, mosquitto.url, ["pi-crimp-01"])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, "pi-crimp-01")
    with ingest, uplink:
        assert ingest.wait_for_connection(30)  # subscribed before anything is sent
        outbox.append("badge.read", {"tag": "04A1B2C3"}, source="pi-crimp-01", station="crimp-01")
        outbox.append(
            "machine.signal",
            {"signal": "run", "on": True},
            source="pi-crimp-01",
            station="crimp-01",
        )
        wait_for(lambda: log.count() == 2, 30, "two events in the log")
        assert uplink.wait_until_drained(30)
    snap = ingest.status.snapshot()
    assert snap["machines"]["crimp-01"]["operators"] == ["04A1B2C3"]
    assert snap["machines"]["crimp-01"]["running"] is True
    assert snap["operators"] == {"04A1B2C3": "crimp-01"}


def test_events_after_a_drained_outbox_are_sent(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    """Regression: row ids reused after the outbox emptied left new events behind the cursor."""
    log, ingest = make_cloud(tmp_path, mosquitto.url, ["pi-crimp-01"])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, "pi-crimp-01")
    with ingest, uplink:
        assert ingest.wait_for_connection(30)  # subscribed before anything is sent
        for round_ in range(1, 4):
            outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source="pi-crimp-01")
            wait_for(lambda n=round_: log.count() == n, 20, f"event {round_} in the log")  # type: ignore[misc]
            assert uplink.wait_until_drained(20)
