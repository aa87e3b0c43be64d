"""A cloud you can restart: kill -9 the cloud while its agents run; nothing it was told is lost.

Real processes: a private Mosquitto, `taktline cloud` (SIGKILLed and started again) and three
station agents, each its own process on emulated chips and pins. Before the kill, orders arrive
by file drop and REST, a planner decides one changed order (another change is still waiting),
pins a step in manual mode, and crimp-02 is broken down (its operator pressed the button). After
the restart every station holds a schedule from the new process equal to the cloud's record
(the retained message), and the new plan still has the orders, the decision, the pending change,
the pin and the breakdown (still the cause the moved orders name, since the same time); the
agents' events are in the log exactly once. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cloud import schema
from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto
from tests.restart.harness import (
    APP_1,
    APP_2,
    STATIONS,
    TICKET,
    CloudProcess,
    Retained,
    StationProcess,
    at,
    stamp,
    station_config,
    write_orders,
    write_plant,
    write_registry,
)
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults, pytest.mark.slow]


def _jobs(plan: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    return list(plan["resources"].get(resource, []))


def _planned(plan: dict[str, Any], order: str) -> bool:
    return any(j["order"] == order for jobs in plan["resources"].values() for j in jobs)


def _step(plan: dict[str, Any], order: str) -> dict[str, Any]:
    for resource in STATIONS:
        for job in _jobs(plan, resource):
            if job["order"] == order:
                return {**job, "resource": resource}
    raise AssertionError(f"{order} is not planned")


def _breakdown_causes(plan: dict[str, Any]) -> set[str]:
    """The breakdowns the plan's orders off their due date name as causes."""
    return {
        c["event"] for o in plan["orders"] for c in o.get("causes", []) if c["kind"] == "breakdown"
    }


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    now = SystemClock().now()
    write_plant(tmp_path)
    write_orders(tmp_path, now)
    write_registry(tmp_path)
    return tmp_path


@pytest.fixture
def cloud(plant: Path, mosquitto: PrivateMosquitto, database: str) -> Iterator[CloudProcess]:
    db = database if "://" in database else str(plant / "cloud.db")
    proc = CloudProcess(plant, mosquitto.url, db)
    proc.start()
    try:
        wait_for(proc.up, 30, "the cloud's web interface")
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def stations(
    plant: Path, mosquitto: PrivateMosquitto, cloud: CloudProcess
) -> Iterator[dict[str, StationProcess]]:
    procs = {s: StationProcess(station_config(plant, s, mosquitto.url)) for s in STATIONS}
    try:
        for proc in procs.values():
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs.values():
            proc.quit()


def _empty(proc: StationProcess) -> bool:
    return bool(proc.stats()["depth"] == 0)


def drained(stations: dict[str, StationProcess]) -> dict[str, dict[str, Any]]:
    """Each station's uplink counters once its outbox is empty (everything settled)."""
    out: dict[str, dict[str, Any]] = {}
    for station, proc in stations.items():
        wait_for(partial(_empty, proc), 20, f"{station}'s outbox drained")
        out[station] = proc.stats()
    return out


