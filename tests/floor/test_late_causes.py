"""A late lorry's delivery is the named cause of the order it makes late, in report and mail.

Lorry events (a package loaded, positions in a jam) are committed to a real SQLite event log,
folded into the status, turned into a `DeliveryLate` naming the delivery by the floor reactions
(the code the cloud runs after every ingest round), and replanned; the gap report's late order
says "delivery D-1001 ready 16:15" (the plant's clock) and the mail says why. The fixtures are
the presence test's floor and the status rules' lorry events.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cloud.plant import parse_orders
from cloud.replan import DeliveryLate, Engine, Replanner
from cloud.replan.feeds import delivery_feeds
from cloud.replan.mailer import render_report
from taktline.clock import FakeClock
from tests.floor.test_presence_plan import PLANT, Floor
from tests.status.events import T0
from tests.status.test_rules import LORRY, _package, _position


def test_a_late_delivery_is_the_cause_of_the_order_it_makes_late(tmp_path: Path) -> None:
    floor = Floor(str(tmp_path / "cloud.db"))
    floor("package.read", _package("C0000001", "load", "connector-12p"), 0, **LORRY)
    assert PLANT.logistics.lat is not None and PLANT.logistics.lon is not None
    # Far away and standing in a jam: ready long after the line needs the connectors.
    jam = _position(PLANT.logistics.lat - 2.0, PLANT.logistics.lon, 0.0)
    floor("gps.position", jam, 200, **LORRY)
    (late_delivery,) = [t for t in floor.sink.triggers if isinstance(t, DeliveryLate)]
    assert (late_delivery.material, late_delivery.delivery) == ("connector-12p", "D-1001")
    ready = late_delivery.ready
    now = T0 + timedelta(minutes=200)
    door = {"id": "SO-9", "product": "HARNESS-DOOR", "quantity": 10, "due": "2026-03-23T13:00:00Z"}
    replanner = Replanner(Engine(PLANT, parse_orders({"orders": [door]}, PLANT), now),
                          clock=FakeClock(now))  # fmt: skip
    assert replanner.current_gap_report()["orders"] == []  # on time before the lorry is late
    replanner.engine.apply([late_delivery], now)
    report = replanner.current_gap_report()
    (order,) = report["orders"]
    assert order["status"] == "late" and order["tardiness_min"] > 0
    (cause,) = [c for c in order["causes"] if c["kind"] == "delivery"]
    assert cause["step"] == "assemble" and cause["material"] == "connector-12p"
    # On the plant's clock (Europe/Berlin): the texts are for people there.
    assert cause["event"] == f"delivery D-1001 ready {ready.astimezone(PLANT.tz):%H:%M}"
    assert order["cause"] == cause["text"]
    assert f"why: {cause['text']}" in render_report("plant1", report["gaps"], report["orders"])
    # The Deliveries page: the delivery names the production order it feeds, which waits for it,
    # its lorry by name and why its material is ready later than it arrives.
    replanner.publish_all()  # no publisher: the plan's job book only
    rows = floor.status.snapshot(now)["deliveries"]["deliveries"]
    delivery_feeds(rows, replanner.jobs_snapshot(), PLANT, now)
    shown = rows["D-1001"]
    (feed,) = [f for f in shown["feeds"] if f["order"] == "SO-9"]
    assert (feed["step"], feed["material"]) == ("assemble", "connector-12p")
    assert 0 <= feed["margin_min"] <= PLANT.slot_minutes  # the plan waits for this delivery
    assert shown["lorry_name"] != shown["lorry"]
    assert set(shown["handling"]) == {"unload_min", "inspect_min", "shelve_min"}
