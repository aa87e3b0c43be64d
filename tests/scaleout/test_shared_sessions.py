"""Sessions and the login throttle in the database (`cloud.auth.shared`), shared by replicas.

Two instances stand for two web processes on one database; a clock passed in moves time.
Through a real SQLite file and a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from cloud import schema
from cloud.auth.shared import TOUCH_S, SharedSessions, SharedThrottle
from cloud.store import EventLog


class Clock:
    """Wall seconds the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def url(database: str) -> str:
    with EventLog(database) as log:  # migrated, as every cloud process does at start
        return log.url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(url: str, clock: Clock) -> Iterator[tuple[SharedSessions, SharedSessions]]:
    a, b = (SharedSessions(url, lifetime_s=10_000, idle_s=3600, clock=clock) for _ in "ab")
    yield a, b
    a.close_all()
    b.close_all()


def test_a_session_opened_on_one_process_holds_on_another(
    sessions: tuple[SharedSessions, SharedSessions], url: str
) -> None:
    a, b = sessions
    opened = a.open("pia")
    found = b.get(opened.id)
    assert found is not None and (found.user, found.csrf) == ("pia", opened.csrf)
    assert b.get("not-a-session") is None and b.get("") is None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(schema.web_sessions.c.id_sha256)).scalars().all()
    finally:
        engine.dispose()
    assert stored and opened.id not in stored  # only its hash: a reader cannot log in
    b.close(opened.id)  # logout on b
    assert a.get(opened.id) is None


def test_sessions_end_idle_or_old_and_with_their_user(
    sessions: tuple[SharedSessions, SharedSessions], clock: Clock
) -> None:
    a, b = sessions
    idle, busy, other = a.open("pia"), a.open("pia"), a.open("sam")
    for _ in range(3):  # used every 50 minutes: the idle deadline moves on
        clock.now += 3000
        assert b.get(busy.id) is not None
    assert a.get(idle.id) is None  # unused for 150 minutes
    clock.now += 2999  # 11,999 s after login: past the lifetime, though used lately
    assert b.get(busy.id) is None
    fresh = a.open("pia")
    b.close_user("pia")  # disabled or reset
    assert a.get(fresh.id) is None
    assert a.get(other.id) is None  # sam's ended idle meanwhile too
    kept = a.open("sam")
    clock.now += TOUCH_S / 2  # read within TOUCH_S: no write needed, still live
    assert b.get(kept.id) is not None


def test_failed_logins_count_across_processes(url: str, clock: Clock) -> None:
    a, b = (
        SharedThrottle(url, per_account=3, per_address=5, window_s=900, clock=clock) for _ in "ab"
    )
    try:
        a.failed("sam", "10.0.0.1")
        b.failed("sam", "10.0.0.2")
        assert a.wait_s("sam", "10.0.0.3") == 0
        clock.now += 100
        a.failed("sam", "10.0.0.1")
        assert b.wait_s("sam", "10.0.0.9") == pytest.approx(800)  # the oldest ages out then
        assert a.wait_s("pia", "10.0.0.9") == 0  # another account, another address
        b.succeeded("sam")  # the right password clears the account's count
        assert a.wait_s("sam", "10.0.0.9") == 0
        for n in range(3):
            b.failed(f"guess-{n}", "10.0.0.1")  # five from one address in all
        assert a.wait_s("pia", "10.0.0.1") > 0
        clock.now += 900  # past the window: every failure aged out
        assert a.wait_s("pia", "10.0.0.1") == 0 == b.wait_s("sam", "10.0.0.2")
    finally:
        a.close_all()
        b.close_all()
