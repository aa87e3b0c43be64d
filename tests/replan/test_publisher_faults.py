"""A broker that loses its retained store still serves the current plan after a reconnect."""

from __future__ import annotations

import time

import pytest

from cloud.plant import Order, Plant
from cloud.replan import Engine, PlanPublisher, Replanner
from contract.downlink import StationSchedule
from contract.topics import station_schedule_topic
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import BrokerUnavailable, PrivateMosquitto
from tests.conftest import service_missing
from tests.replan.conftest import NOW
from tests.replan.test_end_to_end import _fetch_retained

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]


def test_schedules_are_published_again_after_the_broker_lost_them(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    try:
        broker = PrivateMosquitto(persistence=False)
        broker.start()
    except BrokerUnavailable as exc:
        service_missing(str(exc))
        raise
    try:
        settings = BrokerSettings.from_url(broker.url, backoff_max_s=0.5)
        with PlanPublisher(settings, plant.site) as publisher:
            replanner = Replanner(
                Engine(plant, orders, NOW), publisher=publisher, clock=FakeClock(NOW)
            )
            replanner.publish_all()
            station = next(r for r, v in publisher.versions.items() if not r.startswith("@"))
            topic = station_schedule_topic(plant.site, station)
            first = StationSchedule.decode(_fetch_retained(broker.port, topic))
            broker.kill()  # no persistence: the retained store is gone
            broker.restart()
            deadline = time.monotonic() + 20
            while publisher.connections < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert publisher.connections >= 2
            again = StationSchedule.decode(_fetch_retained(broker.port, topic, timeout=10))
            assert again == first
    finally:
        broker.close()
