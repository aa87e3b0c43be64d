"""The REST target: request bodies against the cloud's current web server, over real HTTP.

One server per process (in the scratch folder: its own event log, master data, corrections and
an order desk on the harness plant), reached through `http.client` on loopback. The input's first
byte picks the route and method, the rest is the body. A crash is an answer of 500 or more, an
answer that is not JSON, or a connection the server dropped (a handler that raised).
"""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fuzz.targets import OneInput, Target

__all__ = ["TARGETS"]

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
NOW = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)
#: (method, path) the first byte picks from: every route that takes a body.
ROUTES = (
    ("POST", "/api/orders"),
    ("POST", "/api/corrections"),
    ("PUT", "/api/master"),
    ("POST", "/api/master/resources"),
    ("POST", "/api/master/orders"),
    ("POST", "/api/decisions/SO-1001"),
    ("POST", "/api/manual"),
    ("POST", "/api/plan/steps/SO-1001/cut"),
)


def _server(folder: Path) -> tuple[Any, str]:
    from cloud.auth import AUDIT_SOURCE, AuditTrail, AuthStore
    from cloud.corrections import CorrectionRecorder
    from cloud.master import MasterData
    from cloud.plant import load_orders, load_plant
    from cloud.recorder import CloudRecorder
    from cloud.replan import Engine, OrderDesk, Replanner
    from cloud.status import ResourceStatus, StatusMaster
    from cloud.store import EventLog
    from cloud.web import WebServer
    from cloud.web.guard import WebAuth
    from taktline.clock import FakeClock

    shutil.copy(EXAMPLES / "harness_plant_monitoring.json", folder / "plant.json")
    master = MasterData.load(folder / "plant.json")
    status = ResourceStatus()
    master.subscribe(lambda plant: status.set_master(StatusMaster.of(plant)))
    log = EventLog(folder / "cloud.db", synchronous="NORMAL")
    clock = FakeClock(NOW + timedelta(hours=1))
    recorder = CorrectionRecorder(log, status, clock=clock)
    plant = load_plant(EXAMPLES / "harness_plant.json")
    engine = Engine(plant, load_orders(EXAMPLES / "harness_orders.json", plant), NOW)
    replanner = Replanner(engine, clock=clock, quiet=timedelta(seconds=1), improve=False)
    # an admin's API token: every route is reachable, as the guard allows an admin
    store = AuthStore(log.url)
    store.add_user("fuzz-admin", "admin", secrets.token_urlsafe(24))
    token = store.add_token("fuzz", "admin", "fuzz-admin").secret
    audit = AuditTrail(CloudRecorder(log, status, AUDIT_SOURCE, clock=clock))
    web = WebServer(
        status.snapshot,
        log.dead_letters,
        port=0,
        status=status,
        master=master,
        corrections=recorder,
        replanner=replanner,
        desk=OrderDesk(replanner, policy="new"),
        auth=WebAuth(store, audit),
    )
    return web.start(), token


def _rest(folder: Path) -> OneInput:
    web, token = _server(folder)
    address = urlsplit(web.url)
    host, port = address.hostname, address.port
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)

    def one_input(data: bytes) -> None:
        nonlocal connection
        method, path = ROUTES[data[0] % len(ROUTES)] if data else ROUTES[0]
        body = data[1:]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError) as exc:
            connection.close()
            connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
            message = f"{method} {path}: the server dropped the request: {exc!r}"
            raise AssertionError(message) from exc
        if response.status >= 500:
            raise AssertionError(f"{method} {path} answered {response.status}: {raw[:300]!r}")
        if "json" in (response.getheader("Content-Type") or ""):
            json.loads(raw)
        if response.getheader("Connection", "").lower() == "close" or response.will_close:
            connection.close()
            connection = http.client.HTTPConnection(str(host), int(port), timeout=10)

    return one_input


def rest_seeds() -> list[bytes]:
    orders = (EXAMPLES / "harness_orders.json").read_bytes()
    plant = (EXAMPLES / "harness_plant_monitoring.json").read_bytes()
    correction = {
        "correction": "scrap",
        "by": "anna",
        "reason": "counted",
        "at": "2026-03-23T05:30:00Z",
        "station": "crimp-01",
        "tag": None,
        "value": 3,
        "voids": None,
    }
    return [
        b"\x00" + orders,
        b"\x00" + b'{"orders": [], "cancel": 5}',
        b"\x01" + json.dumps(correction).encode(),
        b"\x02" + plant,
        b"\x02" + plant.replace(b'"slot_minutes": 1', b'"slot_minutes": NaN'),
        b"\x03" + b'[{"id": "crimp-09", "kind": "machine", "calendar": "two-shift"}]',
        b"\x05" + b'{"decision": "new"}',
        b"\x06" + b'{"on": true}',
        b"\x07" + b'{"start": "0001-01-01T00:00:00Z", "resource": "crimp-01"}',
    ]


TARGETS = (Target("rest", "REST bodies against the web server", _rest, rest_seeds, 0.1),)
