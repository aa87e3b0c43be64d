"""Root cause: walked back through the event log from a late order's cause chain.

A breakdown of crimp-02 makes the demo's H-101 late: the root cause names the breakdown, its
first event (the stop) and the press's earlier stop that day. Two late deliveries: one whose
supplier loaded it after the call-off's promised ship time (the supplier shipped late), one
loaded in time that stood in a jam on the road (the lorry was slow), with where and how long.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from cloud.plant import load_orders, load_plant
from cloud.replan import Engine, ResourceLost
from cloud.rootcause import root_cause
from cloud.scheduler.causes import Cause, OrderCauses
from demo.plant_model import write_master_data
from tests.floor.test_presence_plan import PLANT, Floor
from tests.status.events import T0, at
from tests.status.test_rules import _package, _position

CRIMP = {"station": "crimp-02", "source": "pi-crimp-01-io", "agent": "pi-crimp-01"}


def test_a_breakdown_is_the_root_cause_of_the_demo_order_it_makes_late(tmp_path: Path) -> None:
    plant_path, orders_path = write_master_data(tmp_path, T0)  # the demo's plant and orders
    plant = load_plant(plant_path)
    floor = Floor(str(tmp_path / "cloud.db"))
    signal = "machine.signal"
    floor(signal, {"signal": "run", "on": True}, -120, **CRIMP)
    floor(signal, {"signal": "run", "on": False}, -90, **CRIMP)  # an earlier stop ...
    floor("machine.stop_reason", {"reason": "changeover"}, -89.5, **CRIMP)
    floor(signal, {"signal": "run", "on": True}, -80, **CRIMP)
    floor(signal, {"signal": "run", "on": False}, 5, **CRIMP)  # 06:05: the breakdown
    floor("machine.stop_reason", {"reason": "breakdown"}, 5.5, **CRIMP)
    now = T0 + timedelta(minutes=6)
    engine = Engine(plant, load_orders(orders_path, plant), now)
    lost = ResourceLost("crimp-02", T0 + timedelta(minutes=5), T0 + timedelta(minutes=125))
    engine.apply([lost], now)
    causes = engine.causes(now)
    assert causes["H-101"].status == "late"
    found = root_cause(causes["H-101"], floor.log)
    assert found.kind == "breakdown"
    assert found.first is not None and found.first.at == at(5)
    assert found.first.type == "machine.signal" and found.first.position is not None
    assert found.summary.startswith("crimp-02 broke down at 06:05; its 2nd stop in 24 h")
    texts = [e["text"] for e in found.as_dict()["timeline"]]
    assert texts == [
        "an earlier stop of crimp-02: changeover",
        "crimp-02 stopped",
        "stop reason given: breakdown",
    ]
    assert found.chain and found.chain[0]["kind"] == "breakdown"


LORRIES = {
    "D-1001": {"source": "lorry-12-gps", "agent": "lorry-12"},
    "D-1002": {"source": "lorry-13-gps", "agent": "lorry-13"},
}


def _delivery_cause(delivery: str, material: str) -> OrderCauses:
    text = f"assemble: blocked by material {material} (delivery {delivery})"
    cause = Cause("assemble", "delivery", f"delivery {delivery} ready 09:00", material=material,
                  text=text)  # fmt: skip
    return OrderCauses("SO-9", "late", 0, 60, (cause,))


def test_a_late_delivery_is_the_supplier_shipping_late_or_the_lorry_slow(tmp_path: Path) -> None:
    floor = Floor(str(tmp_path / "cloud.db"))
    lat, lon = PLANT.logistics.lat, PLANT.logistics.lon
    assert lat is not None and lon is not None
    # D-1001: loaded at 07:40, forty minutes after the promised 07:00; then drives straight in
    shipped_late = _package("C0000001", "load", "connector-12p")
    floor("package.read", shipped_late, 100, **LORRIES["D-1001"])
    for n in range(6):
        floor("gps.position", _position(lat - 0.3 + 0.05 * n, lon, 20.0), 105 + 5 * n,
              **LORRIES["D-1001"])  # fmt: skip
    # D-1002: loaded at 06:50, ten minutes early; then stands 45 minutes in a jam
    in_time = {**_package("C0000002", "load", "terminal-a"), "delivery": "D-1002"}
    floor("package.read", in_time, 50, **LORRIES["D-1002"])
    floor("gps.position", _position(lat - 0.4, lon, 22.0), 55, **LORRIES["D-1002"])
    for n in range(10):
        floor("gps.position", _position(lat - 0.3, lon, 0.2), 60 + 5 * n, **LORRIES["D-1002"])
    floor("gps.position", _position(lat - 0.2, lon, 18.0), 110, **LORRIES["D-1002"])
    deliveries = {
        "D-1001": {"lorry": "lorry-12", "materials": ["connector-12p"], "late": True,
                   "ship_by": at(60), "shipped_late": True, "arrived_at": None},
        "D-1002": {"lorry": "lorry-13", "materials": ["terminal-a"], "late": True,
                   "ship_by": at(60), "shipped_late": False, "arrived_at": None},
    }  # fmt: skip
    transit = {"lorry-12": 60.0, "lorry-13": 60.0}
    supplier = root_cause(
        _delivery_cause("D-1001", "connector-12p"), floor.log,
        deliveries=deliveries, transit_min=transit,
    )  # fmt: skip
    assert supplier.kind == "supplier_late"
    assert supplier.summary == (
        "the supplier shipped late: D-1001 left at 07:40, 40 min after the promised 07:00"
    )
    assert supplier.first is not None and supplier.first.type == "package.read"
    road = root_cause(
        _delivery_cause("D-1002", "terminal-a"), floor.log,
        deliveries=deliveries, transit_min=transit,
    )  # fmt: skip
    assert road.kind == "road_slow"
    assert road.first is not None and road.first.at == at(60)  # where the standstill began
    assert "stood 45 min at" in road.summary and "from 07:00" in road.summary
    assert [e["type"] for e in road.as_dict()["timeline"]] == [
        "package.read", "calloff", "gps.position"
    ]  # fmt: skip


def test_the_command_explains_a_late_order_at_a_past_moment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloud.replan.record import OrderFact, PlanningRecorder
    from cloud.status import ResourceStatus
    from taktline.cli import main
    from taktline.clock import FakeClock

    # an hour's grace: at 06:06 the operators not yet badged in are expected, not absent
    plant_path, orders_path = write_master_data(tmp_path, T0, absent_after_s=3600)
    plant = load_plant(plant_path)
    floor = Floor(str(tmp_path / "cloud.db"))
    recorder = PlanningRecorder(
        floor.log, ResourceStatus(), clock=FakeClock(T0 - timedelta(hours=1))
    )
    recorder.orders(
        [OrderFact("created", o, "erp", "api") for o in load_orders(orders_path, plant)]
    )
    press_1 = {**CRIMP, "station": "crimp-01"}
    for press, minute, ticket in ((press_1, 4, "0AFF0001"), (CRIMP, 5, "0AFF0002")):
        # both crimp presses break down on a job (a stop without a job is only idle)
        floor("job.ticket", {"tag": ticket, "action": "start"}, -11, **press)
        floor("machine.signal", {"signal": "run", "on": True}, -10, **press)
        floor("machine.signal", {"signal": "run", "on": False}, minute, **press)
        floor("machine.stop_reason", {"reason": "breakdown"}, minute + 0.5, **press)
    db = str(tmp_path / "cloud.db")
    args = [
        "rootcause",
        "--db",
        db,
        "--plant",
        str(plant_path),
        "--at",
        at(6),
        "--repair-minutes",
        "120",
    ]
    code = main([*args, "--order", "H-101", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    found = json.loads(out)
    assert found["kind"] == "breakdown"
    assert re.match(r"crimp-0[12] broke down at 06:0[45]", found["summary"]), found
    assert found["first"]["at"] in (at(4), at(5))
    assert main([*args, "--order", "H-999"]) == 1
    assert "no order 'H-999' in the plan" in capsys.readouterr().err


def test_a_stock_out_is_put_down_to_the_transport_or_the_late_replenishment(
    tmp_path: Path,
) -> None:
    from cloud.plant import KanbanLoop
    from cloud.recorder import CloudRecorder
    from cloud.rootcause import stock_out
    from cloud.status import ResourceStatus
    from cloud.store import EventLog
    from contract.logistics import LOGISTICS_SOURCE
    from taktline.clock import FakeClock
    from tests.status.events import Feed

    with EventLog(tmp_path / "cloud.db") as log:
        status = ResourceStatus()
        clock = FakeClock(T0 + timedelta(minutes=10))
        logistics = CloudRecorder(log, status, LOGISTICS_SOURCE, clock=clock)
        order = {"transport": "tr-1", "manufacturer": "acme", "serial": "agv-01",
                 "material": "connector-8p", "pick": "SM-LINE-1", "drop": "assy-01",
                 "quantity": 100.0, "reason": "plan", "order": "H-101", "step": "assemble",
                 "due": at(30)}  # fmt: skip
        logistics.record("transport.order", order)
        clock.advance(5 * 60)
        logistics.record(
            "transport.state", {"transport": "tr-1", "state": "accepted", "detail": ""}
        )
        clock.advance(7 * 60)
        logistics.record(
            "transport.state", {"transport": "tr-1", "state": "failed", "detail": "path blocked"}
        )
        found = stock_out("connector-8p", "assy-01", status, log, T0 + timedelta(minutes=30))
        assert found.kind == "transport_failed"
        assert found.summary == (
            "the transport of connector-8p to assy-01 (tr-1, AGV agv-01) failed since 06:22: "
            "path blocked"
        )
        assert found.first is not None and found.first.position is not None
        # a kanban card out longer than its loop's lead time: the replenishment is late
        feed = Feed(status, log)
        feed("kanban.empty", {"card": "0C080001"}, 15, station="assy-01", source="pi-assy-01-rfid",
             agent="pi-assy-01")  # fmt: skip
        loop = KanbanLoop("L1", "terminal-a", 100, 30.0, supplier="acme", cards=("0C080001",))
        late = stock_out("terminal-a", "assy-01", status, log, T0 + timedelta(minutes=60),
                         loops=[loop])  # fmt: skip
        assert late.kind == "replenishment_late"
        assert late.summary == (
            "the replenishment of terminal-a is late: card 0C080001 empty since 06:15, 45 min "
            "against the loop's 30 min lead time (acme)"
        )
        assert late.first is not None and late.first.type == "kanban.empty"
        on_time = stock_out("terminal-a", "assy-01", status, log, T0 + timedelta(minutes=40),
                            loops=[loop])  # fmt: skip
        assert on_time.kind == "demand"  # within the lead time: the line used more than it holds
