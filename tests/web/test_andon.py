"""The andon board: built from status, master data and plan; acknowledged through the API.

The board's rules are checked on `cloud.andon.build` directly (machines in line order, elapsed
times, each kind of alarm with its start, cause and offset); the routes over real HTTP on the
monitoring stack: the roles, the event in the log, 404 and 409, and an acknowledgement still
there after a restart (a new recorder over the same log).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.andon import Ack, AndonRecorder, alarm_id, build
from cloud.master import MasterData
from cloud.status import ResourceStatus, StatusMaster
from taktline.humane import duration, local_time, rounded
from tests.conftest import service_missing
from tests.status.events import T0, Feed
from tests.web.app import EXAMPLE, Stack, monitoring_stack
from tests.web.test_api import ROOT, call

SAM = ("sam", "supervisor")
VERA = ("vera", "viewer")


def _breakdown(feed: Feed, stop_at: float = 56) -> None:
    """crimp-02 on ORD-1's crimp step with Ben, broken down at `stop_at` minutes after 06:00."""
    feed("job.ticket", {"tag": "0A000001", "action": "start"}, 0, station="crimp-02")
    feed("badge.read", {"tag": "04D4E5F6"}, 0, station="crimp-02")
    feed("machine.signal", {"signal": "run", "on": True}, 1, station="crimp-02")
    feed("machine.signal", {"signal": "run", "on": False}, stop_at, station="crimp-02")
    feed("machine.stop_reason", {"reason": "breakdown"}, stop_at + 1, station="crimp-02")


@pytest.fixture
def plant_status() -> tuple[MasterData, ResourceStatus, Feed]:
    master = MasterData.load(EXAMPLE)
    status = ResourceStatus()
    status.set_master(StatusMaster.of(master.plant))
    return master, status, Feed(status)


def test_the_board_lists_machines_in_line_order_with_state_and_elapsed_time(
    plant_status: tuple[MasterData, ResourceStatus, Feed],
) -> None:
    master, status, feed = plant_status
    _breakdown(feed)
    feed("machine.signal", {"signal": "run", "on": True}, 58, station="crimp-01")
    now = T0 + timedelta(hours=1)
    board = build(status.snapshot(now), master.plant, None, {}, now)
    assert [m["station"] for m in board["machines"]] == [
        "cut-01", "cut-02", "crimp-01", "crimp-02", "crimp-03", "assy-01", "assy-02",
    ]  # fmt: skip
    by_station = {m["station"]: m for m in board["machines"]}
    down = by_station["crimp-02"]
    assert (down["name"], down["id"]) == ("CRIMP-2", "CRIMP-2")
    assert down["text"] == "down 4 min, breakdown"
    assert down["since"] == "2026-03-23T07:56:00+01:00" and down["elapsed_s"] == 240
    assert down["job"] == "ORD-1 / crimp" and down["operators"] == [
        {"name": "OP-BEN", "tag": "04D4E5F6"}
    ]
    assert by_station["crimp-01"]["text"] == "running 2 min"
    cut = by_station["cut-01"]
    assert (cut["name"], cut["text"]) == ("Komax cutter 1", "idle")
    assert board["now"] == "2026-03-23T08:00:00+01:00" and board["timezone"] == "Europe/Berlin"


