"""Every documented GET route answers its times on the plant's clock: ISO 8601 with its offset.

On a demo-like cloud (tests/web/demo_cloud.py: the demo's plant in Europe/Berlin, its floor
since 40 minutes, crimp-02 broken down, the lorry on its way, twelve orders planned), each GET
operation of docs/openapi.yaml is asked as an admin — path parameters filled from the demo (a
machine, an order), required queries given — and every string of every JSON answer that is a
time must carry Berlin's offset at that moment, never `Z` or +00:00; the plan also through its
own gzip encoding, and the status also as the live push sends it. The one documented exception,
the supplier's call-off document as sent (its schema: UTC), is checked to be that.
"""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import yaml

from cloud.web.zoned import PlantZone
from demo.plant import TIMEZONE
from demo.plant_model import SUPPLIER
from tests.conftest import started_mosquitto
from tests.sync.harness import wait_for
from tests.web.auth import ADMIN
from tests.web.demo_cloud import BROKEN, DemoCloud, demo_cloud

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).parents[2]
ZONE: Final = ZoneInfo(TIMEZONE)
#: Any string that is a date and time (with or without an offset).
TIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?\Z"
)
#: Operations that answer no JSON document (a stream, Prometheus text, CSV files).
NOT_JSON: Final = {"/api/events", "/metrics", "/api/report.csv", "/api/calloffs/{supplier}/csv"}
#: The supplier's call-off document, answered exactly as sent (calloff.schema.json: UTC, `Z`).
AS_SENT: Final = "/api/calloffs/{supplier}"
#: Routes that must hold times on the demo (a walk finding none there proves nothing).
TIMED: Final = {
    "/api/status", "/api/machines/{station}", "/api/andon", "/api/plan", "/api/plan/state",
    "/api/gaps", "/api/gaps/view", "/api/report", "/api/report/period", "/api/history/status",
    "/api/plan/orders/{order}/causes", "/api/plan/orders/{order}/rootcause",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCloud]:
    with (
        started_mosquitto() as broker,
        demo_cloud(tmp_path_factory.mktemp("demo"), broker.url) as running,
    ):
        yield running


