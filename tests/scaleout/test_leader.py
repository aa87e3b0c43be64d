"""The planner lock: one leader per site on PostgreSQL, taken over when the holder goes."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from cloud.errors import ConfigError
from cloud.roles import LeaderLock, check_role, leader_url, planner_lock_key, reachable
from cloud.store import EventLog


def test_one_planner_leads_per_site_and_a_standby_takes_over(postgres_url: str) -> None:
    a, b = (
        LeaderLock(postgres_url, planner_lock_key("plant1")),
        LeaderLock(postgres_url, planner_lock_key("plant1")),
    )
    other = LeaderLock(postgres_url, planner_lock_key("plant2"))
    try:
        assert a.try_acquire() and a.held()
        assert not b.try_acquire() and not b.held()  # a standby
        assert other.try_acquire() and other.held()  # another site elects its own
        a.release()  # the leader's session ends (as when it is killed)
        assert b.try_acquire() and b.held()
    finally:
        for lock in (a, b, other):
            lock.release()


@pytest.mark.parametrize("role", ["ingest", "planner", "web"])
def test_scale_out_roles_refuse_sqlite(role: str) -> None:
    with pytest.raises(ConfigError, match="scale-out needs PostgreSQL"):
        check_role(role, "taktline-cloud.db")
    assert check_role("all", "taktline-cloud.db") == "all"


def test_the_leaders_web_address_is_followed_only_while_it_holds_the_lock(
    postgres_url: str,
) -> None:
    EventLog(postgres_url).close()  # migrated, as every cloud process does at start
    key = planner_lock_key("plant1")
    a, b = LeaderLock(postgres_url, key), LeaderLock(postgres_url, key)
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert leader_url(conn, key) is None  # nobody leads
            assert a.try_acquire()
            a.advertise("http://planner-a:8080/")
            assert leader_url(conn, key) == "http://planner-a:8080/"
            assert leader_url(conn, planner_lock_key("plant2")) is None  # another site's
            assert not b.try_acquire()
            b.advertise("http://planner-b:8080/")  # a standby holds nothing: writes nothing
            assert leader_url(conn, key) == "http://planner-a:8080/"
            a.release()  # the leader's session ends: its row is no longer followed
            assert leader_url(conn, key) is None
            assert b.try_acquire()
            b.advertise("http://planner-b:8080/")
            assert leader_url(conn, key) == "http://planner-b:8080/"
    finally:
        engine.dispose()
        for lock in (a, b):
            lock.release()


def test_a_wildcard_bind_is_advertised_by_this_hosts_name() -> None:
    assert reachable("http://10.0.0.5:8080/") == "http://10.0.0.5:8080/"
    named = reachable("http://0.0.0.0:8080/")
    assert named == f"http://{socket.getfqdn()}:8080/" and "0.0.0.0" not in named