def test_each_kind_of_alarm_has_its_start_cause_and_ack(
    plant_status: tuple[MasterData, ResourceStatus, Feed],
) -> None:
    master, status, feed = plant_status
    _breakdown(feed)
    now = T0 + timedelta(hours=1)
    snapshot = status.snapshot(now)
    snapshot["deliveries"]["deliveries"]["D-7"] = {
        "delivery": "D-7", "lorry": "lorry-12", "materials": ["wire-red"], "late": True,
        "needed": "2026-03-23T07:30:00Z", "ready": "2026-03-23T08:10:00Z",
    }  # fmt: skip
    plan = {
        "orders": [
            {"order": "H-101", "status": "late", "due": "2026-03-23T09:00:00Z",
             "tardiness_min": 90, "cause": "crimp-02 down since 06:56 (breakdown)"},
            {"order": "H-102", "status": "on_time", "due": "2026-03-23T10:00:00Z",
             "tardiness_min": 0},
        ]
    }  # fmt: skip
    stop = alarm_id("stop", "crimp-02", T0 + timedelta(minutes=56))
    acks = {stop: Ack("sam", T0 + timedelta(minutes=59))}
    board = build(snapshot, master.plant, plan, acks, now)
    alarms = {(a["kind"], a["subject"]): a for a in board["alarms"]}
    assert set(alarms) == {
        ("stop", "crimp-02"), ("absent", "OP-ANNA"), ("absent", "OP-CARLA"),
        ("late_delivery", "D-7"), ("late_order", "H-101"),
    }  # fmt: skip
    breakdown = alarms["stop", "crimp-02"]
    assert breakdown["id"] == "stop:crimp-02:2026-03-23T06:56:00Z"
    assert breakdown["cause"] == "breakdown" and breakdown["elapsed_s"] == 240
    assert breakdown["ack"] == {"by": "sam", "at": "2026-03-23T07:59:00+01:00"}
    anna = alarms["absent", "OP-ANNA"]  # two-shift starts 06:00 CET, 15 min of grace
    assert anna["start"] == "2026-03-23T06:15:00+01:00" and anna["ack"] is None
    assert anna["cause"] == "not badged in since the shift began at 06:00 CET"
    lorry = alarms["late_delivery", "D-7"]
    assert lorry["start"] == "2026-03-23T08:30:00+01:00"
    assert lorry["cause"] == "lorry-12: material ready 09:10 CET, needed 08:30 CET (40 min late)"
    late = alarms["late_order", "H-101"]
    assert late["text"] == "H-101 late 1 h 30 min (due 10:00 CET)"
    assert late["cause"] == "crimp-02 down since 06:56 (breakdown)" and late["elapsed_s"] < 0
    # Unacknowledged first; the acknowledged stop last.
    assert board["alarms"][-1]["id"] == stop and board["unacknowledged"] == 4
    assert board["counts"] == {"stop": 1, "absent": 2, "late_delivery": 1, "late_order": 1}


def test_a_new_stop_of_the_same_machine_is_a_new_alarm(
    plant_status: tuple[MasterData, ResourceStatus, Feed],
) -> None:
    master, status, feed = plant_status
    _breakdown(feed, stop_at=10)
    first = alarm_id("stop", "crimp-02", T0 + timedelta(minutes=10))
    feed("machine.signal", {"signal": "run", "on": True}, 20, station="crimp-02")
    feed("machine.signal", {"signal": "run", "on": False}, 30, station="crimp-02")
    now = T0 + timedelta(minutes=35)
    board = build(status.snapshot(now), master.plant, None, {first: Ack("sam", T0)}, now)
    stops = [a for a in board["alarms"] if a["kind"] == "stop"]
    assert [(a["id"], a["cause"], a["ack"]) for a in stops] == [
        ("stop:crimp-02:2026-03-23T06:30:00Z", "unexplained stop: no reason given yet", None)
    ]
    assert stops[0]["text"] == "CRIMP-2 down 5 min, unexplained on ORD-1 / crimp"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with monitoring_stack(tmp_path) as running:
        _breakdown(running.feed)
        yield running


def test_a_supervisor_acknowledges_an_alarm_as_an_event_that_survives_a_restart(
    stack: Stack,
) -> None:
    code, board = call(stack, "get", "/api/andon", who=VERA)
    assert code == 200
    stop = next(a for a in board["alarms"] if a["kind"] == "stop")
    body = json.dumps({"alarm": stop["id"]}).encode()
    assert call(stack, "post", "/api/andon/acks", body, who=VERA)[0] == 403  # a viewer may not
    code, acked = call(stack, "post", "/api/andon/acks", body, who=SAM)
    assert code == 201, acked
    # The stack's clock says 07:00 UTC: 08:00 on the plant's clock.
    at = "2026-03-23T08:00:00+01:00"
    assert acked == {"alarm": stop["id"], "kind": "stop", "by": "sam", "at": at}
    code, again = call(stack, "post", "/api/andon/acks", body, who=("ada", "admin"))
    assert code == 409 and again["ack"]["by"] == "sam"
    gone = json.dumps({"alarm": "stop:crimp-01:2026-03-23T06:00:00Z"}).encode()
    assert call(stack, "post", "/api/andon/acks", gone, who=SAM)[0] == 404
    assert call(stack, "post", "/api/andon/acks", b'{"alarm": 3}', who=SAM)[0] == 422
    events = [e for _, e, _ in stack.log.replay() if e["type"] == "andon.ack"]
    assert [(e["source"], e["agent"], e["payload"]) for e in events] == [
        ("cloud-andon", "cloud", {"alarm": stop["id"], "kind": "stop", "by": "sam"})
    ]
    shown = next(a for a in call(stack, "get", "/api/andon")[1]["alarms"] if a["id"] == stop["id"])
    assert shown["ack"] == {"by": "sam", "at": "2026-03-23T08:00:00+01:00"}
    # A restarted cloud reads the acknowledgement back from the log; its sequence continues.
    again_recorder = AndonRecorder(stack.log, ResourceStatus())
    try:
        assert again_recorder.acks()[stop["id"]].by == "sam"
        stored = again_recorder.acknowledge("absent:OP-ANNA:2026-03-23T05:15:00Z", "absent", "ada")
        assert stored["seq"] == events[0]["seq"] + 1 and stored["instance"] == events[0]["instance"]
    finally:
        again_recorder.close()


