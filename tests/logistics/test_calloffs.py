"""Call-offs: issued after the plan, re-issued only when the requirement changes, JIS in order."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from cloud.calloff import CallOffs, buckets, document, needs_of, to_csv
from cloud.plant import parse_plant
from cloud.recorder import CloudRecorder
from cloud.replan import OrderChanged
from cloud.status import ResourceStatus
from cloud.status.logistics import match_delivery
from cloud.transport import Transports
from contract.logistics import LOGISTICS_SOURCE
from tests.logistics.conftest import JIS, LINE, NOW, SUPPLIER, Desk, plant_document


def _assembly_starts(desk: Desk) -> list[tuple[datetime, str]]:
    jobs = desk.replanner.jobs_snapshot()
    starts = {
        job.order: job.start
        for per in jobs.values()
        for job in per.values()
        if job.step == "assemble"
    }
    return sorted((datetime.fromisoformat(s.replace("Z", "+00:00")), o) for o, s in starts.items())


def _issued_events(desk: Desk) -> list[dict]:
    return [e for _, e, _ in desk.log.replay() if e["type"] == "calloff.issued"]


def test_the_requirement_by_time_sums_each_steps_need_per_bucket(desk: Desk) -> None:
    desk.replanner.replan([])
    needs = needs_of(desk.plant, desk.replanner.jobs_snapshot())
    jis = [n for n in needs if n.material == JIS]
    assert {(n.order, n.point_of_use, n.quantity) for n in jis} == {
        ("A", LINE, 80.0),
        ("B", LINE, 120.0),
    }
    terminals = [n for n in needs if n.material == "terminal-a"]
    assert {n.point_of_use for n in terminals} <= {"CRIMP-1", "CRIMP-2", "CRIMP-3"}
    assert sum(b.quantity for b in buckets(desk.plant, needs) if b.material == "terminal-a") == 1200
    for bucket in buckets(desk.plant, needs):
        assert bucket.end - bucket.start == timedelta(minutes=60)
        assert bucket.start.minute == 0  # aligned to the hour


def test_calloffs_change_only_when_the_requirement_changes(desk: Desk) -> None:
    desk.replanner.replan([])
    assert [d["version"] for d in desk.issued] == [1]
    first = desk.issued[0]
    assert first["supplier"] == SUPPLIER and first["changes"] == ["first call-off"]
    for line in first["lines"]:  # the window ends when the bucket starts; ship 90 min before
        start = datetime.fromisoformat(line["start"].replace("Z", "+00:00"))
        assert datetime.fromisoformat(line["end"].replace("Z", "+00:00")) - start == timedelta(
            minutes=30
        )
        assert start - datetime.fromisoformat(line["ship_by"].replace("Z", "+00:00")) == timedelta(
            minutes=90
        )
    assert first["ship_by"] == min(line["ship_by"] for line in first["lines"])

    desk.replanner.replan([])  # the same plan: nothing re-issued
    desk.clock.advance(600)
    desk.replanner.replan([])  # time passed, the requirement did not change
    assert len(desk.issued) == 1

    bigger = replace(desk.replanner.engine.orders["B"], quantity=75)
    desk.replanner.replan([OrderChanged(bigger, "adjust")])
    assert [d["version"] for d in desk.issued] == [1, 2]
    changes = desk.issued[1]["changes"]
    assert any(c.startswith(f"{JIS} at {LINE}") for c in changes), changes
    assert {s["order"]: s["quantity"] for s in desk.issued[1]["sequence"]}["B"] == 150
    assert len(_issued_events(desk)) == 2

    # A restart: the status folded from the log knows version 2; the same plan issues nothing.
    status = ResourceStatus()
    for _, event, at in desk.log.replay():
        status.apply(event, at)
    again = CallOffs(
        CloudRecorder(desk.log, status, LOGISTICS_SOURCE, clock=desk.clock),
        lambda: desk.plant,
        "plant1",
    )
    needs = needs_of(desk.plant, desk.replanner.jobs_snapshot())
    assert again.issue(needs) == []
    assert status.logistics_view()["calloffs"][SUPPLIER]["version"] == 2


def test_after_a_replan_reordering_two_orders_the_jis_sequence_follows(desk: Desk) -> None:
    desk.replanner.replan([])
    assert [o for _, o in _assembly_starts(desk)] == ["A", "B"]
    first = desk.issued[-1]
    assert [(s["seq"], s["order"]) for s in first["sequence"]] == [(1, "A"), (2, "B")]

    later = replace(desk.replanner.engine.orders["A"], due=NOW + timedelta(hours=20))
    desk.replanner.replan([OrderChanged(later, "new")])
    assert [o for _, o in _assembly_starts(desk)] == ["B", "A"]
    second = desk.issued[-1]
    assert second["version"] == first["version"] + 1
    assert [(s["seq"], s["order"]) for s in second["sequence"]] == [(1, "B"), (2, "A")]
    assert f"sequence of {JIS} at {LINE}: B A" in second["changes"]
    needed = [s["needed"] for s in second["sequence"]]
    assert needed == sorted(needed)

    rows = list(csv.DictReader(io.StringIO(to_csv(second))))
    assert [r["order"] for r in rows if r["kind"] == "sequence"] == ["B", "A"]
    assert {r["kind"] for r in rows} == {"line", "sequence"}


def test_a_restart_sends_no_planned_transport_again(desk: Desk) -> None:
    """The transports sent are in the log: a new dispatcher over the folded status sends none."""
    plant = parse_plant(plant_document(agvs=[{"manufacturer": "a", "serial": "v1"}],
                                       materials=[JIS], lead_min=100_000))  # fmt: skip
    desk.replanner.replan([])
    needs = needs_of(plant, desk.replanner.jobs_snapshot())
    sent: list[str] = []

    def dispatcher(status: ResourceStatus) -> Transports:
        recorder = CloudRecorder(desk.log, status, LOGISTICS_SOURCE, clock=desk.clock)
        out = Transports(recorder, lambda: plant, clock=desk.clock,
                         publish=lambda topic, body: sent.append(topic))  # fmt: skip
        out.connections[("a", "v1")] = "ONLINE"
        out.planned(needs)
        return out

    first = dispatcher(desk.status)
    first.tick()
    assert len(sent) == 1  # one AGV: the first need goes, the second waits for it
    status = ResourceStatus()
    for _, event, at in desk.log.replay():
        status.apply(event, at)
    again = dispatcher(status)
    again.tick()
    assert len(sent) == 1  # the AGV is still busy with the transport the log holds
    (tid,) = status.logistics.transports
    status.logistics.apply("transport.state", {"transport": tid, "state": "done", "detail": ""}, "")
    again.tick()
    assert len(sent) == 2  # the second need, never the first again
    orders = [t.order["order"] for t in status.logistics.transports.values()]
    assert sorted(orders) == ["A", "B"]


def test_a_late_delivery_is_put_down_to_shipping_or_the_road() -> None:
    calloff = {
        "version": 3,
        "lines": [
            {"material": JIS, "ship_by": "2026-03-23T07:00:00Z"},
            {"material": JIS, "ship_by": "2026-03-23T09:00:00Z"},
            {"material": "terminal-a", "ship_by": "2026-03-23T06:00:00Z"},
        ],
    }
    shown = {"delivery": "D-1", "materials": [JIS], "late": True}
    left_late = match_delivery(shown, "2026-03-23T07:30:00.000000Z", calloff)
    assert (left_late["ship_by"], left_late["shipped_late"]) == ("2026-03-23T07:00:00Z", True)
    assert (left_late["late_blame"], left_late["calloff_version"]) == ("shipping", 3)
    in_time = match_delivery(shown, "2026-03-23T06:50:00Z", calloff)
    assert (in_time["shipped_late"], in_time["late_blame"]) == (False, "road")
    on_time = match_delivery({**shown, "late": False}, "2026-03-23T07:30:00Z", calloff)
    assert (on_time["shipped_late"], on_time["late_blame"]) == (True, None)
    unknown = match_delivery(shown, None, None)
    assert [unknown[k] for k in ("ship_by", "shipped_late", "late_blame")] == [None, None, None]


def test_a_calloff_past_its_bound_says_what_it_leaves_out(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document, "MAX_CALLOFF_LINES", 2)
    desk.replanner.replan([])
    (first,) = desk.issued
    assert len(first["lines"]) == 2 and len(first["sequence"]) == 2
    needs = needs_of(desk.plant, desk.replanner.jobs_snapshot())
    supplied = [n for n in needs if desk.plant.materials[n.material].supplier == SUPPLIER]
    everything = buckets(desk.plant, supplied)
    assert [x["end"] for x in first["lines"]] == [
        b.start.strftime("%Y-%m-%dT%H:%M:%SZ") for b in everything[:2]
    ]  # the earliest
    assert first["changes"][-1].startswith(f"{len(everything) - 2} later line(s) left out")
