"""Web replicas beside one leading planner, on a real PostgreSQL and a real Mosquitto.

A `--role planner` cloud leads (it holds the planner lock and writes its web address beside it)
and two `--role web` replicas serve the web interface from their own read-only fold of the log
and the plan the leader published retained. A login on replica A holds on replica B (sessions in
PostgreSQL); failed logins tried on both count against one limit; a change made through B (a
new order, manual mode) is sent on to the leader, which plans it, and both replicas then show
the plan the leader has; events logged by an ingest worker show on every replica as they show
on the leader. Without a leader a change is refused with a 503 that says so; once another
planner leads, the replica finds it, sends it the change, and shows its plan.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.replan import Replanner
from cloud.roles import LeaderLock, lead, planner_lock_key, reachable
from cloud.service import CloudService, CloudSettings
from cloud.store import EventLog, LogRecord
from contract import Event
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto
from tests.restart.harness import SITE, stamp, write_orders, write_plant, write_registry
from tests.sync.harness import wait_for
from tests.web.auth import PASSWORD, Grants

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


class Leader:
    """A planner run under `lead` on a thread, as `taktline cloud --role planner` runs it."""

    def __init__(self, settings: CloudSettings) -> None:
        self.stop = threading.Event()
        self.service: CloudService | None = None
        self.lock = LeaderLock(str(settings.database), planner_lock_key(settings.site))

        def start() -> CloudService:
            self.service = CloudService(settings).start()
            return self.service

        def where(service: CloudService) -> str | None:
            return reachable(service.web.url) if service.web is not None else None

        self.thread = threading.Thread(
            target=lead, args=(settings, self.stop, start), daemon=True,
            kwargs={"lock": self.lock, "advertise": where},
        )  # fmt: skip
        self.thread.start()

    @property
    def replanner(self) -> Replanner:
        assert self.service is not None and self.service.replanner is not None
        return self.service.replanner

    @property
    def url(self) -> str:
        assert self.service is not None and self.service.web is not None
        return self.service.web.url.rstrip("/")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def cloud(
    tmp_path: Path, mosquitto: PrivateMosquitto, postgres_url: str
) -> Iterator[dict[str, Any]]:
    write_plant(tmp_path)
    write_orders(tmp_path, SystemClock().now())
    write_registry(tmp_path)
    grants = Grants(postgres_url)  # ada the admin, pia the planner, ...
    base = CloudSettings(
        database=postgres_url, broker=mosquitto.url, site=SITE,
        registry=tmp_path / "registry.json", plant=tmp_path / "plant.json", web_port=0,
    )  # fmt: skip
    planner = replace(
        base, role="planner", orders=tmp_path / "orders.json", frozen_minutes=0,
        client_id="leader",
    )  # fmt: skip
    leader = Leader(planner)
    replicas: list[CloudService] = []
    try:
        wait_for(lambda: leader.service is not None and leader.service.web is not None, 30,
                 "the planner to lead")  # fmt: skip
        for name in ("a", "b"):
            web = replace(base, role="web", client_id=f"replica-{name}")
            replicas.append(CloudService(web).start())
        yield {"leader": leader, "a": replicas[0], "b": replicas[1], "grants": grants,
               "planner": planner}  # fmt: skip
    finally:
        for replica in replicas:
            replica.stop()
        leader.close()
        grants.close()


def _url(service: CloudService) -> str:
    assert service.web is not None
    return service.web.url.rstrip("/")


def _login(client: httpx.Client, base: str, name: str, password: str) -> httpx.Response:
    return client.post(f"{base}/api/login", json={"name": name, "password": password})


def _read(base: str, path: str, token: str) -> Any:
    answer = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return answer.json()


def _log_machine_run(url: str, station: str) -> None:
    """What an ingest worker commits for a station's run signal (its agent's source)."""
    instance, now = secrets.token_hex(16), utc_iso(SystemClock().now())
    event = Event(
        type="machine.signal", source=f"{station}-io", agent=f"pi-{station}",
        instance=instance, seq=1, time=now, mono_ns=1, boot=secrets.token_hex(16),
        payload={"signal": "run", "on": True}, station=station,
    ).validate()  # fmt: skip
    body = event.to_dict()
    record = LogRecord(
        instance, 1, event.type, event.source, event.agent, station, now, now, "monotonic", now,
        json.dumps(body, separators=(",", ":")), body,
    )  # fmt: skip
    with EventLog(url) as log:
        assert log.commit([record], []).committed


def test_two_web_replicas_share_logins_and_show_the_leaders_plan(
    cloud: dict[str, Any], postgres_url: str
) -> None:
    leader: Leader = cloud["leader"]
    a, b = _url(cloud["a"]), _url(cloud["b"])
    token = cloud["grants"].token("reader", "viewer")

    def _plan(base: str) -> dict[str, Any]:
        return dict(_read(base, "/api/plan", token))

    # Both replicas show the plan the leader published (the retained plan on the broker).
    wait_for(lambda: cloud["a"].replica.view.plan.version() > 0, 20, "the plan on replica A")
    wait_for(lambda: cloud["b"].replica.view.plan.version() > 0, 20, "the plan on replica B")
    first = _plan(f"{leader.url}")
    wait_for(lambda: _plan(a) == _plan(leader.url) == _plan(b), 20, "one plan on all three")

    # A login on replica A holds on replica B: the session is in PostgreSQL.
    with httpx.Client() as browser:
        logged = _login(browser, a, "pia", PASSWORD)
        assert logged.status_code == 200, logged.text
        csrf = logged.json()["csrf"]
        on_b = browser.get(f"{b}/api/session").json()
        assert (on_b["user"], on_b["role"], on_b["csrf"]) == ("pia", "planner", csrf)

        # A change through replica B reaches the leader: a new order, planned by the leader.
        due = stamp(SystemClock().now() + timedelta(minutes=5))  # 10 min of work: late
        order = {"orders": [{"id": "O-WEB", "product": "P", "quantity": 10, "due": due}]}
        sent = browser.post(f"{b}/api/orders", json=order, headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 202, sent.text
        wait_for(lambda: "O-WEB" in leader.replanner.engine.orders, 10, "the order")

        def planned(base: str) -> bool:
            return "O-WEB" in {row["order"] for row in _plan(base).get("orders", [])}

        wait_for(lambda: planned(leader.url), 20, "O-WEB in the leader's plan")
        wait_for(lambda: planned(a) and planned(b), 20, "O-WEB in both replicas' plans")
        assert _plan(a) == _plan(b) == _plan(leader.url) != first

        # The andon board of a replica shows the late orders of the leader's plan.
        def late(base: str) -> set[str]:
            alarms = _read(base, "/api/andon", token)["alarms"]
            return {a["subject"] for a in alarms if a["kind"] == "late_order"}

        assert "O-WEB" in late(leader.url)
        assert late(a) == late(b) == late(leader.url)

        # A machine's page on a replica lists its coming jobs of the leader's plan.
        def coming(base: str) -> list[tuple[str, str, str]]:
            shown = _read(base, "/api/machines/crimp-02", token)["upcoming"]
            assert shown["planned"], base
            return [(j["order"], j["start"], j["end"]) for j in shown["steps"]]

        assert coming(leader.url) and coming(a) == coming(leader.url)
        # The change is recorded once, by the leader that made it (not by the replica too).
        admin = cloud["grants"].token("auditor", "admin")
        rows = _read(a, "/api/audit/requests?limit=50", admin)
        orders = [r for r in rows if r["route"] == "/api/orders"]
        assert [(r["actor"], r["status"]) for r in orders] == [("pia", 202)]
        # Manual mode through replica A: the leader's planner is in it, by pia.
        manual = browser.post(f"{a}/api/manual", json={"on": True}, headers={"X-CSRF-Token": csrf})
        assert manual.status_code == 200, manual.text
        assert leader.replanner.manual == "pia"
        # The replicas read the planner's state from the leader too.
        state = browser.get(f"{b}/api/plan/state").json()
        assert state["manual"] == {"on": True, "by": "pia"}
        # Without the CSRF token the change is refused on the replica (and never sent on).
        refused = browser.post(f"{b}/api/manual", json={"on": False})
        assert refused.status_code == 403
        assert leader.replanner.manual == "pia"
        # Logging out on B ends the session on A too.
        assert browser.post(f"{b}/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert browser.get(f"{a}/api/session").json()["user"] is None

    # Failed logins count across replicas: 5 per account, wherever they were tried.
    with httpx.Client() as guesser:
        for base in (a, b, a, b, a):
            assert _login(guesser, base, "sam", "wrong password!").status_code == 401
        for base in (a, b):  # even the right password waits now, on either replica
            assert _login(guesser, base, "sam", PASSWORD).status_code == 429
    # Each replica recorded the logins it served, in an audit source of its own.
    admin = cloud["grants"].token("auditor", "admin")
    logins = [r for r in _read(b, "/api/audit/requests?limit=100", admin)
              if r["route"] == "/api/login"]  # fmt: skip
    assert sorted(r["status"] for r in logins) == [200] + [401] * 5 + [429] * 2

    # The status the leader folds from the log, the replicas fold too.
    _log_machine_run(postgres_url, "crimp-01")

    def machine(base: str) -> dict[str, Any]:
        shown = _read(base, "/api/status", token)["machines"]["crimp-01"]
        return {k: shown[k] for k in ("state", "running", "since", "agent", "last_event")}

    wait_for(lambda: machine(leader.url)["running"], 10, "the leader folding the event")
    wait_for(lambda: machine(a) == machine(leader.url) == machine(b), 10, "the same status")
    assert machine(a)["state"] == "RUNNING"


def test_without_a_leader_a_change_is_refused_and_the_next_leader_takes_it(
    cloud: dict[str, Any], postgres_url: str
) -> None:
    a = _url(cloud["a"])
    replica: CloudService = cloud["a"]
    assert replica.replica is not None
    retained = replica.replica.view.plan
    wait_for(lambda: retained.version() > 0, 20, "the first leader's plan on the replica")
    before = retained.version()
    with httpx.Client() as browser:
        csrf = _login(browser, a, "pia", PASSWORD).json()["csrf"]

        def manual_on() -> httpx.Response:
            token = {"X-CSRF-Token": csrf}
            return browser.post(f"{a}/api/manual", json={"on": True}, headers=token)

        cloud["leader"].close()  # the planner stops: its lock (and its address) go with it
        answer = manual_on()
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert "no planner leads now" in answer.json()["detail"]
        assert "the change was not made" in answer.json()["detail"]
        # Another planner takes the lock: the replica finds it and sends the change there.
        successor = Leader(replace(cloud["planner"], client_id="successor"))
        try:
            wait_for(lambda: successor.service is not None and successor.service.web is not None,
                     30, "the next planner to lead")  # fmt: skip
            answer = manual_on()
            assert answer.status_code == 200, answer.text
            assert successor.replanner.manual == "pia"
            # and the replica shows the new leader's plan, its versions going on
            wait_for(lambda: retained.version() > before, 20, "the next leader's plan")
            assert "0.0.0.0" not in successor.url
        finally:
            successor.close()
