"""AGV transports over VDA 5050 on a real Mosquitto: orders out, states in, failures replanned."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.logistics import Logistics
from cloud.plant import Plant, parse_plant
from cloud.replan import Engine, MaterialLate, Replanner
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.vda5050 import decode_order
from hardware.agv_sim import SimulatedAgv
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.logistics.conftest import JIS, LINE, NOW, orders, plant_document

pytestmark = [pytest.mark.mqtt]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"

CARD = "C0DE0001"
FLEET = {"agvs": [{"manufacturer": "acme", "serial": "agv-1"}], "pick": "SM-1"}


def _plant(**transport: Any) -> Plant:
    doc = plant_document(**{**FLEET, **transport})
    doc["kanban"] = [
        {"id": "KB-12P", "material": JIS, "container_qty": 20, "lead_time_min": 30,
         "supermarket": "SM-1", "cards": [CARD]}
    ]  # fmt: skip
    return parse_plant(doc)


@dataclass
class Line:
    plant: Plant
    logistics: Logistics
    replanner: Replanner
    status: ResourceStatus
    agv: SimulatedAgv
    clock: FakeClock


@pytest.fixture
def line_of(mosquitto: PrivateMosquitto, tmp_path: Path) -> Iterator[Callable[..., Line]]:
    made: list[tuple[Logistics, SimulatedAgv, EventLog]] = []

    def make(**transport: Any) -> Line:
        plant = _plant(**transport)
        clock = FakeClock(NOW)
        log = EventLog(tmp_path / f"cloud{len(made)}.db")
        status = ResourceStatus()
        replanner = Replanner(Engine(plant, orders(10, 14), NOW), clock=clock, improve=False)
        broker = BrokerSettings.from_url(mosquitto.url)
        logistics = Logistics(
            log, status, lambda: plant, broker, "plant1", submit=replanner.submit, clock=clock
        )
        agv = SimulatedAgv(broker, "acme", "agv-1", step_s=0.15)
        made.append((logistics, agv, log))
        agv.start()
        logistics.start()
        replanner.on_replan = lambda _: logistics.replanned(replanner)
        replanner.replan([])
        return Line(plant, logistics, replanner, status, agv, clock)

    try:
        yield make
    finally:
        for logistics, agv, log in made:
            logistics.close()
            agv.close()
            log.close()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _states(line: Line) -> list[str]:
    transports = line.status.logistics_view()["transports"]
    return [h["state"] for h in transports[0]["history"]] if transports else []


def test_a_kanban_signal_becomes_an_agv_transport_whose_state_the_status_follows(
    line_of: Callable[..., Line], mosquitto: PrivateMosquitto
) -> None:
    line = line_of()
    seen: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watch")
    got = threading.Event()
    watcher.on_message = lambda c, u, m: (seen.append(bytes(m.payload)), got.set())
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe("uagv/v2/acme/agv-1/order", 0)
    watcher.loop_start()
    try:
        time.sleep(0.2)  # the subscription is in place
        event = {"type": "kanban.empty", "payload": {"card": CARD}, "station": "BOARD-1"}
        assert line.logistics.transports.signals([event]) == 1
        _wait(lambda: "done" in _states(line))
        assert got.wait(5)
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    assert _states(line) == ["sent", "accepted", "driving", "done"]
    transport = line.status.logistics_view()["transports"][0]
    assert (transport["material"], transport["pick"], transport["drop"]) == (JIS, "SM-1", LINE)
    assert transport["reason"] == "kanban" and transport["quantity"] == 20
    # the next planned step using the connector at the line is the one it feeds
    assert (transport["order"], transport["step"]) == ("A", "assemble")
    order = decode_order(seen[0])
    schema = json.loads((DOCS / "vda5050-order.schema.json").read_text())
    jsonschema.validate(json.loads(seen[0]), schema)
    assert order.orderId == transport["transport"] == line.agv.orders_taken[0]
    assert [n.nodeId for n in order.nodes] == ["SM-1", LINE]
    assert [a.actionType for n in order.nodes for a in n.actions] == ["pick", "drop"]
    assert line.agv.position == LINE and line.agv.carrying is None


def test_a_failed_transport_triggers_a_replan_of_the_step_needing_the_material(
    line_of: Callable[..., Line],
) -> None:
    line = line_of(materials=[JIS], lead_min=600)  # A's need goes out at once
    line.agv.fail_next()
    _wait(lambda: "failed" in _states(line) or len(line.status.logistics_view()["transports"]) > 1)
    transports = line.status.logistics_view()["transports"]
    failed = next(t for t in transports if t["state"] == "failed")
    assert failed["reason"] == "plan" and "blocked" in failed["detail"]
    assert line.logistics.transports.triggers == 1
    pending = list(line.replanner._pending)
    assert len(pending) == 1 and isinstance(pending[0], MaterialLate)
    trigger = pending[0]
    assert (trigger.order, trigger.step, trigger.material) == (failed["order"], "assemble", JIS)
    line.replanner.flush()
    start = next(
        job.start
        for per in line.replanner.jobs_snapshot().values()
        for job in per.values()
        if (job.order, job.step) == (trigger.order, "assemble")
    )
    assert datetime.fromisoformat(start.replace("Z", "+00:00")) >= trigger.ready
    # the need is sent again and this time the bin arrives
    _wait(lambda: any(t["state"] == "done" for t in line.status.logistics_view()["transports"]))


def test_a_transport_not_done_in_time_is_late_and_triggers_a_replan(
    line_of: Callable[..., Line],
) -> None:
    line = line_of(materials=[JIS], lead_min=600, late_after_min=5)
    line.agv.stall_next()  # it stops on the edge and never arrives
    _wait(lambda: "driving" in _states(line))
    transport = line.status.logistics_view()["transports"][0]
    due = datetime.fromisoformat(transport["due"].replace("Z", "+00:00"))
    line.clock.set_wall(due + timedelta(minutes=4))
    time.sleep(1.2)  # two ticks of the link: not late yet
    assert not line.status.logistics_view()["transports"][0]["late"]
    line.clock.set_wall(due + timedelta(minutes=6))
    _wait(lambda: line.status.logistics_view()["transports"][0]["late"])
    transport = line.status.logistics_view()["transports"][0]
    assert transport["state"] == "driving" and _states(line)[-1] == "late"
    assert line.logistics.transports.triggers == 1
    (trigger,) = line.replanner._pending
    assert isinstance(trigger, MaterialLate)
    assert (trigger.order, trigger.step) == (transport["order"], transport["step"])