def _humane_cases() -> list[tuple[str, Any, str]]:
    return [
        ("duration", 0, "0 s"), ("duration", 59.9, "59 s"), ("duration", 299, "4 min"),
        ("duration", 4800, "1 h 20 min"), ("duration", 7200, "2 h"), ("duration", 97200, "1 d 3 h"),
        ("duration", -5, "0 s"), ("rounded", 1234.567, "1,235"), ("rounded", 0.03456, "0.0346"),
        ("rounded", 12.0, "12"), ("rounded", -3.14159, "-3.14"), ("rounded", 1e6, "1,000,000"),
    ]  # fmt: skip


def test_durations_and_numbers_read_as_people_say_them() -> None:
    for kind, value, expected in _humane_cases():
        got = duration(value) if kind == "duration" else rounded(value)
        assert got == expected, (kind, value)
    summer = T0.replace(month=7)
    assert local_time(summer, MasterData.load(EXAMPLE).plant.tz) == "08:00 CEST"


def test_the_pages_format_as_the_server_does() -> None:
    """static/time.js (in Node.js, a page's document stubbed) agrees with taktline/humane.py."""
    node = shutil.which("node")
    if node is None:
        service_missing("Node.js runs the pages' time.js (Debian: nodejs)")
        raise AssertionError("unreachable")
    script = ROOT / "cloud/web/static/time.js"
    cases = _humane_cases()
    program = f"""
      globalThis.window = {{}};
      globalThis.document = {{ querySelector: () => ({{ content: "Europe/Berlin" }}) }};
      require({json.dumps(str(script))});
      const t = window.taktlineTime;
      const cases = {json.dumps(cases)};
      const out = cases.map(([kind, value]) => t[kind](value));
      out.push(t.full("2026-03-23T06:56:00Z"), t.full("2026-07-23T06:56:00Z"), t.zone,
        t.toInput("2026-03-23T06:56:00Z"), t.fromInput("2026-03-23T07:56").toISOString(),
        t.fromInput("2026-07-23T08:56").toISOString());
      process.stdout.write(JSON.stringify(out));
    """
    done = subprocess.run(
        [node, "-e", program], capture_output=True, text=True, timeout=30, check=True
    )
    got = json.loads(done.stdout)
    assert got[: len(cases)] == [expected for _, _, expected in cases]
    assert got[len(cases) :] == [
        "2026-03-23 07:56:00 CET", "2026-07-23 08:56:00 CEST", "Europe/Berlin",
        "2026-03-23T07:56", "2026-03-23T06:56:00.000Z", "2026-07-23T06:56:00.000Z",
    ]  # fmt: skip


def test_the_board_as_it_was_at_a_past_moment(stack: Stack) -> None:
    logged = Feed(stack.status, stack.log)  # into the log: time travel reads it back
    _breakdown(logged, stop_at=20)
    logged("machine.signal", {"signal": "run", "on": True}, 40, station="crimp-02")  # repaired
    live = call(stack, "get", "/api/andon", who=VERA)[1]
    assert not [a for a in live["alarms"] if a["kind"] == "stop"] and "history" not in live
    then = "2026-03-23T07:30:00+01:00"  # 06:30 UTC: crimp-02 down ten minutes
    code, past = call(stack, "get", f"/api/andon?at={then.replace('+', '%2B')}", who=VERA)
    assert code == 200, past
    (stop,) = [a for a in past["alarms"] if a["kind"] == "stop"]
    assert stop["subject"] == "crimp-02" and past["now"] == then
    crimp = next(m for m in past["machines"] if m["station"] == "crimp-02")
    assert crimp["text"].startswith("down 10 min")
    assert past["history"]["position"] == 5 and "late orders" in past["history"]["note"]
    code, span = call(stack, "get", "/api/andon/history", who=VERA)
    assert code == 200 and span["from"] == "2026-03-23T07:00:00.000000+01:00"  # plant's clock
    assert call(stack, "get", "/api/andon?at=yesterday", who=VERA)[0] == 400
