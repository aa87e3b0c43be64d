"""A planning cloud for the web tests: a real CloudService with a small plant and orders.

Two crimpers in one group, ten 30-minute orders due within about three hours (both crimpers are
needed, so losing one makes a gap), a real Mosquitto for the schedules, the web server on a free
port, the system clock (the planner's "now" is real time).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from cloud.replan.intake import Policy
from cloud.service import CloudService, CloudSettings
from taktline.clock import SystemClock, utc_iso
from tests.web.auth import Grants

SITE = "plant1"
STATIONS = ("crimp-01", "crimp-02")
ORDERS = [f"O-{n}" for n in range(10)]


def write_plant(folder: Path) -> Path:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {"id": "crimp", "per_unit_min": 1, "holds": [{"group": "crimpers"}]}
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [always],
        "resources": [{"id": s, "kind": "machine", "calendar": "always"} for s in STATIONS],
        "groups": [{"id": "crimpers", "kind": "machine", "members": list(STATIONS)}],
        "products": [{"id": "P", "steps": [step]}],
    }  # fmt: skip
    path = folder / "plant.json"
    path.write_text(json.dumps(plant))
    return path


def iso(moment: datetime) -> str:
    return utc_iso(moment)[:19] + "Z"


def write_orders(folder: Path, now: datetime, ids: list[str] = ORDERS) -> Path:
    orders = []
    for n, oid in enumerate(ids):
        due = iso(now + timedelta(minutes=60 + 15 * n))
        orders.append({"id": oid, "product": "P", "quantity": 30, "due": due})
    path = folder / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    return path


@contextmanager
def planning_cloud(
    folder: Path,
    broker_url: str,
    *,
    policy: Policy = "ask",
    orders: list[str] = ORDERS,
    public_read: bool = True,
) -> Iterator[CloudService]:
    """A started cloud that plans `orders` on two crimpers; its web server on a free port.

    Its users and tokens are those of tests/web/auth.py (`GRANTS`); reads are open by default.
    """
    now = SystemClock().now()
    settings = CloudSettings(
        database=folder / "cloud.db", broker=broker_url, site=SITE, web_port=0,
        plant=write_plant(folder), orders=write_orders(folder, now, orders), frozen_minutes=0,
        order_policy=policy, public_read=public_read,
    )  # fmt: skip
    with CloudService(settings, clock=SystemClock()) as cloud:
        GRANTS[id(cloud)] = Grants(settings.database)
        try:
            yield cloud
        finally:
            GRANTS.pop(id(cloud)).close()


#: The users and tokens of each running `planning_cloud` (by the service's id).
GRANTS: dict[int, Grants] = {}


def call(
    cloud: CloudService,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    user: str | None = "kim",
    role: str = "planner",
) -> tuple[int, Any, Message]:
    """One HTTP request to the cloud's web server; returns (code, JSON or text, headers).

    It acts as `user` with `role` by an API token (None: anonymously). The headers are
    case-insensitive, as HTTP's are.
    """
    assert cloud.web is not None
    if user is not None:
        headers = {**GRANTS[id(cloud)].bearer(user, role), **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        cloud.web.url.rstrip("/") + path, data=data, method=method.upper(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, code, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, code, got = error.read(), error.code, error.headers
    kind = got.get("Content-Type", "")
    return code, json.loads(raw) if "json" in kind else raw.decode(), got
