"""Faults that are the message's, not the cloud's: kept whole, counted by kind, ready all along.

- An event whose fold raises (a bug injected into one status rule) stays in the log, is a dead
  letter of kind `fold`, a rebuild skips it the same way, and `/readyz` stays 200.
- A batch from an agent one contract version ahead (a rolling upgrade): kept once as a dead letter
  of kind `version_ahead`, nothing of it confirmed; the agent keeps all 200 events, backs its
  resends off and raises one `unconfirmed` alarm; once the cloud accepts that version (the test
  switch: `Ingest.accept_versions`) all 200 arrive exactly once.
- The broker stopped: `/readyz` 503 until it is back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent.uplink as uplink_module
from cloud.status import FoldFailed, ResourceStatus
from cloud.status.model import ResourceStatus as Model
from cloud.store import EventLog
from taktline.private_broker import PrivateMosquitto
from tests.faults.harness import make_service, readyz
from tests.sync.harness import make_agent, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]

AGENT = "pi-crimp-01"
POISON = "04DEAD01"


def test_a_fold_that_raises_is_a_dead_letter_and_the_cloud_stays_ready(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Model._badge

    def badge(self: Model, machine: Any, tag: str, at: str) -> str:
        if tag == POISON:
            raise KeyError("a rule that never foresaw this badge")
        return real(self, machine, tag, at)

    monkeypatch.setattr(Model, "_badge", badge)
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [AGENT])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, AGENT)
    with cloud, uplink:
        assert cloud.ingest.wait_for_connection(10)
        for tag in ("04112233", POISON, "04445566"):
            outbox.append("badge.read", {"tag": tag}, source=AGENT, station="crimp-01")
        wait_for(lambda: outbox.depth() == 0, 20, "all three settled")
        wait_for(lambda: cloud.ingest.stats.dead_by_kind["fold"] == 1, 10, "the fold's dead letter")
        assert readyz(cloud)[0] == 200
        assert cloud.log.count() == 3  # the event itself stays in the log
        letters = cloud.log.dead_letters(10)
        assert len(letters) == 1 and "fold of 'badge.read' failed" in letters[0]["reason"]
        assert json.loads(letters[0]["body"])["payload"]["tag"] == POISON
        people = cloud.status.snapshot()["labour"]
        assert people, "the other badges were folded"
    # a rebuild skips it the same way instead of failing the next start
    with EventLog(tmp_path / "cloud.db") as log:
        rebuilt = ResourceStatus()
        assert rebuilt.rebuild(log.replay()) == 3
    assert rebuilt.fold_failures == 1
    with pytest.raises(FoldFailed):
        ResourceStatus().apply(json.loads(letters[0]["body"]), "2026-12-05T08:00:00Z")


def test_a_batch_one_contract_version_ahead_is_kept_not_confirmed(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ahead(agent: str, sent: Any, bodies: Any) -> bytes:
        payload = real_encode(agent, sent, bodies)
        assert payload.startswith(b'{"v":1,')
        return b'{"v":2,' + payload[len(b'{"v":1,') :]

    real_encode = uplink_module.encode_batch
    monkeypatch.setattr(uplink_module, "encode_batch", ahead)
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [AGENT])
    outbox, uplink = make_agent(
        tmp_path, mosquitto.url, AGENT, resend_after_s=0.3, resend_max_s=1.0
    )
    for _ in range(200):
        outbox.append(
            "machine.signal", {"signal": "cycle", "count": 1}, source=AGENT, station="crimp-01"
        )
    with cloud, uplink:
        assert cloud.ingest.wait_for_connection(10)
        wait_for(lambda: uplink.stats.resends >= 4, 20, "the agent sending again, backing off")
        assert cloud.log.count() == 0, "nothing of a version-ahead batch is applied"
        assert outbox.depth() >= 200, "the agent keeps every event"
        pending = [json.loads(body) for _, body in outbox.pending(0, 1000)]
        alarms = [e["payload"]["alarm"] for e in pending if e["type"] == "agent.alarm"]
        assert alarms == ["unconfirmed"], alarms
        kept = cloud.ingest.stats.dead_by_kind["version_ahead"]
        assert kept >= 1
        letters = cloud.log.dead_letters(100)
        assert all("version 2" in letter["reason"] for letter in letters)
        sizes = sorted(len(json.loads(letter["body"])["events"]) for letter in letters)
        assert sizes[-1] == 200, "kept whole"
        assert len(letters) <= 2, "kept once per set of events (with the alarm: a second set)"
        assert readyz(cloud)[0] == 200
        # the cloud is upgraded: it reads version 2 too
        cloud.ingest.accept_versions = (1, 2)
        wait_for(lambda: outbox.depth() == 0, 30, "all of it confirmed after the upgrade")
        keys = cloud.log.event_keys()
        assert len(keys) == len(set(keys)) == 201  # 200 counts and the one alarm, once each


def test_the_broker_away_makes_the_cloud_not_ready(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [AGENT])
    with cloud:
        assert cloud.ingest.wait_for_connection(10)
        assert readyz(cloud)[0] == 200
        mosquitto.stop()
        wait_for(lambda: readyz(cloud)[0] == 503, 20, "/readyz 503 with the broker away")
        problems = readyz(cloud)[1]["parts"]["ingest"]["problems"]
        assert any("broker" in p for p in problems), problems
        mosquitto.restart()
        wait_for(lambda: readyz(cloud)[0] == 200, 30, "/readyz 200 with the broker back")


def test_an_exception_while_reading_a_message_confirms_nothing_of_it(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud.ingest import Ingest

    real = Ingest._source_problem
    calls = {"n": 0}

    def flaky(self: Ingest, event: Any, agent: str) -> str | None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second event of the first message: after a key was noted
            raise RuntimeError("a bug in an identity check")
        return real(self, event, agent)

    monkeypatch.setattr(Ingest, "_source_problem", flaky)
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [AGENT])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, AGENT, resend_after_s=0.5)
    for _ in range(5):
        outbox.append(
            "machine.signal", {"signal": "cycle", "count": 1}, source=AGENT, station="crimp-01"
        )
    with cloud, uplink:
        assert cloud.ingest.wait_for_connection(10)
        wait_for(lambda: cloud.ingest.stats.dead_by_kind["internal"] == 1, 20, "the dead letter")
        letter = cloud.log.dead_letters(10)[0]
        assert "a bug in an identity check" in letter["reason"]
        assert len(json.loads(letter["body"])["events"]) == 5, "kept whole"
        # nothing of it was confirmed: the agent sends it again, and then it all arrives once
        wait_for(lambda: outbox.depth() == 0, 20, "the resend applied")
        keys = cloud.log.event_keys()
        assert len(keys) == len(set(keys)) == 5
        # sent twice at least: by the resend timer, or at the cloud's ask when it found no
        # broker session kept for it (its first start)
        assert uplink.stats.events_sent >= 10, uplink.stats
