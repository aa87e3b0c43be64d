"""e-kanban in the cloud: cards and bins fold into signals, lost cards and loop sizing."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.kanban import KanbanRecorder, LoopRefused, UnknownLoop
from cloud.plant import Plant, PlantInvalid, load_orders, load_plant, parse_plant
from cloud.replan import Engine, Replanner
from cloud.replan.triggers import OrderChanged
from cloud.status import ResourceStatus, StatusMaster
from cloud.status.kanban import recommended_cards
from cloud.store import EventLog
from contract.payloads import CLOUD_EVENT_TYPES, CLOUD_SOURCES
from taktline.clock import FakeClock

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "docs/examples/harness_plant_monitoring.json"
T0 = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
CARDS = ("0C000001", "0C000002", "0C000003", "0C000004")


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Floor:
    """The status over the example plant; events folded as ingest would."""

    def __init__(self, demand: dict[str, float] | None = None, plant: Plant | None = None) -> None:
        self.plant = plant or load_plant(EXAMPLE)
        self.status = ResourceStatus()
        self.status.set_master(StatusMaster.of(self.plant, demand=demand))
        self.seq = 0

    def event(self, kind: str, payload: dict[str, Any], minute: float) -> str | None:
        self.seq += 1
        at = _at(minute)
        body = {
            "v": 1, "type": kind, "source": "assy-01-rfid", "agent": "pi-assy-01",
            "station": "assy-01", "instance": "a" * 32, "seq": self.seq, "time": at,
            "mono_ns": 0, "boot": "b", "payload": payload,
        }  # fmt: skip
        return self.status.apply(body, at, self.seq)

    def loop(self, minute: float, loop: str = "KB-TERM-A") -> dict[str, Any]:
        view = self.status.kanban_view(T0 + timedelta(minutes=minute))
        result: dict[str, Any] = view["loops"][loop]
        return result


def test_a_card_tap_raises_a_replenishment_signal_until_the_card_is_back_full() -> None:
    floor = Floor()
    assert floor.event("kanban.empty", {"card": CARDS[1]}, 0) == (
        f"kanban card {CARDS[1]} empty: replenish"
    )
    loop = floor.loop(1)
    assert loop["signals"] == [{"kind": "card", "card": CARDS[1], "since": _at(0), "quantity": 500}]
    assert loop["by_state"] == {"full": 3, "empty": 1, "in_transit": 0, "at_supplier": 0}
    floor.event("kanban.card", {"card": CARDS[1], "state": "in_transit"}, 10)
    floor.event("kanban.card", {"card": CARDS[1], "state": "at_supplier"}, 60)
    loop = floor.loop(61)
    assert loop["signals"] == [] and loop["by_state"]["at_supplier"] == 1
    floor.event("kanban.card", {"card": CARDS[1], "state": "full"}, 200)
    assert floor.loop(201)["by_state"]["full"] == 4
    snapshot = floor.status.snapshot(T0 + timedelta(minutes=201))
    assert snapshot["kanban"]["loops"]["KB-TERM-A"]["by_state"]["full"] == 4


def test_a_bin_below_its_threshold_is_a_signal_of_its_loop() -> None:
    floor = Floor()
    level = {"bin": "assy-01-bin-term-a", "quantity": 80.0, "threshold": 90.0, "rate_per_h": 360.0}
    floor.event("bin.level", {**level, "below": True}, 5)
    (signal,) = floor.loop(6)["signals"]
    assert signal == {
        "kind": "bin", "bin": "assy-01-bin-term-a", "since": _at(5), "quantity": 80.0,
        "threshold": 90.0,
    }  # fmt: skip
    floor.event("bin.level", {**level, "quantity": 400.0, "below": False}, 30)
    assert floor.loop(31)["signals"] == []
    assert floor.status.kanban_view()["bins"]["assy-01-bin-term-a"]["quantity"] == 400.0


def test_a_card_unseen_for_n_lead_times_raises_a_lost_card_alarm() -> None:
    floor = Floor()  # lead time 240 min, lost after 3 lead times = 720 min
    for minute, card in enumerate(CARDS):
        floor.event("kanban.empty", {"card": card}, minute)
    for card in CARDS[:3]:
        floor.event("kanban.card", {"card": card, "state": "full"}, 500)
    assert floor.loop(700)["lost"] == []
    loop = floor.loop(724)
    assert loop["lost"] == [{"card": CARDS[3], "last_seen": _at(3)}]
    assert [c["card"] for c in loop["card_list"] if c.get("lost")] == [CARDS[3]]
    assert floor.loop(1300)["lost"] == [
        {"card": card, "last_seen": _at(500)} for card in CARDS[:3]
    ] + [{"card": CARDS[3], "last_seen": _at(3)}]
    # A card never seen counts from the first kanban event the cloud folded.
    other = floor.loop(61, "KB-CONN-12P")  # lead 60 min x 3
    assert other["lost"] == []
    assert len(floor.loop(200, "KB-CONN-12P")["lost"]) == 2


def test_loop_sizing_follows_the_plans_demand() -> None:
    plant = load_plant(EXAMPLE)
    orders = load_orders(ROOT / "docs/examples/harness_orders.json", plant)
    now = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)
    replanner = Replanner(Engine(plant, orders, now), clock=FakeClock(now))
    replanner.replan([])
    horizon = timedelta(days=3)
    before = replanner.material_demand(horizon)["terminal-a"]
    door = next(o for o in orders if o.product == "HARNESS-DOOR")
    replanner.replan([OrderChanged(dataclasses.replace(door, quantity=door.quantity * 3), "new")])
    after = replanner.material_demand(horizon)["terminal-a"]
    assert after > before
    # Small containers, so that the example's light demand needs several cards.
    small = dataclasses.replace(plant.kanban["KB-TERM-A"], container_qty=2)
    plant = dataclasses.replace(plant, kanban={**plant.kanban, "KB-TERM-A": small})
    sizes = []
    for demand in (before, after):
        floor = Floor({"terminal-a": demand}, plant)
        loop = floor.loop(0)
        expected = recommended_cards(small, demand, 0.2)
        assert loop["recommended"] == expected
        assert loop["demand_per_h"] == round(demand * 60, 3)
        assert (loop["cards"], loop["in_loop"]) == (4, 4)
        sizes.append(loop["recommended"])
    assert sizes[1] > sizes[0], sizes


def test_recommended_cards_is_the_textbook_formula() -> None:
    loop = load_plant(EXAMPLE).kanban["KB-TERM-A"]  # 500 a container, 240 min lead time
    assert recommended_cards(loop, 2.0, 0.25) == 2  # 2/min x 240 min x 1.25 / 500 = 1.2
    assert recommended_cards(loop, 5.0, 0.0) == 3  # 1200 / 500 = 2.4
    assert recommended_cards(loop, 25 / 6, 0.0) == 2  # exactly 1000 / 500: no extra card
    assert recommended_cards(loop, 0.0, 0.2) == 1  # a loop keeps one card


def test_a_planner_sets_a_loop_as_an_event_in_the_log(tmp_path: Path) -> None:
    plant = load_plant(EXAMPLE)
    log = EventLog(tmp_path / "cloud.db")
    status = ResourceStatus()
    status.set_master(StatusMaster.of(plant, demand={"terminal-a": 5.0}))
    recorder = KanbanRecorder(log, status, lambda: plant, clock=FakeClock(T0))
    event = recorder.set_loop("KB-TERM-A", "eva", cards=6, safety=0.5, reason="more demand")
    assert (event["type"], event["source"], event["agent"]) == (
        "kanban.loop",
        "cloud-kanban",
        "cloud",
    )
    loop = status.kanban_view()["loops"]["KB-TERM-A"]
    assert (loop["cards"], loop["safety"], loop["set_by"]) == (6, 0.5, "eva")
    assert loop["recommended"] == recommended_cards(plant.kanban["KB-TERM-A"], 5.0, 0.5)
    recorder.set_loop("KB-TERM-A", "ben", safety=0.1)
    # The log is the truth: a status rebuilt from it shows the same loop.
    rebuilt = ResourceStatus()
    rebuilt.set_master(StatusMaster.of(plant, demand={"terminal-a": 5.0}))
    rebuilt.rebuild(log.replay())
    again = rebuilt.kanban_view()["loops"]["KB-TERM-A"]
    assert (again["cards"], again["safety"], again["set_by"]) == (6, 0.1, "ben")
    assert [a["by"] for a in rebuilt.kanban_view()["actions"]] == ["eva", "ben"]
    # A new recorder continues the source's sequence.
    KanbanRecorder(log, status, lambda: plant).set_loop("KB-TERM-A", "eva", cards=5)
    assert log.count() == 3
    with pytest.raises(UnknownLoop, match="KB-TERM-A"):
        recorder.set_loop("NOPE", "eva", cards=2)
    with pytest.raises(LoopRefused, match="changes nothing"):
        recorder.set_loop("KB-TERM-A", "eva")
    with pytest.raises(LoopRefused, match="cards"):
        recorder.set_loop("KB-TERM-A", "eva", cards=0)
    assert log.count() == 3
    assert "kanban.loop" in CLOUD_EVENT_TYPES and "cloud-kanban" in CLOUD_SOURCES
    log.close()


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ({"material": "unobtainium"}, "unknown material"),
        ({"supermarket": "SM-1"}, "either a supplier or a supermarket"),
        ({"cards": ["0C000001", "0C000001"]}, "already"),
        ({"cards": ["0A000001"]}, "already"),  # a job ticket's tag
        ({"cards": ["zz"]}, "tag"),
        ({"lead_time_min": 0}, "lead_time_min"),
    ],
)
def test_the_plant_models_kanban_section_is_checked(loop: dict[str, Any], message: str) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["kanban"] = [{**data["kanban"][0], **loop}]
    with pytest.raises(PlantInvalid, match=message):
        parse_plant(data)
