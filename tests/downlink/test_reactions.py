"""Floor reactions: a round's machine changes set stack lights and give the replanner triggers."""

from __future__ import annotations

import json
from typing import Any

from cloud.reactions import FloorReactions
from cloud.replan import ResourceBack, ResourceLost
from cloud.stack_lights import StackLights
from cloud.status import ResourceStatus
from cloud.store import LogRecord
from contract import AgentPath, StackLightCommand

STATION, AGENT = "crimp-01", "pi-crimp"
PATH = AgentPath("plant1", "harness", AGENT)


class Sink:
    """The replanner's side: triggers in order; who is here (`OperatorsPresent`) kept apart."""

    def __init__(self) -> None:
        self.triggers: list[Any] = []
        self.present: list[frozenset[str]] = []

    def submit(self, trigger: Any) -> None:
        from cloud.replan import OperatorsPresent

        if isinstance(trigger, OperatorsPresent):
            self.present.append(trigger.operators)
        else:
            self.triggers.append(trigger)


class Floor:
    """Feeds events through the status fold and the reactions, one round each."""

    def __init__(self) -> None:
        self.status = ResourceStatus()
        self.commands: list[StackLightCommand] = []
        lights = StackLights(
            lambda topic, raw: self.commands.append(StackLightCommand.decode(raw)),
            lambda station: PATH,
        )
        self.sink = Sink()
        self.reactions = FloorReactions(
            self.status, lights=lights, replanner=self.sink, resource_of=str.upper
        )
        self.seq = 0

    def round(self, kind: str, payload: dict[str, Any], minute: int) -> None:
        self.seq += 1
        at = f"2026-11-23T08:{minute:02d}:00.000000Z"
        event = {
            "v": 1, "type": kind, "source": f"{STATION}-io", "agent": AGENT, "station": STATION,
            "instance": "a" * 32, "seq": self.seq, "time": at, "mono_ns": 0, "boot": "b",
            "payload": payload,
        }  # fmt: skip
        record = LogRecord(
            "a" * 32, self.seq, kind, f"{STATION}-io", AGENT, STATION, at, at, "monotonic", at,
            json.dumps(event), event,
        )  # fmt: skip
        self.status.apply(event, at, self.seq)
        self.reactions.committed([record])

    @property
    def light(self) -> tuple[str, bool]:
        return self.commands[-1].colour, self.commands[-1].blink


def test_a_breakdown_loses_the_machine_and_running_again_brings_it_back() -> None:
    floor = Floor()
    floor.round("job.ticket", {"tag": "0A020001", "action": "start"}, 0)
    floor.round("machine.signal", {"signal": "run", "on": True}, 1)
    assert floor.light == ("green", False)
    floor.round("machine.signal", {"signal": "run", "on": False}, 2)
    assert floor.light == ("red", True)  # stopped, no reason yet: asks for one
    assert floor.sink.triggers == []
    floor.round("machine.stop_reason", {"reason": "breakdown"}, 3)
    assert floor.light == ("red", False)
    (lost,) = floor.sink.triggers
    assert isinstance(lost, ResourceLost)
    assert (lost.resource, lost.reason) == ("CRIMP-01", "breakdown")
    floor.round("machine.stop_reason", {"reason": "breakdown"}, 4)  # pressed twice: told once
    assert len(floor.sink.triggers) == 1
    floor.round("machine.signal", {"signal": "run", "on": True}, 30)
    assert floor.light == ("green", False)
    back = floor.sink.triggers[-1]
    assert isinstance(back, ResourceBack) and back.resource == "CRIMP-01"
    assert back.at.minute == 30


def test_a_changeover_is_the_plans_own_business() -> None:
    floor = Floor()
    floor.round("job.ticket", {"tag": "0A020001", "action": "start"}, 0)
    floor.round("machine.signal", {"signal": "run", "on": False}, 1)
    floor.round("machine.stop_reason", {"reason": "changeover"}, 2)
    assert floor.light == ("amber", False)
    assert floor.sink.triggers == []
    floor.round("job.ticket", {"tag": "0A020001", "action": "end"}, 3)
    assert floor.light == ("off", False)  # idle: no job allocated