def _agent_events(database: str) -> list[tuple[str, str, int]]:
    url = database if "://" in database else f"sqlite:///{database}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    schema.events.c.source, schema.events.c.instance, schema.events.c.seq
                ).where(schema.events.c.agent != "cloud")
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def test_cloud_killed_and_started_again_keeps_the_plan(
    mosquitto: PrivateMosquitto, cloud: CloudProcess, stations: dict[str, StationProcess]
) -> None:
    retained = Retained(mosquitto.port)
    try:
        wait_for(lambda: all(s in p.held for s, p in stations.items()), 30, "first schedules")
        now = SystemClock().now()

        # Orders by file drop and by REST.
        due = stamp(now + timedelta(hours=3))
        (cloud.drop / "erp-1.json").write_text(
            json.dumps({"orders": [{"id": "O-FILE", "product": "P", "quantity": 20, "due": due}]})
        )
        code, body = cloud.call(
            "post",
            "/api/orders",
            {"orders": [{"id": "O-API", "product": "P", "quantity": 25, "due": due}]},
            user="erp-bridge",
        )
        assert code == 202 and body["created"] == ["O-API"], body
        # Two changed orders: a planner decides one, the other still waits at the kill.
        changes = [
            {
                "id": "O-3",
                "product": "P",
                "quantity": 45,
                "due": stamp(now + timedelta(minutes=76)),
            },
            {
                "id": "O-4",
                "product": "P",
                "quantity": 50,
                "due": stamp(now + timedelta(minutes=88)),
            },
        ]
        code, body = cloud.call("post", "/api/orders", {"orders": changes}, user="erp-bridge")
        assert code == 202 and sorted(body["pending"]) == ["O-3", "O-4"], body
        code, body = cloud.call("post", "/api/decisions/O-3", {"decision": "adjust"}, user="ben")
        assert code == 200, body
        wait_for(
            lambda: (
                at(_step(cloud.call("get", "/api/plan")[1], "O-3")["end"])
                - at(_step(cloud.call("get", "/api/plan")[1], "O-3")["start"])
                == timedelta(minutes=45)
            ),
            20,
            "O-3 planned with its decided quantity",
        )
        # A pin: manual mode, O-6 moved to a chosen minute, manual mode off again.
        pin_start = stamp((now + timedelta(hours=2)).replace(second=0, microsecond=0))
        assert cloud.call("post", "/api/manual", {"on": True}, user="cleo")[0] == 200
        code, body = cloud.call(
            "post", "/api/plan/steps/O-6/crimp", {"start": pin_start}, user="cleo"
        )
        assert code == 200, body
        assert cloud.call("post", "/api/manual", {"on": False}, user="cleo")[0] == 200
        # crimp-02 starts O-0's job, runs, stops, and its operator presses breakdown.
        crimp2 = stations["crimp-02"]
        crimp2.send(f"ticket {TICKET}")
        crimp2.send("run")
        time.sleep(0.5)
        crimp2.send("stop")
        time.sleep(0.3)
        crimp2.send("breakdown")
        wait_for(
            lambda: "O-FILE" in [o["order"] for o in cloud.call("get", "/api/plan")[1]["orders"]],
            20,
            "the dropped order in the plan",
        )

        def broken_in_plan() -> bool:
            plan = cloud.call("get", "/api/plan")[1]
            return not [j for j in _jobs(plan, "crimp-02") if at(j["start"]) > SystemClock().now()]

        wait_for(broken_in_plan, 30, "crimp-02 out of the plan")
        # Tool life by hand corrections (a supervisor): APP-2, mounted on crimp-03, worn past
        # its 5-cycle limit; APP-1 on crimp-01 serviced after 6 cycles, then 2 more.
        wait_for(lambda: _planned(cloud.call("get", "/api/plan")[1], "O-T"), 20, "O-T planned")
        for body in (
            {"correction": "tool_location", "reason": "mounted", "tag": APP_2, "value": "crimp-03"},
            {"correction": "cycles", "reason": "counter", "station": "crimp-03", "value": 6},
            {"correction": "tool_location", "reason": "mounted", "tag": APP_1, "value": "crimp-01"},
            {"correction": "cycles", "reason": "counter", "station": "crimp-01", "value": 6},
            {"correction": "tool_service", "reason": "reground", "tag": APP_1},
            {"correction": "cycles", "reason": "counter", "station": "crimp-01", "value": 2},
        ):
            code, stored = cloud.call("post", "/api/corrections", body, user="sam")
            assert code == 201, stored
        wait_for(
            lambda: not _planned(cloud.call("get", "/api/plan")[1], "O-T"),
            20,
            "O-T unplanned: applicator 2 is due for service",
        )
        assert (cloud.drop / "done" / "erp-1.json").exists()
        time.sleep(1.5)  # the replans settle and the stations take their last versions
        before = {s: p.held[s] for s, p in stations.items()}
        # The orders the breakdown moves name it as their cause, with when it began.
        named = _breakdown_causes(cloud.call("get", "/api/plan")[1])
        assert len(named) == 1 and next(iter(named)).startswith("breakdown at crimp-02 since ")

        # kill -9 and start again.
        cloud.kill()
        killed = time.monotonic()
        cloud.start()

        def current() -> bool:
            for station, proc in stations.items():
                record = retained.record(station)
                held = proc.held.get(station)
                if held is None or record is None or held != record:
                    return False
                if held[0] <= before[station][0]:
                    return False
            return True

        try:
            wait_for(current, 60, "every station on the new process's schedule")
        except AssertionError as exc:
            held = {s: (p.held.get(s), retained.record(s)) for s, p in stations.items()}
            raise AssertionError(f"{exc}: before {before}, now {held}\n{cloud.log()}") from exc
        took = time.monotonic() - killed
        print(
            f"\nstations current {took:.2f} s after the kill "
            f"({'postgresql' if '//' in cloud.database else 'sqlite'})"
        )
        wait_for(cloud.up, 30, "the web interface again")

        plan = cloud.call("get", "/api/plan")[1]
        planned = {o["order"] for o in plan["orders"]}
        assert {"O-FILE", "O-API", *(f"O-{n}" for n in range(9))} <= planned
        step3 = _step(plan, "O-3")
        assert at(step3["end"]) - at(step3["start"]) == timedelta(minutes=45), "the decision"
        pending = cloud.call("get", "/api/decisions")[1]
        assert [p["order"] for p in pending] == ["O-4"], "the change still waiting"
        assert at(_step(plan, "O-6")["start"]) == at(pin_start), "the pin"
        restarted = SystemClock().now()
        assert not [j for j in _jobs(plan, "crimp-02") if at(j["start"]) > restarted], (
            "the breakdown"
        )
        assert _breakdown_causes(plan) == named, "the breakdown, still the cause, since then"
        tools = cloud.call("get", "/api/status")[1]["tools"]
        app1, app2 = tools[APP_1], tools[APP_2]
        assert (app1["cycles"], app1["life"]["cycles_since_service"]) == (8, 2), "tool life"
        assert app1["serviced_by"] == "sam" and app1["life"]["state"] == "ok", "the service"
        assert app2["life"]["state"] == "due" and not _planned(plan, "O-T"), "the worn tool"
        state = cloud.call("get", "/api/plan/state")[1]
        assert state["manual"] == {"on": False, "by": None}
        audit = cloud.call("get", "/api/audit")[1]
        whats = [(a["who"], a["what"]) for a in audit]
        assert ("ben", "order_change_adjust") in whats and ("cleo", "move_step") in whats
        # The orders file was imported once: the restart did not import it again.
        assert [w for w in whats if w[1] == "orders_file_imported"] == [
            ("orders-file", "orders_file_imported")
        ]
        # Nothing waited for the agents' resend timer: the persistent session kept it all.
        stats = drained(stations)
        assert all(s["resends"] == 0 for s in stats.values()), stats
    finally:
        retained.close()

    # Nothing lost, nothing applied twice: each agent instance's events are 1..n, once each.
    events = _agent_events(cloud.database)
    by_instance: dict[str, list[int]] = {}
    for _, instance, seq in events:
        by_instance.setdefault(instance, []).append(seq)
    assert by_instance
    for instance, seqs in by_instance.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), instance
