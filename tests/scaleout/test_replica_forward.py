"""What a web replica sends on to the leading planner, and the 503s when it cannot.

`LeaderForward` in front of a small application that answers "served here", with the leader's
address written beside a real planner lock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cloud.roles import LeaderLock, planner_lock_key
from cloud.store import EventLog
from cloud.web.replica import FORWARDED_HEADER, LeaderForward, Leaders, forwarded
from taktline.private_broker import free_port


@pytest.mark.parametrize(
    ("method", "path", "sent_on"),
    [
        ("POST", "/api/orders", True),
        ("POST", "/api/decisions/O-1", True),
        ("POST", "/api/manual", True),
        ("POST", "/api/corrections", True),
        ("POST", "/api/andon/acks", True),
        ("POST", "/api/whatif/promote", True),
        ("PUT", "/api/master", True),
        ("GET", "/api/plan/state", True),
        ("GET", "/api/decisions", True),
        ("GET", "/api/plan/orders/O-1/rootcause", True),
        ("POST", "/api/login", False),
        ("POST", "/api/logout", False),
        ("POST", "/api/tokens", False),
        ("DELETE", "/api/tokens/0123456789abcdef", False),
        ("GET", "/api/plan", False),
        ("GET", "/api/gaps", False),
        ("GET", "/api/status", False),
        ("GET", "/api/events", False),
    ],
)
def test_what_a_replica_sends_on(method: str, path: str, sent_on: bool) -> None:
    assert forwarded(method, path) is sent_on


async def _here(request: Request) -> PlainTextResponse:
    return PlainTextResponse("served here")


@pytest.fixture
def replica(postgres_url: str) -> Iterator[tuple[TestClient, LeaderLock]]:
    EventLog(postgres_url).close()  # migrated
    key = planner_lock_key("plant1")
    leaders = Leaders(postgres_url, key)
    inner = Starlette(routes=[Route("/{path:path}", _here, methods=["GET", "POST"])])
    lock = LeaderLock(postgres_url, key)
    with TestClient(LeaderForward(inner, leaders, "web-test")) as client:
        yield client, lock
    lock.release()
    leaders.close()


def test_without_a_leader_or_an_answer_a_change_is_refused_in_words(
    replica: tuple[TestClient, LeaderLock],
) -> None:
    client, lock = replica
    assert client.get("/api/status").text == "served here"  # a replica's own read
    assert client.post("/api/login", json={}).text == "served here"
    nobody = client.post("/api/manual", json={"on": True})
    assert nobody.status_code == 503 and nobody.headers["Retry-After"] == "5"
    assert "no planner leads now" in nobody.json()["detail"]
    assert "the change was not made" in nobody.json()["detail"]
    assert lock.try_acquire()
    lock.advertise(f"http://127.0.0.1:{free_port()}/")  # a leader whose web is not up
    gone = client.post("/api/manual", json={"on": True})
    assert gone.status_code == 503
    assert "does not answer" in gone.json()["detail"]
    assert "the change was not made" in gone.json()["detail"]
    read = client.get("/api/plan/state")
    assert read.status_code == 503 and "try again" in read.json()["detail"]


def test_a_request_from_a_replica_is_not_sent_on_again(
    replica: tuple[TestClient, LeaderLock],
) -> None:
    client, _ = replica
    looped = client.post("/api/orders", json={}, headers={FORWARDED_HEADER: "web-other"})
    assert looped.status_code == 508
    assert "leads to a replica" in looped.json()["detail"]