def test_job_tickets_and_counts_are_real_progress_for_the_plan() -> None:
    from cloud.plant import parse_plant
    from cloud.replan import StepEnded, StepLate, StepStarted
    from cloud.status import StatusMaster

    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "c", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {"id": "crimp", "per_unit_min": 1, "holds": [{"group": "g"}]}
    plant = parse_plant(
        {
            "site": "plant1", "timezone": "UTC",
            "calendars": [always],
            "resources": [{"id": "CRIMP-01", "kind": "machine", "calendar": "c"}],
            "groups": [{"id": "g", "kind": "machine", "members": ["CRIMP-01"]}],
            "products": [{"id": "P", "steps": [step]}],
            "tags": [
                {"tag": "0A020001", "kind": "ticket", "ref": "O-1", "product": "P",
                 "step": "crimp", "quantity": 10}
            ],
        }
    )  # fmt: skip
    floor = Floor()
    floor.status.set_master(StatusMaster.of(plant))
    floor.round("job.ticket", {"tag": "0A020001", "action": "start"}, 0)
    (started,) = floor.sink.triggers
    assert isinstance(started, StepStarted) and (started.order, started.step) == ("O-1", "crimp")
    floor.round("machine.signal", {"signal": "run", "on": True}, 1)
    floor.round("machine.signal", {"signal": "good", "count": 2}, 10)
    late = floor.sink.triggers[-1]
    # Two of ten in ten minutes: eight more take forty, so the step ends at 08:50.
    assert isinstance(late, StepLate) and late.expected_end.strftime("%H:%M") == "08:50"
    floor.round("machine.signal", {"signal": "good", "count": 1}, 15)  # same pace: not retold
    assert floor.sink.triggers[-1] is late
    floor.round("job.ticket", {"tag": "0A020001", "action": "end"}, 40)
    ended: object = floor.sink.triggers[-1]
    assert isinstance(ended, StepEnded) and ended.at.minute == 40


def _monitored_plant(leave: list[dict[str, str]]) -> Any:
    from cloud.plant import parse_plant

    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "c", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    return parse_plant(
        {
            "site": "plant1", "timezone": "UTC", "calendars": [always],
            "resources": [
                {"id": "CRIMP-01", "kind": "machine", "calendar": "c"},
                {"id": "APP-A1", "kind": "tool", "calendar": "c", "tag": "E0020001"},
                {"id": "OP-ANNA", "kind": "operator", "calendar": "c"},
            ],
            "groups": [{"id": "g", "kind": "machine", "members": ["CRIMP-01"]}],
            "products": [
                {"id": "P", "steps": [{"id": "s", "per_unit_min": 1, "holds": [{"group": "g"}]}]}
            ],
            "leave": leave,
        }
    )  # fmt: skip


def test_leave_records_lose_and_return_operators() -> None:
    floor = Floor()
    sick = {"operator": "OP-ANNA", "start": "2026-11-24T00:00:00Z", "end": "2026-11-26T00:00:00Z"}
    floor.reactions.plant_changed(_monitored_plant([sick]))
    (lost,) = floor.sink.triggers
    assert isinstance(lost, ResourceLost)
    assert (lost.resource, lost.reason, lost.until.day if lost.until else None) == (
        "OP-ANNA", "absent", 26,
    )  # fmt: skip
    floor.reactions.plant_changed(_monitored_plant([sick]))  # the same record again: nothing new
    assert len(floor.sink.triggers) == 1
    floor.reactions.plant_changed(_monitored_plant([]))  # withdrawn
    back = floor.sink.triggers[-1]
    assert isinstance(back, ResourceBack) and back.resource == "OP-ANNA"


