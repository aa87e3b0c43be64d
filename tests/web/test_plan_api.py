"""The planners' REST routes on a real planning cloud (real Mosquitto, real HTTP, real replans).

Every route of `cloud/web/plan.py`: the plan, its state and export, the gap report, ERP
intake with row-by-row rejection (nothing applied), a change waiting for a planner's decision,
manual mode with a moved step, the audit naming who did what, and the `plan` push.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.errors import ConfigError
from cloud.plant import load_orders, load_plant
from cloud.replan import Engine, Replanner, ResourceLost
from cloud.service import CloudService, CloudSettings
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import wait_for
from tests.web.auth import Grants
from tests.web.plan_app import (
    GRANTS,
    ORDERS,
    STATIONS,
    call,
    iso,
    planning_cloud,
    write_orders,
    write_plant,
)
from tests.web.times import utc

pytestmark = pytest.mark.mqtt


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[CloudService]:
    with planning_cloud(tmp_path, mosquitto.url) as running:
        yield running


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _step(document: dict[str, Any], order: str) -> dict[str, Any]:
    (found,) = [o for o in document["orders"] if o["order"] == order]
    return found["steps"][0]  # type: ignore[no-any-return]


def test_the_plan_its_state_export_gaps_decisions_and_audit(cloud: CloudService) -> None:
    code, plan, _ = call(cloud, "get", "/api/plan")
    assert code == 200 and plan["site"] == "plant1"
    assert sorted(o["order"] for o in plan["orders"]) == sorted(ORDERS)
    jobs = [j["order"] for s in STATIONS for j in plan["resources"].get(s, [])]
    assert sorted(jobs) == sorted(ORDERS)  # every order on one of the two crimpers
    code, state, _ = call(cloud, "get", "/api/plan/state")
    assert code == 200
    assert state["groups"] == {"crimpers": list(STATIONS)}
    assert [r["id"] for r in state["resources"]] == list(STATIONS)
    assert state["manual"] == {"on": False, "by": None} and state["policy"] == "ask"
    code, exported, headers = call(cloud, "get", "/api/plan/export")
    assert code == 200 and exported == plan
    assert headers["Content-Disposition"].startswith('attachment; filename="plan-plant1-')
    code, gaps, _ = call(cloud, "get", "/api/gaps")
    assert code == 200 and set(gaps) == {"digest", "gaps", "orders"}
    assert cloud.replanner is not None and gaps == cloud.replanner.gap_report
    assert call(cloud, "get", "/api/decisions")[:2] == (200, [])
    code, audit, _ = call(cloud, "get", "/api/audit")  # the orders file, imported at start
    assert code == 200
    assert [(a["who"], a["what"]) for a in audit] == [
        *(("orders-file", "order_created") for _ in ORDERS),
        ("orders-file", "orders_file_imported"),
    ]


def test_a_bad_order_file_is_rejected_row_by_row_and_nothing_applied(
    cloud: CloudService,
) -> None:
    assert cloud.replanner is not None
    due = iso(datetime.now().astimezone() + timedelta(hours=5))
    good = {"id": "O-NEW", "product": "P", "quantity": 5, "due": due}
    bad = {"orders": [
        good,
        {"id": "O-X1", "product": "NOPE", "quantity": 5, "due": due},
        {"id": "O-X2", "product": "P", "quantity": 0, "due": due},
        {"id": "O-NEW", "product": "P", "quantity": 6, "due": due},
        {"id": "O-X3", "product": "P", "quantity": 5, "due": "next tuesday"},
    ]}  # fmt: skip
    triggers = cloud.replanner.stats.triggers
    code, body, _ = call(cloud, "post", "/api/orders", {**bad}, user="erp-bridge")
    assert code == 422, body
    rows = {r["row"]: r for r in body["rows"]}
    assert sorted(rows) == [2, 3, 4, 5]  # row 1 is good, yet nothing of the file is applied
    assert any("unknown product 'NOPE'" in reason for reason in rows[2]["reasons"])
    assert any("quantity" in reason for reason in rows[3]["reasons"])
    assert rows[4]["order"] == "O-NEW" and "duplicate order id 'O-NEW'" in rows[4]["reasons"]
    assert any("due" in reason for reason in rows[5]["reasons"])
    time.sleep(0.5)  # longer than the service's quiet time: a replan would have run
    assert cloud.replanner.stats.triggers == triggers
    assert "O-NEW" not in cloud.replanner.engine.orders
    assert "O-NEW" not in [o["order"] for o in call(cloud, "get", "/api/plan")[1]["orders"]]
    # A cancel of an unknown order rejects the request too, before anything is applied.
    code, body, _ = call(
        cloud, "post", "/api/orders", {"orders": [good], "cancel": ["O-404"]}, user="erp"
    )
    assert code == 422 and "O-404" in body["rows"][0]["reasons"][0]
    assert cloud.replanner.stats.triggers == triggers
    # Without a login nothing happens either, and a user field is refused.
    code, body, _ = call(cloud, "post", "/api/orders", {"orders": [good]}, user=None)
    assert code == 401
    code, body, _ = call(cloud, "post", "/api/orders", {"orders": [good], "user": "erp"})
    assert code == 422 and "user" in body["detail"]
    # The good row on its own is taken and planned.
    code, body, _ = call(cloud, "post", "/api/orders", {"orders": [good]}, user="erp")
    assert (code, body["created"]) == (202, ["O-NEW"])
    wait_for(
        lambda: "O-NEW" in [o["order"] for o in call(cloud, "get", "/api/plan")[1]["orders"]],
        10,
        "the new order in the plan",
    )


def test_a_changed_order_waits_for_a_planners_decision(cloud: CloudService) -> None:
    assert cloud.replanner is not None and cloud.desk is not None
    old = cloud.replanner.engine.orders["O-3"]
    changed = {"id": "O-3", "product": "P", "quantity": 60, "due": iso(old.due)}
    code, body, _ = call(cloud, "post", "/api/orders", {"orders": [changed]}, user="ana")
    assert (code, body["pending"], body["changed"]) == (202, ["O-3"], [])
    code, pending, _ = call(cloud, "get", "/api/decisions")
    assert code == 200 and [p["order"] for p in pending] == ["O-3"]
    assert pending[0]["new"]["quantity"] == 60 and pending[0]["current"]["quantity"] == 30
    assert pending[0]["source"] == "api"
    time.sleep(0.5)
    plan = call(cloud, "get", "/api/plan")[1]
    step = _step(plan, "O-3")
    assert _at(step["end"]) - _at(step["start"]) == timedelta(minutes=30)  # still the old one
    code, body, _ = call(cloud, "post", "/api/decisions/O-3", {"decision": "maybe"}, user="b")
    assert code == 422
    code, body, _ = call(cloud, "post", "/api/decisions/O-3", {"decision": "adjust"}, user="ben")
    assert (code, body) == (200, {"order": "O-3", "decision": "adjust", "by": "ben"})
    assert call(cloud, "get", "/api/decisions")[1] == []
    code, body, _ = call(cloud, "post", "/api/decisions/O-3", {"decision": "new"}, user="ben")
    assert code == 404 and "O-3" in body["detail"]

    def doubled() -> bool:
        step = _step(call(cloud, "get", "/api/plan")[1], "O-3")
        return _at(step["end"]) - _at(step["start"]) == timedelta(minutes=60)

    wait_for(doubled, 10, "O-3 planned with its new quantity")
    audit = call(cloud, "get", "/api/audit")[1]
    assert [
        (a["who"], a["what"], a["detail"]["order"])
        for a in audit
        if a["what"].startswith("order_change")
    ] == [("ana", "order_change_pending", "O-3"), ("ben", "order_change_adjust", "O-3")]


def test_manual_mode_holds_triggers_and_a_planner_moves_a_step(cloud: CloudService) -> None:
    replanner = cloud.replanner
    assert replanner is not None
    start = iso((replanner.clock.now() + timedelta(hours=3)).replace(second=0, microsecond=0))
    move = "/api/plan/steps/O-5/crimp"
    code, body, _ = call(cloud, "post", move, {"start": start}, user="cleo")
    assert code == 409 and "manual mode" in body["detail"]
    code, body, _ = call(cloud, "post", "/api/manual", {"on": True}, user="cleo")
    assert (code, body) == (200, {"on": True, "by": "cleo"})
    assert call(cloud, "get", "/api/plan/state")[1]["manual"] == {"on": True, "by": "cleo"}
    # Triggers wait while a planner edits by hand.
    completed = replanner.stats.completed
    replanner.submit(ResourceLost("crimp-01", replanner.clock.now(), reason="breakdown"))
    time.sleep(1.0)
    assert replanner.stats.completed == completed
    code, body, _ = call(cloud, "post", move, {"start": "soon"}, user="c")
    assert code == 422
    code, body, _ = call(cloud, "post", "/api/plan/steps/O-99/crimp", {"start": start}, user="c")
    assert code == 404
    code, body, _ = call(cloud, "post", move, {"start": start}, user="cleo")
    assert code == 200 and _at(body["start"]) == _at(start) and body["by"] == "cleo"
    assert _at(_step(call(cloud, "get", "/api/plan")[1], "O-5")["start"]) == _at(start)
    code, body, _ = call(cloud, "post", "/api/manual", {"on": False}, user="dave")
    assert (code, body) == (200, {"on": False, "by": None})
    wait_for(lambda: not replanner._pending, 10, "the waiting breakdown replanned")
    wait_for(
        lambda: not any(_at(j["start"]) > _at(start) for j in _crimp_01(cloud)),
        10,
        "no later work on the broken crimp-01",
    )
    audit = [a for a in call(cloud, "get", "/api/audit")[1] if a["who"] != "orders-file"]
    assert [(a["who"], a["what"]) for a in audit] == [
        ("cleo", "manual_mode_on"),
        ("cleo", "move_step"),
        ("dave", "manual_mode_off"),
    ]
    assert utc(audit[1]["detail"]) == {"order": "O-5", "step": "crimp", "start": start}
    assert all(_at(a["when"]) <= replanner.clock.now() for a in audit)


def _crimp_01(cloud: CloudService) -> list[dict[str, Any]]:
    return call(cloud, "get", "/api/plan")[1]["resources"].get("crimp-01", [])  # type: ignore[no-any-return]


def test_a_replan_is_pushed_as_a_plan_event(cloud: CloudService) -> None:
    assert cloud.replanner is not None and cloud.web is not None
    with urllib.request.urlopen(cloud.web.url + "api/events", timeout=10) as stream:
        first = _next_event(stream, "plan")
        now = cloud.replanner.clock.now()
        cloud.replanner.submit(ResourceLost("crimp-01", now, reason="breakdown"))
        began = time.monotonic()
        pushed = _next_event(stream, "plan")
        assert pushed["version"] > first["version"]
        assert pushed["replans"] > first["replans"]
        assert time.monotonic() - began < 5
    gaps = call(cloud, "get", "/api/gaps")[1]["gaps"]
    assert gaps and gaps[0]["group"] == "crimpers"  # one crimper cannot do the work alone


def _next_event(stream: Any, kind: str) -> dict[str, Any]:
    event, data = None, None
    while True:
        line = stream.readline().decode()
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n":
            if event == kind and data is not None:
                return data  # type: ignore[no-any-return]
            event, data = None, None


def test_a_large_plan_goes_out_compressed_to_a_browser(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    many = [f"O-{n}" for n in range(300)]
    with planning_cloud(tmp_path, mosquitto.url, orders=many) as big:
        code, plain, headers = call(big, "get", "/api/plan")
        assert code == 200 and len(plain["orders"]) == 300
        assert "Content-Encoding" not in headers
        assert big.web is not None
        request = urllib.request.Request(
            big.web.url + "api/plan", headers={"Accept-Encoding": "gzip, deflate"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            packed = response.read()
        assert len(packed) < int(headers["Content-Length"]) / 4
        assert json.loads(gzip.decompress(packed)) == plain


def test_without_a_publisher_the_plan_is_computed_from_the_engine(tmp_path: Path) -> None:
    plant_path = write_plant(tmp_path)
    plant = load_plant(plant_path)
    orders = load_orders(write_orders(tmp_path, datetime.now().astimezone()), plant)
    replanner = Replanner(Engine(plant, orders, SystemClock().now()), improve=False)
    grants = Grants(tmp_path / "cloud.db")
    auth = WebAuth(grants.store, public_read=True)
    with WebServer(dict, lambda n: [], port=0, replanner=replanner, auth=auth) as web:
        with urllib.request.urlopen(web.url + "api/plan", timeout=30) as response:
            document = json.load(response)
        assert utc(document) == replanner.document()  # with the plant's offset: UTC here
        assert sorted(o["order"] for o in document["orders"]) == sorted(ORDERS)
        request = urllib.request.Request(
            web.url + "api/orders", data=b'{"orders": []}', method="POST",
            headers={**grants.bearer("kim"), "Content-Type": "application/json"},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 409
        assert "no order desk" in json.load(refused.value)["detail"]


def test_an_orders_causes_name_what_made_it_late(tmp_path: Path) -> None:
    """`GET /api/plan/orders/{order}/causes`: the chain of the plan the route serves."""
    plant = load_plant(write_plant(tmp_path))
    now = SystemClock().now()
    orders = load_orders(write_orders(tmp_path, now), plant)
    replanner = Replanner(Engine(plant, orders, now, frozen=timedelta(0)), improve=False)
    broken = now + timedelta(minutes=1)
    replanner.replan([ResourceLost("crimp-01", broken, reason="breakdown")])
    grants = Grants(tmp_path / "cloud.db")
    auth = WebAuth(grants.store, public_read=True)
    with WebServer(dict, lambda n: [], port=0, replanner=replanner, auth=auth) as web:
        plan = json.load(urllib.request.urlopen(web.url + "api/plan", timeout=30))
        late = [o for o in plan["orders"] if o["status"] == "late"]
        assert late
        for row in late:
            url = web.url + f"api/plan/orders/{row['order']}/causes"
            with urllib.request.urlopen(url, timeout=30) as response:
                answer = json.load(response)
            assert answer["cause"] == row["cause"] and answer["causes"] == row["causes"]
            assert answer["status"] == "late" and answer["tardiness_min"] > 0
            event = f"breakdown at crimp-01 since {broken:%H:%M}"
            assert event in [c["event"] for c in answer["causes"]], answer
        on_time = next(o for o in plan["orders"] if o["status"] == "on_time")
        url = web.url + f"api/plan/orders/{on_time['order']}/causes"
        answer = json.load(urllib.request.urlopen(url, timeout=30))
        assert (answer["cause"], answer["causes"]) == (None, [])
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(web.url + "api/plan/orders/O-404/causes", timeout=30)
        assert unknown.value.code == 404
        assert "'O-404' is not in the plan" in json.load(unknown.value)["detail"]


NO_PLAN = "no plan: start the cloud with --plant and --orders"


def test_without_orders_the_plan_routes_say_how_to_get_a_plan(tmp_path: Path) -> None:
    settings = CloudSettings(
        database=tmp_path / "cloud.db", broker="mqtt://127.0.0.1:1", web_port=0,
        plant=write_plant(tmp_path),
    )  # fmt: skip
    service = CloudService(settings)
    assert service.web is not None and service.replanner is None
    GRANTS[id(service)] = Grants(settings.database)
    service.web.start()
    try:
        gets = ["/api/plan", "/api/plan/state", "/api/plan/export", "/api/gaps", "/api/decisions",
                "/api/plan/orders/O-1/causes"]  # fmt: skip
        for path in [*gets, "/api/audit"]:
            code, body, _ = call(service, "get", path)
            assert (code, body["detail"]) == (404, NO_PLAN)
        posts: list[tuple[str, dict[str, Any]]] = [
            ("/api/orders", {"orders": []}),
            ("/api/manual", {"on": True}),
            ("/api/decisions/O-1", {"decision": "new"}),
            ("/api/plan/steps/O-1/crimp", {"start": "2026-03-23T06:00:00Z"}),
        ]
        for path, body in posts:
            code, answer, _ = call(service, "post", path, {**body}, user="kim")
            assert code == 409 and "--plant and --orders" in answer["detail"]
    finally:
        GRANTS.pop(id(service)).close()
        service.web.stop()
        service.log.close()


def test_the_cloud_command_maps_its_planning_options_onto_the_service(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud.cli import mail_recipients, settings_from, smtp_settings
    from taktline.cli import build_parser

    plant = write_plant(tmp_path)
    orders = write_orders(tmp_path, datetime.now().astimezone())
    monkeypatch.setenv("TAKTLINE_SMTP_PASSWORD", "from-env")
    args = build_parser().parse_args([
        "cloud", "--db", str(tmp_path / "cloud.db"), "--broker", mosquitto.url, "--web",
        "127.0.0.1:0", "--plant", str(plant), "--orders", str(orders),
        "--order-drop", str(tmp_path / "drop"), "--order-policy", "adjust",
        "--frozen-minutes", "10", "--smtp", "smtp://mia@127.0.0.1:2525?security=starttls",
        "--mail", "planner=a@x.example,b@x.example", "--mail", "planner=c@x.example",
        "--mail", "shift_lead=d@x.example", "--public-read", "--allowed-hosts", "plan.example,x",
    ])  # fmt: skip
    settings = settings_from(args)
    assert (settings.plant, settings.orders, settings.order_drop) == (
        plant,
        orders,
        tmp_path / "drop",
    )
    assert (settings.order_policy, settings.frozen_minutes, settings.web_port) == ("adjust", 10, 0)
    assert settings.public_read and settings.allowed_hosts == {"plan.example", "x"}
    assert settings.mail_to == {
        "planner": ["a@x.example", "b@x.example", "c@x.example"], "shift_lead": ["d@x.example"],
    }  # fmt: skip
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "127.0.0.1", 2525, "starttls"
    )  # fmt: skip
    assert (settings.smtp.username, settings.smtp.password) == ("mia", "from-env")
    with CloudService(settings) as cloud:
        assert cloud.web is not None
        cloud.web.auth.allowed_hosts = frozenset({"127.0.0.1"})  # the test calls by address
        state = call(cloud, "get", "/api/plan/state", user=None)[1]
        assert state["policy"] == "adjust" and len(state["resources"]) == 2
        due = iso(SystemClock().now() + timedelta(days=60))  # within the planning horizon
        csv_text = f"id,product,quantity,due\nO-D,P,3,{due}\n"
        (tmp_path / "drop" / "more.csv").write_text(csv_text)
        wait_for(lambda: (tmp_path / "drop" / "done" / "more.csv").exists(), 10, "the drop taken")
    ssl = smtp_settings("smtp://u:p%40ss@mail.example?security=ssl&from=plan@x.example")
    assert (ssl.port, ssl.password, ssl.sender) == (465, "p@ss", "plan@x.example")
    assert smtp_settings("smtp://mail.example").port == 25
    for bad in ("http://mail", "smtp://mail?security=tls", "smtp://mail?tls=1"):
        with pytest.raises(ConfigError, match="--smtp"):
            smtp_settings(bad)
    with pytest.raises(ConfigError, match="--mail"):
        mail_recipients(["planner"])
    for options, rule in (
        (["--orders", str(orders)], "--plant"),
        (["--plant", str(plant), "--order-drop", "d"], "--orders"),
        (["--mail", "planner=a@x.example"], "--smtp"),
        (["--plant", str(plant), "--orders", str(orders), "--smtp", "smtp://m"], "planner"),
        (["--web", "nowhere"], "--web"),
        (["--cert", "c.pem"], "--cert"),
    ):
        with pytest.raises(ConfigError, match=rule):
            settings_from(build_parser().parse_args(["cloud", *options]))
