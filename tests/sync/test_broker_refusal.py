"""A publish the broker refuses (MQTT 5 reason 135) is dead-lettered at the agent, with an alarm.

On MQTT 3.1.1 a broker acknowledges a publish its ACL denied, so an agent cannot tell; on MQTT 5
Mosquitto answers the PUBACK with reason code 135 (not authorised). Retrying such a publish would
spin for ever, so the agent moves the events to its local dead-letter table and records one
`publish_refused` alarm. The same broker keeps serving an agent the ACL allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import Outbox
from taktline.private_broker import PrivateMosquitto
from tests.conftest import started_mosquitto
from tests.sync.harness import AREA, SITE, make_agent, make_cloud, wait_for

pytestmark = pytest.mark.mqtt

ALLOWED, DENIED = "pi-allowed", "pi-denied"


@pytest.fixture
def acl_broker() -> Iterator[PrivateMosquitto]:
    acl = (
        f"topic readwrite taktline/v1/{SITE}/{AREA}/{ALLOWED}/#\n"
        f"topic read taktline/v1/{SITE}/{AREA}/{DENIED}/settled\n"
        f"topic read taktline/v1/{SITE}/+/+/events\n"
        f"topic read taktline/v1/{SITE}/+/+/status\n"
        f"topic write taktline/v1/{SITE}/+/+/settled\n"
    )
    with started_mosquitto(acl=acl) as broker:
        yield broker


def test_refused_events_are_dead_lettered_with_one_alarm(
    tmp_path: Path, acl_broker: PrivateMosquitto
) -> None:
    log, ingest = make_cloud(tmp_path, acl_broker.url, [ALLOWED, DENIED])
    good_outbox, good = make_agent(tmp_path, acl_broker.url, ALLOWED)
    bad_outbox, bad = make_agent(tmp_path, acl_broker.url, DENIED)
    with ingest, good, bad:
        assert ingest.wait_for_connection(30)  # subscribed before anything is sent
        for n in range(5):
            bad_outbox.append("machine.signal", {"signal": "cycle", "count": n + 1}, source=DENIED)
            good_outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source=ALLOWED)
        wait_for(lambda: bad_outbox.dead_letter_count >= 5, 15, "the refused events")
        wait_for(lambda: log.count() == 5, 15, "the allowed agent's events")
        wait_for(lambda: good_outbox.depth() == 0, 15, "the allowed agent's settlement")
    # Nothing of the denied agent reached the cloud, and nothing of it is retried for ever.
    assert {key[0] for key in log.event_keys()} == {good_outbox.instance}
    letters = bad_outbox.dead_letters()
    cycles = [d for d in letters if d["event"]["type"] == "machine.signal"]
    assert len(cycles) == 5
    assert all("135" in d["reason"] for d in cycles), cycles[0]["reason"]
    # One alarm says so (refused in turn on this broker, so it is dead-lettered too).
    alarms = [d["event"] for d in letters if d["event"]["type"] == "agent.alarm"]
    alarms += [e for _, e in _pending(bad_outbox) if e["type"] == "agent.alarm"]
    assert [a["payload"]["alarm"] for a in alarms] == ["publish_refused"]
    assert all(e["type"] == "agent.alarm" for _, e in _pending(bad_outbox))
    bad_outbox.close()
    good_outbox.close()


def _pending(outbox: Outbox) -> list[tuple[int, dict[str, Any]]]:
    return [(i, json.loads(body)) for i, body in outbox.pending(0, 100)]