def test_a_needed_tool_seen_by_one_gate_reader_only_is_missing_until_read_again() -> None:
    from dataclasses import dataclass

    from cloud.status import StatusMaster

    @dataclass
    class Job:
        start: str
        end: str

    floor = Floor()
    floor.status.set_master(StatusMaster.of(_monitored_plant([])))
    floor.reactions._jobs_of = lambda resource: (
        [Job("2026-11-23T08:20:00Z", "2026-11-23T08:50:00Z")] if resource == "APP-A1" else []
    )
    floor.round("tool.gate", {"tag": "E0020001", "direction": "unpaired", "readers": ["c"]}, 5)
    (missing,) = [
        t for t in floor.sink.triggers if isinstance(t, ResourceLost) and t.reason == "tool_missing"
    ]
    assert (missing.resource, missing.reason) == ("APP-A1", "tool_missing")
    floor.round("tool.read", {"tag": "E0020001"}, 7)  # at the machine: found
    back = floor.sink.triggers[-1]
    assert isinstance(back, ResourceBack) and back.resource == "APP-A1"


def _shift_plant() -> Any:
    """OP-ANNA (badge 04A1B2C3) on a 08:00-16:00 shift, every day."""
    from cloud.plant import parse_plant

    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    shift = {"days": days, "start": "08:00", "end": "16:00"}
    return parse_plant(
        {
            "site": "plant1", "timezone": "UTC",
            "calendars": [{"id": "day", "shifts": [shift]}],
            "resources": [
                {"id": "CRIMP-01", "kind": "machine", "calendar": "day"},
                {"id": "OP-ANNA", "kind": "operator", "calendar": "day", "tag": "04A1B2C3"},
            ],
            "groups": [{"id": "g", "kind": "machine", "members": ["CRIMP-01"]}],
            "products": [
                {"id": "P", "steps": [{"id": "s", "per_unit_min": 1, "holds": [{"group": "g"}]}]}
            ],
            "planning": {"absent_grace_min": 10},
        }
    )  # fmt: skip


def test_an_operator_not_badged_in_within_grace_is_lost_until_they_badge_in() -> None:
    from cloud.status import StatusMaster

    floor = Floor()
    floor.status.set_master(StatusMaster.of(_shift_plant()))
    floor.round("machine.signal", {"signal": "run", "on": True}, 5)  # within the grace
    assert [t for t in floor.sink.triggers if isinstance(t, ResourceLost)] == []
    floor.round("machine.signal", {"signal": "run", "on": False}, 11)  # grace over
    (lost,) = [t for t in floor.sink.triggers if isinstance(t, ResourceLost)]
    assert (lost.resource, lost.reason) == ("OP-ANNA", "absent")
    assert (lost.at.hour, lost.at.minute, lost.until.hour if lost.until else None) == (8, 10, 16)
    floor.round("machine.signal", {"signal": "run", "on": True}, 12)  # told once
    assert len([t for t in floor.sink.triggers if isinstance(t, ResourceLost)]) == 1
    floor.round("badge.read", {"tag": "04A1B2C3"}, 20)
    back = floor.sink.triggers[-1]
    assert isinstance(back, ResourceBack) and back.resource == "OP-ANNA"
    assert back.at.minute == 20
    assert floor.sink.present[-1] == frozenset({"OP-ANNA"})  # the plan prefers her again


def test_a_restarted_cloud_tells_the_absence_again_from_the_log() -> None:
    from cloud.status import StatusMaster

    floor = Floor()
    floor.status.set_master(StatusMaster.of(_shift_plant()))
    floor.round("machine.signal", {"signal": "run", "on": True}, 30)
    # A new reactions object over the same (restored) status: catch_up tells it again.
    again = Sink()
    FloorReactions(floor.status, replanner=again, resource_of=str.upper).catch_up()
    (lost,) = [t for t in again.triggers if isinstance(t, ResourceLost)]
    assert (lost.resource, lost.reason) == ("OP-ANNA", "absent")
