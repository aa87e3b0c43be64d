"""Tooling master data (transfer times, service limits) and the tool rules for the plan.

Validation of the plant model's `tooling` section and tool limits; tool life folded from events;
`ToolWatch` (cloud/tool_availability.py) turning places, limits and services into triggers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.plant import Plant, PlantInvalid, parse_plant
from cloud.replan import ResourceBack, ResourceLost
from cloud.status import ResourceStatus, StatusMaster
from cloud.tool_availability import ToolWatch

APP, APP2 = "E0020001", "E0020002"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _plant(tooling: Any = None, **tool: Any) -> dict[str, Any]:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    doc: dict[str, Any] = {
        "site": "plant1", "timezone": "UTC",
        "calendars": [{"id": "c", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}],
        "resources": [
            {"id": "CRIMP-01", "kind": "machine", "calendar": "c", "station": "crimp-01"},
            {"id": "CRIMP-02", "kind": "machine", "calendar": "c", "station": "crimp-02"},
            {"id": "APP-1", "kind": "tool", "calendar": "c", "tag": APP, **tool},
            {"id": "APP-2", "kind": "tool", "calendar": "c", "tag": APP2},
        ],
        "groups": [{"id": "g", "kind": "machine", "members": ["CRIMP-01", "CRIMP-02"]}],
        "products": [{"id": "P", "steps": [{"id": "s", "per_unit_min": 1,
                                             "holds": [{"group": "g"}]}]}],
    }  # fmt: skip
    if tooling is not None:
        doc["tooling"] = tooling
    return doc


def _errors(doc: dict[str, Any]) -> str:
    with pytest.raises(PlantInvalid) as caught:
        parse_plant(doc)
    return "; ".join(caught.value.errors)


def test_transfer_times_by_resource_or_station_id_both_ways_unless_listed() -> None:
    plant = parse_plant(
        _plant(
            {
                "warn_at": 0.8,
                "transfers": [
                    {"from": "crib", "to": "crimp-01", "minutes": 12},
                    {"from": "CRIMP-01", "to": "CRIMP-02", "minutes": 3.5},
                    {"from": "crimp-02", "to": "CRIMP-01", "minutes": 4},
                ],
            },
            service_cycles=1000,
            service_hours=8,
        )
    )
    tooling = plant.tooling
    assert tooling.warn_at == 0.8
    assert tooling.transfer_min("crib", "CRIMP-01") == 12
    assert tooling.transfer_min("crib", "CRIMP-02") is None  # not given: not guessed
    assert tooling.transfer_min("CRIMP-01", "CRIMP-02") == 3.5
    assert tooling.transfer_min("CRIMP-02", "CRIMP-01") == 4  # the reverse, listed
    assert tooling.transfer_min("CRIMP-01", "CRIMP-01") == 0
    app = next(r for r in plant.resources if r.id == "APP-1")
    assert (app.service_cycles, app.service_hours) == (1000, 8.0)
    assert parse_plant(_plant()).tooling.transfers == {}


@pytest.mark.parametrize(
    ("tooling", "tool", "message"),
    [
        ({"transfers": [{"from": "crib", "to": "press-9", "minutes": 5}]}, {},
         "transfers[0].to: unknown place 'press-9' (known: CRIMP-01, CRIMP-02, crib)"),
        ({"transfers": [{"from": "shelf", "to": "CRIMP-01", "minutes": 5}]}, {},
         "transfers[0].from: unknown place 'shelf'"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01", "minutes": -1}]}, {},
         "transfers[0].minutes: must be minutes in [0, 1440], got -1"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01", "minutes": float("nan")}]}, {},
         "transfers[0].minutes: must be minutes"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01", "minutes": "5"}]}, {},
         "transfers[0].minutes: must be minutes"),
        ({"transfers": [{"from": "CRIMP-01", "to": "crib", "minutes": 5}]}, {},
         "transfers[0].to: must be a machine"),
        ({"transfers": [{"from": "CRIMP-01", "to": "crimp-01", "minutes": 5}]}, {},
         "goes from 'CRIMP-01' to itself"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01", "minutes": 5},
                        {"from": "crib", "to": "crimp-01", "minutes": 6}]}, {},
         "transfers[1]: a second transfer from 'crib' to 'CRIMP-01'"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01"}]}, {}, "minutes: must be minutes"),
        ({"transfers": [{"to": "CRIMP-01", "minutes": 1}]}, {}, "transfers[0].from: is required"),
        ({"transfers": [{"from": "crib", "to": "CRIMP-01", "minutes": 1, "min": 2}]}, {},
         "transfers[0].min: unknown key"),
        ({"warn_at": 1.5}, {}, "plant.tooling.warn_at: must be a share in (0, 1]"),
        ({"transfers": {}}, {}, "plant.tooling.transfers: must be a list"),
        ({"moves": []}, {}, "plant.tooling.moves: unknown key"),
        (None, {"service_cycles": 0}, "service_cycles: must be an integer in [1, "),
        (None, {"service_hours": -2}, "service_hours: must be a number in [0,"),
    ],
)  # fmt: skip
def test_bad_tooling_is_refused_with_its_path(tooling: Any, tool: Any, message: str) -> None:
    assert message in _errors(_plant(tooling, **tool))


def test_service_limits_belong_to_tools() -> None:
    doc = _plant()
    doc["resources"][0]["service_cycles"] = 10
    assert "service limits are for tools, and 'CRIMP-01' is a machine" in _errors(doc)


# --- the fold and the rules -----------------------------------------------------------------


@dataclass
class Job:
    start: str
    end: str
    machines: tuple[str, ...]


class Floor:
    """Events folded into a status at minutes after T0; a ToolWatch over it with planned jobs."""

    def __init__(self, plant: Plant) -> None:
        self.status = ResourceStatus()
        self.status.set_master(StatusMaster.of(plant))
        self.triggers: list[Any] = []
        self.jobs: dict[str, list[Job]] = {}
        self.watch = ToolWatch(self.status, self.triggers.append, lambda r: self.jobs.get(r, []))
        self.seq = 0

    def at(self, minute: float) -> datetime:
        return T0 + timedelta(minutes=minute)

    def event(self, kind: str, payload: dict[str, Any], minute: float, **kw: Any) -> None:
        self.seq += 1
        stamp = self.at(minute).isoformat().replace("+00:00", "Z")
        body = {"v": 1, "type": kind, "source": kw.get("source", "x"), "agent": "pi",
                "instance": "a" * 32, "seq": self.seq, "time": stamp, "mono_ns": 0,
                "boot": "b", "payload": payload}  # fmt: skip
        if "station" in kw:
            body["station"] = kw["station"]
        self.status.apply(json.loads(json.dumps(body)), stamp, self.seq)
        self.watch.check(self.at(minute))

    def need(self, tool: str, machine: str, start: float, end: float) -> None:
        iso = [self.at(m).isoformat().replace("+00:00", "Z") for m in (start, end)]
        self.jobs[tool] = [Job(iso[0], iso[1], (machine,))]

    def service(self, tag: str, minute: float) -> None:
        correction = {"correction": "tool_service", "by": "sam", "reason": "r",
                      "at": self.at(minute).isoformat().replace("+00:00", "Z"),
                      "station": None, "tag": tag, "value": None, "voids": None}  # fmt: skip
        self.event("correction", correction, minute, source="cloud-corrections")


def _tooling() -> dict[str, Any]:
    return {
        "warn_at": 0.8,
        "transfers": [
            {"from": "crib", "to": "CRIMP-01", "minutes": 10},
            {"from": "CRIMP-02", "to": "CRIMP-01", "minutes": 3},
        ],
    }


def test_tool_life_counts_cycles_and_hours_on_a_machine_since_the_last_service() -> None:
    floor = Floor(parse_plant(_plant(_tooling(), service_cycles=10, service_hours=2)))
    floor.event("tool.read", {"tag": APP}, 0, station="crimp-01")
    floor.event("machine.signal", {"signal": "cycle", "count": 4}, 30, station="crimp-01")
    life = floor.status.snapshot()["tools"][APP]["life"]
    assert (life["cycles_since_service"], life["hours_since_service"]) == (4, 0.5)
    assert (life["used"], life["state"]) == (0.4, "ok")
    floor.event("tool.gate", {"tag": APP, "direction": "in", "readers": ["a", "b"]}, 60)
    floor.event("machine.signal", {"signal": "run", "on": True}, 120, station="crimp-02")
    life = floor.status.snapshot()["tools"][APP]["life"]
    assert life["hours_since_service"] == 1.0  # in the crib: the hours stop
    floor.event("tool.read", {"tag": APP}, 150, station="crimp-01")
    floor.event("machine.signal", {"signal": "cycle", "count": 4}, 198, station="crimp-01")
    life = floor.status.snapshot()["tools"][APP]["life"]
    assert (life["cycles_since_service"], life["hours_since_service"]) == (8, 1.8)
    assert (life["used"], life["state"]) == (0.9, "warn")  # the nearer limit: 1.8 of 2 h
    floor.service(APP, 200)
    view = floor.status.snapshot()["tools"][APP]
    assert (view["life"]["cycles_since_service"], view["life"]["state"]) == (0, "ok")
    assert (view["cycles"], view["serviced_by"]) == (8, "sam")  # the total stays
    assert floor.status.snapshot()["tools"][APP2]["life"]["state"] is None  # no limits


def test_a_tool_past_its_limit_is_out_until_serviced_needed_or_not() -> None:
    floor = Floor(parse_plant(_plant(_tooling(), service_cycles=5)))
    floor.event("tool.read", {"tag": APP}, 0, station="crimp-01")
    floor.event("machine.signal", {"signal": "cycle", "count": 4}, 1, station="crimp-01")
    assert floor.triggers == []
    floor.event("machine.signal", {"signal": "cycle", "count": 1}, 2, station="crimp-01")
    (lost,) = floor.triggers
    assert isinstance(lost, ResourceLost)
    assert (lost.resource, lost.reason, lost.at, lost.until) == (
        "APP-1", "tool_service", floor.at(2), None,
    )  # fmt: skip
    floor.event("machine.signal", {"signal": "cycle", "count": 1}, 3, station="crimp-01")
    assert len(floor.triggers) == 1  # told once
    floor.service(APP, 4)
    back = floor.triggers[-1]
    assert isinstance(back, ResourceBack) and (back.resource, back.at) == ("APP-1", floor.at(4))


def test_a_needed_tool_elsewhere_waits_for_its_transfer_and_is_back_once_there() -> None:
    floor = Floor(parse_plant(_plant(_tooling())))
    floor.event("tool.gate", {"tag": APP, "direction": "in", "readers": ["a", "b"]}, 0)
    assert floor.triggers == []  # in the crib, not needed
    floor.need("APP-1", "CRIMP-01", 20, 40)
    floor.event("machine.signal", {"signal": "run", "on": True}, 5, station="crimp-01")
    (lost,) = floor.triggers
    assert isinstance(lost, ResourceLost)
    assert (lost.reason, lost.at, lost.until) == ("tool_transfer", floor.at(5), floor.at(15))
    floor.jobs.clear()  # the plan moved the job off it: the hold stands (no flapping)
    floor.event("machine.signal", {"signal": "run", "on": False}, 6, station="crimp-01")
    assert len(floor.triggers) == 1
    floor.need("APP-1", "CRIMP-01", 20, 40)
    floor.event("tool.gate", {"tag": APP, "direction": "out", "readers": ["b", "a"]}, 8)
    back, lost = floor.triggers[1:]
    assert isinstance(back, ResourceBack) and back.at == floor.at(8)
    assert isinstance(lost, ResourceLost)  # on its way since 08:08: there at 08:18
    assert (lost.reason, lost.at, lost.until) == ("tool_transfer", floor.at(8), floor.at(18))
    floor.event("tool.read", {"tag": APP}, 14, station="crimp-01")
    back = floor.triggers[-1]
    assert len(floor.triggers) == 4 and isinstance(back, ResourceBack)
    # On crimp-02 and needed at crimp-01: the machine-to-machine time, from now.
    floor.need("APP-2", "CRIMP-01", 30, 40)
    floor.event("tool.read", {"tag": APP2}, 16, station="crimp-02")
    lost = floor.triggers[-1]
    assert isinstance(lost, ResourceLost) and lost.resource == "APP-2"
    assert (lost.reason, lost.until) == ("tool_transfer", floor.at(19))


def test_one_gate_read_is_the_crib_with_a_transfer_time_else_missing() -> None:
    floor = Floor(parse_plant(_plant(_tooling())))
    floor.need("APP-1", "CRIMP-01", 20, 40)
    floor.need("APP-2", "CRIMP-02", 20, 40)  # no crib -> CRIMP-02 time in the plant model
    floor.event("tool.gate", {"tag": APP, "direction": "unpaired", "readers": ["a"]}, 5)
    floor.event("tool.gate", {"tag": APP2, "direction": "unpaired", "readers": ["a"]}, 5)
    told = {(t.resource, t.reason, t.until) for t in floor.triggers}
    assert told == {("APP-1", "tool_transfer", floor.at(15)), ("APP-2", "tool_missing", None)}


def test_the_gap_mail_names_the_tools_held_out() -> None:
    from cloud.replan.mailer import render_report

    gap = {
        "group": "crimpers+applicator-a", "start": "2026-11-23T08:00:00Z",
        "end": "2026-11-23T09:00:00Z", "shortfall": 1, "orders": ["O-1"],
        "earliness_min": 0, "tardiness_min": 30,
        "tools": [
            {"tool": "APP-A1", "out": "tool_service", "until": None, "life": "due"},
            {"tool": "APP-A2", "out": "tool_transfer", "until": "2026-11-23T08:12:00Z",
             "life": "warn"},
        ],
    }  # fmt: skip
    text = render_report("plant1", [gap], [])
    assert "tool APP-A1: out until serviced (tool life: due)" in text
    assert "tool APP-A2: on its way until 2026-11-23T08:12:00Z (tool life: warn)" in text
