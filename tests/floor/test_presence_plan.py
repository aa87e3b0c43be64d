"""The presence rule feeds the plan: an operator absent after the grace is planned out.

At the status + replanner level: contract events are committed to a real SQLite event log,
folded into the status as read back, looked at by the floor reactions (the same code the
cloud runs after every ingest round), and their triggers applied to the replanning engine over
the harness plant and orders. Not through agents on emulated chips and Mosquitto: the badge
path there (`badge.read`, `rest.read`) is covered by the agent and ingest tests already.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.plant import load_orders, load_plant
from cloud.reactions import FloorReactions
from cloud.replan import Engine, ResourceBack, ResourceLost
from cloud.status import ResourceStatus, StatusMaster
from cloud.status.labour import Settle
from cloud.store import EventLog, LogRecord
from tests.status.events import INSTANCE, Feed

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PLANT = load_plant(EXAMPLES / "harness_plant_monitoring.json")
ORDERS = load_orders(EXAMPLES / "harness_orders.json", PLANT)
SHIFT_START = datetime(2026, 3, 24, 5, 0, tzinfo=UTC)  # Tuesday 06:00 Berlin, the orders' day
SHIFT_END = datetime(2026, 3, 24, 13, 0, tzinfo=UTC)
DAY = 24 * 60  # the feed's minutes start Monday 06:00 UTC
ANNA, BEN = "04A1B2C3", "04D4E5F6"  # both crimp; Anna assembles too


class Sink:
    def __init__(self) -> None:
        self.triggers: list[Any] = []

    def submit(self, trigger: Any) -> None:
        self.triggers.append(trigger)


class Floor:
    """Status + reactions over a real SQLite log; events at minutes after Monday 06:00 UTC."""

    def __init__(self, path: str) -> None:
        self.log = EventLog(path)
        self.status = ResourceStatus()
        self.status.set_master(StatusMaster.of(PLANT))
        self.feed = Feed(self.status, self.log)
        self.sink = Sink()
        self.reactions = FloorReactions(self.status, replanner=self.sink)

    def __call__(self, kind: str, payload: dict[str, Any], minutes: float, **kw: Any) -> None:
        self.feed(kind, payload, minutes, **kw)
        _, body, stamp = self.feed.log[-1]
        record = LogRecord(
            INSTANCE, body["seq"], kind, body["source"], body["agent"], body.get("station"),
            stamp, stamp, "monotonic", stamp, json.dumps(body), body,
        )  # fmt: skip
        self.reactions.committed([record])


def _holders(eng: Engine, since: datetime, until: datetime) -> dict[str, int]:
    """How many steps starting in [since, until) hold each operator."""
    p = eng.model.problem
    count: dict[str, int] = {}
    for s in range(len(eng.model.steps)):
        if eng.plan.start[s] < 0 or not since <= eng.model.time_of(int(eng.plan.start[s])) < until:
            continue
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            resource = eng.plant.resources[int(eng.plan.res[q])]
            if resource.kind == "operator":
                count[resource.id] = count.get(resource.id, 0) + 1
    return count


def test_an_operator_not_badged_in_is_planned_out_and_back_on_badge_in(tmp_path: Path) -> None:
    now = SHIFT_START + timedelta(minutes=5)
    eng = Engine(PLANT, ORDERS, now)
    assert _holders(eng, SHIFT_START, SHIFT_END).get("OP-ANNA")  # planned before anything
    floor = Floor(str(tmp_path / "cloud.db"))
    floor("badge.read", {"tag": BEN}, DAY - 50, station="crimp-01")  # 05:10 UTC: Ben is in
    assert [t for t in floor.sink.triggers if isinstance(t, ResourceLost)] == []  # in grace
    floor("machine.signal", {"signal": "run", "on": True}, DAY, station="crimp-01")  # 06:00 UTC
    lost = [t for t in floor.sink.triggers if isinstance(t, ResourceLost)]
    assert {(t.resource, t.reason) for t in lost} >= {("OP-ANNA", "absent")}
    assert "OP-BEN" not in {t.resource for t in lost}
    anna = next(t for t in lost if t.resource == "OP-ANNA")
    assert (anna.at, anna.until) == (SHIFT_START + timedelta(minutes=15), SHIFT_END)
    t0 = SHIFT_START + timedelta(hours=1)
    eng.apply(list(floor.sink.triggers), t0)
    held = _holders(eng, t0, SHIFT_END)
    assert "OP-ANNA" not in held and held.get("OP-BEN")  # Ben, present and qualified, takes it
    assert floor.status.snapshot()["labour"][ANNA]["presence"] == "absent"

    told = len(floor.sink.triggers)
    floor("badge.read", {"tag": ANNA}, DAY + 30, station="crimp-02")  # 06:30 UTC: she arrives
    (back,) = [t for t in floor.sink.triggers[told:] if getattr(t, "resource", None) == "OP-ANNA"]
    assert isinstance(back, ResourceBack) and back.resource == "OP-ANNA"
    assert floor.status.snapshot()["labour"][ANNA]["presence"] == "present"
    eng.apply([back], back.at)
    assert all(w.end <= back.at for w in eng.down["OP-ANNA"])  # plannable again from now
    floor("rest.read", {"tag": ANNA}, DAY + 40, source="rest-01", agent="pi-rest-01")
    assert floor.status.snapshot()["labour"][ANNA]["presence"] == "on_break"
    assert [t for t in floor.sink.triggers[told:] if getattr(t, "resource", None) == "OP-ANNA"] == [
        back
    ]  # a break is not an absence


def test_the_absence_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "cloud.db")
    floor = Floor(path)
    floor("badge.read", {"tag": BEN}, DAY - 50, station="crimp-01")
    floor("machine.signal", {"signal": "run", "on": True}, DAY, station="crimp-01")
    floor.log.close()
    # A new cloud: the status is rebuilt from the log, the reactions catch up.
    status = ResourceStatus()
    status.set_master(StatusMaster.of(PLANT))
    with EventLog(path) as log:
        for position, body, corrected in log.replay(after=0):
            status.apply(body, corrected, position)
    sink = Sink()
    FloorReactions(status, replanner=sink).catch_up()
    absent = {t.resource for t in sink.triggers if isinstance(t, ResourceLost)}
    assert "OP-ANNA" in absent and "OP-BEN" not in absent
    assert status.snapshot()["labour"][BEN]["presence"] == "present"


def test_with_no_qualified_operator_present_the_gap_names_the_skill(tmp_path: Path) -> None:
    from cloud.replan import Replanner
    from cloud.replan.mailer import render_report
    from taktline.clock import FakeClock

    now = SHIFT_START + timedelta(minutes=5)
    replanner = Replanner(Engine(PLANT, ORDERS, now), clock=FakeClock(now))
    floor = Floor(str(tmp_path / "cloud.db"))
    floor("badge.read", {"tag": "04112233"}, DAY - 50, station="assy-01")  # Carla, no crimp
    floor("machine.signal", {"signal": "run", "on": True}, DAY, station="crimp-01")
    lost = {t.resource for t in floor.sink.triggers if isinstance(t, ResourceLost)}
    assert {"OP-ANNA", "OP-BEN"} <= lost  # neither crimper badged in
    t0 = SHIFT_START + timedelta(hours=1)
    replanner.engine.apply(list(floor.sink.triggers), t0)
    report = replanner.current_gap_report()
    named = [g for g in report["gaps"] if g.get("absent")]
    assert named, report["gaps"]
    crimp = next(g for g in named if "crimp" in g["skills"])
    assert {"OP-ANNA", "OP-BEN"} <= set(crimp["absent"]) and crimp["none_present"] is True
    for gap in named:
        if "assemble" in gap["skills"]:
            assert gap["none_present"] is False  # Carla assembles and is here
    mail = render_report("plant1", report["gaps"], report["orders"])
    assert "no qualified operator present (skill crimp" in mail
    # The orders it makes late say why: no crimp operator is here (item 4 of issue 21).
    late = [o for o in report["orders"] if o["status"] == "late"]
    assert late, report["orders"]
    for order in late:
        absent = [c for c in order["causes"] if c["kind"] == "absent"]
        assert absent, order
        assert absent[0]["event"] == "no operator with skill crimp present: OP-ANNA, OP-BEN absent"
        assert order["cause"].startswith(
            "crimp: blocked by group crimp-operators from 06:15 to 14:00"  # CET, the plant's
        )
    assert "why: crimp: blocked by group crimp-operators" in mail


def test_operators_here_are_preferred_when_steps_are_placed() -> None:
    """`OperatorsPresent` moves nothing by itself; steps placed afterwards take those here.

    Anna comes first in the crimp operators' group, so the plan starts with her; with only Ben
    (of the two) here, a replan that places the crimp steps again gives them to Ben.
    """
    from cloud.replan import OperatorsPresent

    now = SHIFT_START + timedelta(minutes=5)
    eng = Engine(PLANT, ORDERS, now, frozen=timedelta(0))
    before = _holders(eng, SHIFT_START, SHIFT_END)
    assert before.get("OP-ANNA", 0) > before.get("OP-BEN", 0)
    starts = eng.plan.start.copy()
    others = {r.id for r in PLANT.resources if r.kind == "operator"} - {"OP-ANNA"}
    outcome = eng.apply([OperatorsPresent(frozenset(others), now)], now)
    assert outcome.orders_moved == 0 and (eng.plan.start == starts).all()  # a preference only
    eng.apply([ResourceBack("OP-ANNA", now)], now)  # any full replan places every step again
    after = _holders(eng, SHIFT_START, SHIFT_END)
    assert after.get("OP-BEN", 0) > before.get("OP-BEN", 0)
    assert after.get("OP-ANNA", 0) < before.get("OP-ANNA", 0)


def test_a_restarted_cloud_waits_for_badge_reads_still_on_their_way(tmp_path: Path) -> None:
    """An absence that fell due while the cloud was down waits for the settle after its start."""
    path = str(tmp_path / "cloud.db")
    floor = Floor(path)
    floor("machine.signal", {"signal": "run", "on": True}, DAY - 70, station="crimp-01")
    seq = floor.feed.seq
    floor.log.close()
    # Down from 04:50 UTC (before the 05:00 shift) to 05:30; Ben badged in at 05:10, and his
    # station agent still holds the read. The grace (15 min) ended while the cloud was down.
    again = Floor(path)
    again.feed.seq = seq
    for position, body, corrected in again.log.replay(after=0):
        again.status.apply(body, corrected, position)
    started = SHIFT_START + timedelta(minutes=30)
    known = SHIFT_START - timedelta(minutes=10)
    again.status.settle = Settle(known, started, started + timedelta(seconds=30))
    again.reactions.catch_up()
    again.reactions.tick(started + timedelta(seconds=10))

    def told_absent() -> set[str]:
        return {t.resource for t in again.sink.triggers if isinstance(t, ResourceLost)}

    assert not told_absent()
    shown = again.status.snapshot(started + timedelta(seconds=10))["labour"]
    assert shown[ANNA]["presence"] == shown[BEN]["presence"] == "expected"
    # Without the settle the restarted cloud would call both absent at once.
    due = SHIFT_START + timedelta(minutes=15)
    assert not Settle(known, started, started).holds(due, started)
    again("badge.read", {"tag": BEN}, DAY - 50, station="crimp-01")  # arrives now, read at 05:10
    again.reactions.tick(started + timedelta(seconds=31))  # the settle is over
    assert "OP-ANNA" in told_absent() and "OP-BEN" not in told_absent()
    shown = again.status.snapshot(started + timedelta(seconds=31))["labour"]
    assert (shown[ANNA]["presence"], shown[BEN]["presence"]) == ("absent", "present")
    # An absence due before the log's newest event was told by the old process: judged at once.
    old = Settle(SHIFT_START + timedelta(minutes=20), started, started + timedelta(seconds=30))
    assert not old.holds(due, started)
