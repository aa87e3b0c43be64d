"""Breakdown -> replan -> retained station schedules change -> gap e-mail, once (real services)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.plant import Order, Plant
from cloud.replan import Engine, GapMailer, PlanPublisher, Replanner, ResourceLost, SmtpSettings
from contract.downlink import GapReport, OperatorSchedule, PlanSnapshot, StationSchedule
from contract.topics import (
    gap_report_topic,
    operator_schedule_topic,
    plan_topic,
    station_schedule_topic,
)
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.replan.conftest import NOW, Inbox

pytestmark = pytest.mark.mqtt


def _fetch_retained(port: int, topic: str, timeout: float = 5.0) -> bytes:
    """A fresh subscriber: the retained message it gets at once."""
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: (got.append(bytes(m.payload)), done.set())
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert done.wait(timeout), f"no retained message on {topic}"
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0]


def _wait(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_breakdown_replans_publishes_and_mails_once(
    mosquitto: PrivateMosquitto,
    smtp_server: tuple[int, Inbox],
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    port, inbox = smtp_server
    clock = FakeClock(NOW)
    kinds = {r.id: r.kind for r in plant.resources}
    mailer = GapMailer(
        SmtpSettings(port=port, sender="plan@taktline.test"),
        {"planner": ["ann@plant.test", "bo@plant.test"], "maintenance": ["mo@plant.test"]},
    )
    broker = BrokerSettings.from_url(mosquitto.url)
    with PlanPublisher(broker, plant.site) as publisher:
        engine = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
        replanner = Replanner(
            engine, publisher=publisher, mailer=mailer, clock=clock, quiet=timedelta(seconds=2)
        )
        replanner.publish_all()
        first_mails = len(inbox.messages)
        # the busiest machine breaks down an hour from now, until further notice
        machine = max(
            (r for r in replanner.book.jobs if kinds[r] == "machine"),
            key=lambda r: len(replanner.book.jobs[r]),
        )
        topic = station_schedule_topic(plant.site, machine)
        _wait(lambda: publisher.versions.get(machine) == 1)
        before = StationSchedule.decode(_fetch_retained(mosquitto.port, topic))
        assert before.version == 1 and before.jobs
        with replanner:
            # the whole group goes down in a burst (one replan): the gap report must change
            group = next(g for g in plant.groups.values() if machine in g.members)
            for member in group.members:
                replanner.submit(ResourceLost(member, NOW + timedelta(minutes=60)))
            time.sleep(0.1)
            assert replanner.stats.replans == 0  # still inside the quiet window
            clock.advance(3)
            _wait(lambda: replanner.stats.replans == 1)
        after = StationSchedule.decode(_fetch_retained(mosquitto.port, topic))
        assert after.version > before.version
        moved = {j.key for j in before.jobs if j.start >= "2026-03-23T06:00:00Z"}
        assert moved and moved <= set(after.changed)
        assert all(j.end <= "2026-03-23T06:00:00Z" for j in after.jobs)
        operator = next(r for r in replanner.book.jobs if kinds[r] == "operator")
        raw = _fetch_retained(mosquitto.port, operator_schedule_topic(plant.site, operator))
        mine = OperatorSchedule.decode(raw)
        assert mine.version == publisher.versions[operator]
        assert {j.key for j in mine.jobs} == set(replanner.book.jobs[operator])
        snapshot = PlanSnapshot.decode(_fetch_retained(mosquitto.port, plan_topic(plant.site)))
        assert snapshot.version == 2 and snapshot.plan["site"] == plant.site
        report = GapReport.decode(_fetch_retained(mosquitto.port, gap_report_topic(plant.site)))
        assert report.digest == replanner.gap_report["digest"]
        # a gap report that changed was mailed to the planners (not to maintenance)
        _wait(lambda: len(inbox.messages) > first_mails)
        mail = inbox.messages[-1]
        assert sorted(inbox.rcpt[-1]) == ["ann@plant.test", "bo@plant.test"]
        assert "resource gaps" in mail["Subject"]
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes) and b"short" in body
        sent = len(inbox.messages)
        # the same report again: no e-mail
        replanner.publish_all()
        assert replanner.mailer is not None and replanner.mailer.sent == sent
        time.sleep(0.3)
        assert len(inbox.messages) == sent
        json.dumps(replanner.gap_report)
