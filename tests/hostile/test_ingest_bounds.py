"""Hostile MQTT messages: each is dead-lettered with its reason and ingest goes on (issue 15).

Every message goes through `Ingest.apply_messages` (the live loop's rounds: validation, identity
checks, one transaction per round) into a real SQLite file and a real PostgreSQL: the crafted
inputs that stopped ingest for good (a sequence number past 2^63, a raw NUL byte) failed in the
database write, not in the parser.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.ingest import Ingest, _key_of, _salvage_keys
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract import AgentPath
from taktline.clock import utc_iso
from taktline.mqtt import BrokerSettings

SITE, AREA = "plant1", "harness"
A1, A2 = "pi-cut-01", "pi-crimp-01"
RECEIVED = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
NOW = "2026-11-23T08:00:00Z"
TOPIC = AgentPath(SITE, AREA, A1).events


@pytest.fixture
def cloud(tmp_path: Path, database: str) -> Iterator[tuple[EventLog, Ingest]]:
    log = EventLog(database)
    for agent in (A1, A2):
        log.register_agent(agent, SITE, AREA)
    log.register_device("cut-01-badge", A1, "cut-01")
    log.register_device("crimp-01-badge", A2, "crimp-01")
    ingest = Ingest(log, ResourceStatus(), BrokerSettings.from_url("mqtt://127.0.0.1:1"), site=SITE)
    yield log, ingest
    log.close()


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "type": "badge.read",
        "source": "cut-01-badge",
        "agent": A1,
        "station": "cut-01",
        "instance": secrets.token_hex(16),
        "seq": 1,
        "time": NOW,
        "mono_ns": 1_000,
        "boot": "boot1",
        "payload": {"tag": "04A1B2C3"},
    }
    base.update(changes)
    return base


def message(*events: dict[str, Any], sent_mono: int = 2_000, sent_boot: str = "boot1") -> bytes:
    sent = {"time": NOW, "mono_ns": sent_mono, "boot": sent_boot}
    return json.dumps({"v": 1, "agent": A1, "sent": sent, "events": list(events)}).encode()


def run(ingest: Ingest, *payloads: bytes) -> None:
    ingest.apply_messages((TOPIC, payload, RECEIVED) for payload in payloads)


def reasons(log: EventLog) -> list[str]:
    return [letter["reason"] for letter in log.dead_letters()]


def assert_goes_on(log: EventLog, ingest: Ingest) -> None:
    before = log.count()
    run(ingest, message(event()))
    assert log.count() == before + 1


def test_a_sequence_number_past_2_63_is_dead_lettered_without_its_key(
    cloud: tuple[EventLog, Ingest],
) -> None:
    log, ingest = cloud
    huge = 99999999999999999999
    run(ingest, message(event(seq=huge)))
    (letter,) = log.dead_letters()
    assert "seq" in letter["reason"] and letter["seq"] is None
    # A broken envelope: the keys salvaged for settlement are bounded the same way.
    broken = json.dumps({"v": 2, "events": [event(seq=huge), event(seq=2**63)]}).encode()
    run(ingest, broken)
    assert len(log.dead_letters()) == 2
    assert_goes_on(log, ingest)


def test_key_helpers_apply_the_contracts_bounds() -> None:
    instance = "0" * 32
    assert _key_of({"instance": instance, "seq": 2**63 - 1}) == (instance, 2**63 - 1)
    assert _key_of({"instance": instance, "seq": 2**63}) is None
    assert _key_of({"instance": instance, "seq": 0}) is None
    assert _key_of({"instance": "Z" * 32, "seq": 1}) is None
    assert _key_of({"instance": instance + "\n", "seq": 1}) is None
    raw = json.dumps({"events": [{"instance": instance, "seq": 10**30}, [], 5]}).encode()
    assert _salvage_keys(raw) == []
    assert _salvage_keys(b'{"events": [NaN]}') == []
    assert _salvage_keys(b"[" * 100_000) == []


def test_a_raw_nul_byte_is_dead_lettered_on_every_store(cloud: tuple[EventLog, Ingest]) -> None:
    log, ingest = cloud
    good = message(event())
    run(ingest, good[:-1] + b"\x00}", b'{"v":1,\x00"agent":1}')
    assert len(log.dead_letters()) == 2
    assert all("\x00" not in letter["body"] for letter in log.dead_letters())
    assert_goes_on(log, ingest)


def test_nul_and_control_characters_in_text_are_refused(cloud: tuple[EventLog, Ingest]) -> None:
    log, ingest = cloud
    alarm = {"alarm": "reader_lost", "detail": "gone\x00"}
    run(ingest, message(event(type="agent.alarm", source=A1, station=None, payload=alarm)))
    assert "control character" in reasons(log)[0]
    fine = {"alarm": "reader_lost", "detail": "line one\nline two\tend"}
    run(ingest, message(event(type="agent.alarm", source=A1, station=None, payload=fine)))
    assert log.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        b'"uptime_s": NaN',
        b'"uptime_s": Infinity',
        b'"uptime_s": -Infinity',
        b'"uptime_s": 1e999',
    ],
)
def test_nan_and_infinity_are_refused(cloud: tuple[EventLog, Ingest], raw: bytes) -> None:
    log, ingest = cloud
    payload = {"uptime_s": 0, "outbox_depth": 0, "outbox_oldest_age_s": None, "dead_letters": 0}
    body = message(event(type="agent.heartbeat", source=A1, station=None, payload=payload))
    run(ingest, body.replace(b'"uptime_s": 0', raw))
    assert len(log.dead_letters()) == 1 and log.count() == 0
    assert "Infinity" not in json.dumps(ingest.status.snapshot(), allow_nan=False)
    assert_goes_on(log, ingest)


@pytest.mark.parametrize(
    ("changes", "sent", "reason"),
    [
        ({"time": "9999-12-31T23:59:59Z", "boot": "other"}, {}, "time"),
        ({"time": "0001-01-01T00:00:00Z"}, {}, "time"),
        # a clock fault: 1970 on the device, and no monotonic link to the message
        ({"time": "1970-01-01T00:00:05Z", "boot": "other"}, {}, "implausible device"),
        # a clock gap: 292 years between the event's and the message's monotonic clocks
        ({"mono_ns": 0}, {"sent_mono": 2**63 - 1}, "implausible monotonic"),
        ({"time": "2027-06-01T00:00:00Z", "boot": "other"}, {}, "implausible device"),
    ],
    ids=["year-9999", "year-1", "clock-fault-1970", "clock-gap-1734", "far-future"],
)
def test_implausible_times_are_dead_lettered_with_the_reason(
    cloud: tuple[EventLog, Ingest], changes: dict[str, Any], sent: dict[str, Any], reason: str
) -> None:
    log, ingest = cloud
    run(ingest, message(event(**changes), **sent))
    assert log.count() == 0
    assert reason in reasons(log)[0]
    assert_goes_on(log, ingest)


def test_a_monotonic_time_corrects_a_device_clock_that_never_was_set(
    cloud: tuple[EventLog, Ingest],
) -> None:
    """A Pi without a real-time clock says 1970; its monotonic clock still places the event."""
    log, ingest = cloud
    run(ingest, message(event(time="1970-01-01T00:01:00Z")))
    assert log.count() == 1 and log.dead_letters() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"source": "cut-01-badge\n"},
        {"agent": A1 + "\n"},
        {"instance": secrets.token_hex(16) + "\n"},
        {"time": NOW + "\n"},
        {"time": "٢٠٢٦-11-23T08:00:00Z"},
        {"payload": {"tag": "04A1B2C3\n"}},
        {"station": "cut\x00-01"},
    ],
    ids=["source", "agent", "instance", "time", "arabic-digits", "tag", "nul-station"],
)
def test_ids_and_times_are_matched_whole(
    cloud: tuple[EventLog, Ingest], changes: dict[str, Any]
) -> None:
    log, ingest = cloud
    run(ingest, message(event(**changes)))
    assert log.count() == 0 and len(log.dead_letters()) == 1


def test_an_agent_cannot_act_on_another_agents_station(cloud: tuple[EventLog, Ingest]) -> None:
    """pi-cut-01 put crimp-01 into breakdown: its own source, another agent's station."""
    log, ingest = cloud
    stop = {"reason": "breakdown"}
    run(
        ingest,
        message(event(type="machine.stop_reason", station="crimp-01", payload=stop)),
        message(event(type="machine.stop_reason", source=A1, station="crimp-01", payload=stop)),
    )
    assert log.count() == 0
    assert "registered at station 'cut-01', not 'crimp-01'" in reasons(log)[0]
    assert "not served by agent" in reasons(log)[1]
    assert ingest.status.snapshot().get("machines", {}).get("crimp-01", {}).get("state") in (
        None,
        "unknown",
    )
    assert_goes_on(log, ingest)


def test_an_agent_cannot_send_cloud_side_events(cloud: tuple[EventLog, Ingest]) -> None:
    """pi-cut-01 recorded 777 scrap at crimp-02 in a planner's name."""
    log, ingest = cloud
    correction = {
        "correction": "scrap",
        "by": "planner-anna",
        "reason": "counted by hand",
        "at": NOW,
        "station": "cut-01",
        "tag": None,
        "value": 777,
        "voids": None,
    }
    run(ingest, message(event(type="correction", source=A1, station=None, payload=correction)))
    assert log.count() == 0
    assert "written by the cloud only" in reasons(log)[0]


def test_the_plausibility_window_follows_the_receiving_clock(
    cloud: tuple[EventLog, Ingest],
) -> None:
    log, ingest = cloud
    old = utc_iso(RECEIVED - timedelta(days=30))
    run(ingest, message(event(time=old, boot="other")))
    assert log.count() == 1
