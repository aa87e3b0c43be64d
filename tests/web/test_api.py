"""The REST API and the live push, over real HTTP on a free port."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from cloud.web import PAGES, served_routes
from tests.web.app import Stack, monitoring_stack

ROOT = Path(__file__).parents[2]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with monitoring_stack(tmp_path) as running:
        yield running


def call(
    stack: Stack,
    method: str,
    path: str,
    body: bytes | None = None,
    kind: str = "application/json",
    who: tuple[str, str] = ("ada", "admin"),
) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.web.url.rstrip("/") + path, data=body, method=method.upper(),
        headers={"Content-Type": kind, **stack.grants.bearer(*who)},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            code = response.status
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raw, code, kind = error.read(), error.code, error.headers.get("Content-Type", "")
    return code, json.loads(raw) if "json" in kind else raw.decode()


def test_openapi_paths_and_served_routes_agree(stack: Stack) -> None:
    document = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == served_routes(stack.web.app)
    for method, path in sorted(documented):
        if path == "/api/events":
            continue  # a stream: see test_status_is_pushed_on_change
        concrete = path.replace("{station}", "crimp-01").replace("{section}", "tags")
        code, body = call(stack, method, concrete, b"[]" if method != "get" else None)
        assert code != 404 or "no such" not in str(body), (method, path)
    for page in PAGES:
        code, body = call(stack, "get", page.replace("{station}", "crimp-01"))
        assert code == 200 and "<title>Taktline" in body
    assert call(stack, "get", "/api/nothing")[0] == 404


def test_status_is_pushed_on_change(stack: Stack) -> None:
    with urllib.request.urlopen(stack.web.url + "api/events", timeout=10) as stream:
        first = _next_status(stream)
        assert first["machines"]["crimp-01"]["state"] == "IDLE"
        stack.feed("machine.signal", {"signal": "run", "on": True}, 1, station="crimp-01")
        began = time.monotonic()
        pushed = _next_status(stream)
        while pushed["machines"]["crimp-01"]["state"] != "RUNNING":
            pushed = _next_status(stream)
        assert time.monotonic() - began < 5


def _next_status(stream: Any) -> dict[str, Any]:
    data = None
    while True:
        line = stream.readline().decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return data  # type: ignore[no-any-return]


def test_a_correction_through_the_api(stack: Stack) -> None:
    stack.feed("badge.read", {"tag": "04D4E5F6"}, 0, station="crimp-01")
    correction = {
        "correction": "badge_out", "reason": "forgot", "station": "crimp-01",
        "tag": "04D4E5F6", "at": "2026-03-23T06:30:00Z",
    }  # fmt: skip
    kim = ("kim", "supervisor")
    code, stored = call(stack, "post", "/api/corrections", json.dumps(correction).encode(), who=kim)
    assert code == 201 and stored["type"] == "correction" and stored["payload"]["by"] == "kim"
    # In the cloud's own log with the audit of the request; the fed events were folded only.
    assert stack.log.count() == 2
    code, listed = call(stack, "get", "/api/corrections")
    assert listed[-1]["by"] == "kim"
    assert call(stack, "get", "/api/status")[1]["labour"]["04D4E5F6"]["status"] == "idle"
    code, refused = call(stack, "post", "/api/corrections", b'{"correction": "nap"}', who=kim)
    assert code == 422 and "choose what to correct ('nap' is not a kind)" in refused["detail"]
    for wrong, said in (  # errors in words: no regular expression, no character limit
        ({**correction, "reason": " "}, "say why you make this correction"),
        ({**correction, "at": "yesterday"}, "'yesterday' is not a date and time: enter a date"),
        ({**correction, "tag": None}, "needs the operator"),
        ({**correction, "correction": "cycles", "value": -3}, "a whole number from 1"),
    ):
        code, refused = call(stack, "post", "/api/corrections", json.dumps(wrong).encode(), who=kim)
        assert code == 422 and said in refused["detail"], refused
        assert "^" not in refused["detail"] and "characters" not in refused["detail"]
    named = json.dumps({**correction, "by": "someone else"}).encode()
    code, refused = call(stack, "post", "/api/corrections", named, who=kim)
    assert code == 422 and "by" in refused["detail"]  # who acts is never the body's to say
    before = stack.log.count()
    for wrong, said in (
        ({**correction, "station": "cut-1"}, "station 'cut-1' is not known"),
        ({**correction, "correction": "tool_location", "value": "shelf-9"}, "place 'shelf-9'"),
    ):
        code, refused = call(stack, "post", "/api/corrections", json.dumps(wrong).encode(), who=kim)
        assert code == 422 and said in refused["detail"] and "crimp-01" in refused["detail"]
    assert stack.log.count() - before == 2  # only the audit of each refusal, no correction
    assert [c["station"] for c in call(stack, "get", "/api/corrections")[1]] == ["crimp-01"]
    # A time without an offset is the plant's wall clock; one with an offset is taken as given.
    plant_time = {**correction, "at": "2026-03-23 07:45"}
    code, stored = call(stack, "post", "/api/corrections", json.dumps(plant_time).encode(), who=kim)
    zone = ZoneInfo(call(stack, "get", "/api/corrections/choices")[1]["timezone"])
    wall = datetime(2026, 3, 23, 7, 45, tzinfo=zone)
    assert code == 201 and stored["payload"]["at"] == wall.isoformat(timespec="microseconds")
    offset = {**correction, "at": "2026-03-23T08:00:00+02:00"}
    code, stored = call(stack, "post", "/api/corrections", json.dumps(offset).encode(), who=kim)
    assert code == 201 and stored["payload"]["at"] == "2026-03-23T07:00:00.000000+01:00"


def test_the_correction_form_s_choices_come_from_master_data(stack: Stack) -> None:
    code, offered = call(stack, "get", "/api/corrections/choices")
    assert code == 200
    master = stack.status.master
    assert {s["station"] for s in offered["machines"]} == set(master.machines)
    badges = {t for t, e in master.tags.items() if e.kind == "badge"}
    assert {o["tag"] for o in offered["operators"]} == badges and badges
    assert all(o["name"] != o["tag"] for o in offered["operators"])  # by name, not hex
    assert {p["place"] for p in offered["places"]} >= {"crib", *master.machines}
    assert "breakdown" in offered["stop_reasons"]


def test_master_rows_by_csv_with_row_errors(stack: Stack) -> None:
    csv_text = b"id,calendar,skills\nOP-EVA,two-shift,crimp\nOP-X,nowhere,crimp\n"
    code, body = call(stack, "post", "/api/master/operators", csv_text, "text/csv")
    assert code == 422
    assert body["errors"] == [
        {"row": 3, "column": "calendar", "reason": "unknown calendar 'nowhere'"}
    ]
    code, body = call(stack, "post", "/api/master/operators", csv_text[:-22], "text/csv")
    assert (code, body) == (200, {"applied": 1})
    document = call(stack, "get", "/api/master")[1]
    assert any(r["id"] == "OP-EVA" for r in document["resources"])
    code, body = call(stack, "put", "/api/master", json.dumps({"site": ""}).encode())
    assert code == 422 and body["errors"]


def test_machine_detail_has_the_timeline(stack: Stack) -> None:
    stack.feed("job.ticket", {"tag": "0A000001", "action": "start"}, 0, station="crimp-01")
    stack.feed("machine.signal", {"signal": "run", "on": True}, 1, station="crimp-01")
    code, machine = call(stack, "get", "/api/machines/crimp-01")
    assert code == 200
    assert [s["state"] for s in machine["timeline"]] == ["STOPPED", "RUNNING"]
    assert call(stack, "get", "/api/machines/nowhere-9")[0] == 404
    assert re.match(r"^http://127\.0\.0\.1:\d+/$", stack.web.url)
