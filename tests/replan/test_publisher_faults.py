"""A broker that loses its retained store still serves the current plan after a reconnect; a
fault in the publisher's network loop is retried by its supervisor and shows in its health."""

from __future__ import annotations

import time

import pytest

from cloud.plant import Order, Plant
from cloud.replan import Engine, PlanPublisher, Replanner
from contract.downlink import StationSchedule
from contract.topics import station_schedule_topic
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings, Session
from tests.conftest import started_mosquitto
from tests.replan.conftest import NOW
from tests.replan.test_end_to_end import _fetch_retained

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]


def test_schedules_are_published_again_after_the_broker_lost_them(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    with started_mosquitto(persistence=False) as broker:
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


def test_a_fault_in_the_publishers_loop_is_retried_and_shows_in_its_health(
    harness: tuple[Plant, list[Order]], monkeypatch: pytest.MonkeyPatch
) -> None:
    plant, orders = harness
    with started_mosquitto() as broker:
        settings = BrokerSettings.from_url(broker.url, backoff_max_s=0.5)
        with PlanPublisher(settings, plant.site) as publisher:
            assert publisher.worker.health().state == "running"
            real = Session.run_once
            faults = {"left": 3}

            def faulty(self: Session, timeout: float = 0.01) -> bool:
                if faults["left"] > 0:
                    faults["left"] -= 1
                    raise RuntimeError("socket went away mid-frame")
                return real(self, timeout)

            monkeypatch.setattr(Session, "run_once", faulty)
            deadline = time.monotonic() + 20
            while publisher.worker.health().state != "failing" and time.monotonic() < deadline:
                time.sleep(0.01)
            failing = publisher.worker.health()
            assert failing.state == "failing"
            assert failing.last_error is not None and "socket went away" in failing.last_error
            while publisher.worker.health().state != "running" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert publisher.worker.health().restarts >= 3
            assert publisher.worker.health().state == "running"
            replanner = Replanner(
                Engine(plant, orders, NOW), publisher=publisher, clock=FakeClock(NOW)
            )
            replanner.publish_all()  # and it still publishes
            station = next(r for r, v in publisher.versions.items() if not r.startswith("@"))
            topic = station_schedule_topic(plant.site, station)
            assert StationSchedule.decode(_fetch_retained(broker.port, topic, timeout=10))
