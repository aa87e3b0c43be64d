"""`GET /api/history/status`: the status at a past moment or position, over the real app."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from cloud.status import ResourceStatus
from cloud.store import EventLog
from cloud.timetravel import TimeTravel
from cloud.web.app import create_app
from cloud.web.guard import WebAuth
from cloud.web.parts import WebParts
from tests.store.plant_log import log_of, moment
from tests.web.times import utc


def _client(log: EventLog, status: ResourceStatus, *, public_read: bool = True) -> TestClient:
    parts = WebParts(
        status.snapshot,
        log.dead_letters,
        status=status,
        history=TimeTravel(log),
        auth=WebAuth(public_read=public_read, allowed_hosts=frozenset({"testserver"})),
    )
    return TestClient(create_app(parts))


def test_a_moment_answers_the_status_the_cloud_knew_then(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 2_000)
        status = ResourceStatus()
        status.rebuild(log.replay())
        then = ResourceStatus()
        then.rebuild(log.replay(until=501))
        with _client(log, status) as client:
            # 06:00:00.500 in Berlin's winter time is 06:00:00.500+01:00 = 05:00 UTC: before the log
            early = client.get("/api/history/status", params={"at": "2026-11-23T06:00:00.5+01:00"})
            assert early.status_code == 200 and early.json()["moment"]["position"] == 0
            answer = client.get("/api/history/status", params={"at": "2026-11-23T07:00:00.5+01:00"})
            assert answer.status_code == 200
            shown = answer.json()
            assert shown["moment"]["position"] == 501
            assert utc(shown["moment"]["received_at"]) == moment(500, 6)
            expected = then.snapshot(datetime(2026, 11, 23, 6, 0, 0, 500_000, tzinfo=UTC))
            assert utc(shown["machines"]) == expected["machines"]
            assert any(m["cycles"] for m in shown["machines"].values())
            by_position = client.get("/api/history/status", params={"position": "501"}).json()
            assert by_position["machines"] == shown["machines"]
            now = client.get("/api/status").json()
            assert now["applied"] == 2_000 and shown["applied"] == 501


def test_bad_questions_get_clear_answers(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 100)
        status = ResourceStatus()
        with _client(log, status) as client:
            for params, words in (
                ({}, "either at=TIME or position=N"),
                ({"at": "x", "position": "1"}, "either at=TIME or position=N"),
                ({"at": "yesterday"}, "a time with its offset"),
                ({"at": "2026-11-23T07:00:00"}, "a time with its offset"),
                ({"position": "-3"}, "a log position"),
            ):
                answer = client.get("/api/history/status", params=params)
                assert answer.status_code == 400, params
                assert words in answer.json()["detail"], answer.json()
        with _client(log, status, public_read=False) as client:
            assert client.get("/api/history/status", params={"position": "1"}).status_code == 401