def _get(demo: DemoCloud, path: str, **headers: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        demo.url.rstrip("/") + path, headers={**demo.grants.bearer(ADMIN, "admin"), **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def _times(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if TIME.match(value):
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _times(key)
            yield from _times(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times(item)


def _off_the_plant_clock(value: Any) -> list[str]:
    """The time strings of `value` that are not ISO 8601 with Berlin's offset at that moment."""
    wrong = []
    for text in _times(value):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if text.endswith("Z") or moment.utcoffset() != moment.astimezone(ZONE).utcoffset():
            wrong.append(text)
    return wrong


def _path(demo: DemoCloud, template: str) -> str:
    assert demo.cloud.replanner is not None
    order = demo.cloud.replanner.gap_report["orders"][0]["order"]  # a late order of the demo
    filled = {"{station}": BROKEN, "{order}": order, "{supplier}": SUPPLIER}
    path = template
    for key, value in filled.items():
        path = path.replace(key, value)
    now = datetime.now().astimezone(ZONE)
    asked = {
        "/api/report": f"from={quote(demo.start.isoformat())}&to={quote(now.isoformat())}",
        "/api/history/status": f"at={quote((now - timedelta(minutes=5)).isoformat())}",
        "/api/stockouts/rootcause": "material=wire-0.50-blue&point=cut-01",
    }
    return f"{path}?{asked[template]}" if template in asked else path


def test_every_documented_get_answers_times_with_the_plant_s_offset(demo: DemoCloud) -> None:
    assert demo.cloud.replanner is not None
    wait_for(lambda: bool(demo.cloud.replanner and demo.cloud.replanner.gap_report["orders"]),
             30, "the demo's plan with its late orders")  # fmt: skip
    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    found: dict[str, int] = {}
    for template, operations in spec["paths"].items():
        if "get" not in operations or template in NOT_JSON:
            continue
        code, kind, body = _get(demo, _path(demo, template))
        assert code < 500, (template, code, body[:300])
        if "json" not in kind:
            continue
        document = json.loads(body)
        times = list(_times(document))
        if template == AS_SENT and code == 200:
            assert times and all(t.endswith("Z") for t in times), times[:5]
            continue
        assert _off_the_plant_clock(document) == [], (template, _off_the_plant_clock(document)[:5])
        found[template] = len(times)
    missing = {t for t in TIMED if not found.get(t)}
    assert not missing, (missing, found)
    assert sum(found.values()) > 500, found
    # The plan as its own gzip encoding (made once per plan), and the status as pushed live.
    code, _, packed = _get(demo, "/api/plan", **{"Accept-Encoding": "gzip"})
    plan = json.loads(gzip.decompress(packed))
    assert code == 200 and list(_times(plan)) and _off_the_plant_clock(plan) == []
    pushed = _first_status_push(demo)
    assert list(_times(pushed)) and _off_the_plant_clock(pushed) == []


def _first_status_push(demo: DemoCloud) -> Any:
    request = urllib.request.Request(
        demo.url.rstrip("/") + "/api/events", headers=demo.grants.bearer(ADMIN, "admin")
    )
    with urllib.request.urlopen(request, timeout=30) as stream:
        event = None
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "status":
                return json.loads(line[6:])
    raise AssertionError("the event stream ended without a status push")


def test_inputs_take_any_iso_form_and_answer_on_the_plant_s_clock(demo: DemoCloud) -> None:
    """The same moment asked as UTC (`Z`) or with another offset gets the same answer."""
    now = datetime.now().astimezone(ZONE).replace(microsecond=0) - timedelta(minutes=5)
    answers = []
    utc = now.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    for text in (now.isoformat(), utc, now.astimezone(ZoneInfo("America/New_York")).isoformat()):
        code, _, body = _get(demo, f"/api/andon?at={quote(text)}")
        assert code == 200, body[:300]
        answers.append(json.loads(body)["now"])
    assert answers == [now.isoformat()] * 3


def test_a_document_s_utc_times_and_nothing_else_move_to_the_plant_s_clock() -> None:
    """Winter and summer offsets, precision kept, keys too; ids, texts and escapes untouched."""
    zone = PlantZone(lambda: TIMEZONE)
    document = {
        "winter": "2026-03-23T06:30:00Z",
        "summer": "2026-07-23T06:30:00.250000+00:00",
        "ms": "2026-03-23T06:30:00.250Z",
        "2026-03-23T06:30:00Z": "a key",
        "id": "stop:crimp-02:2026-03-23T06:30:00Z",
        "quoted": 'said "2026-03-23T06:30:00Z"',
        "local": "2026-03-23T07:30:00+01:00",
        "day": "2026-03-23",
        "list": ["2026-03-23T06:30Z", 1.5, None],
    }
    shown = json.loads(zone.encode(document))
    assert shown == {
        "winter": "2026-03-23T07:30:00+01:00",
        "summer": "2026-07-23T08:30:00.250000+02:00",
        "ms": "2026-03-23T07:30:00.250+01:00",
        "2026-03-23T07:30:00+01:00": "a key",
        "id": "stop:crimp-02:2026-03-23T06:30:00Z",
        "quoted": 'said "2026-03-23T06:30:00Z"',
        "local": "2026-03-23T07:30:00+01:00",
        "day": "2026-03-23",
        "list": ["2026-03-23T07:30:00+01:00", 1.5, None],
    }
    assert json.loads(PlantZone(lambda: None).encode({"t": "2026-03-23T06:30:00Z"})) == {
        "t": "2026-03-23T06:30:00+00:00"  # no plant model: UTC, still with its offset
    }
