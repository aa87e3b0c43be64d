"""The planner lock: one leader per site on PostgreSQL, taken over when the holder goes."""

from __future__ import annotations

import pytest

from cloud.errors import ConfigError
from cloud.roles import LeaderLock, check_role, planner_lock_key


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


@pytest.mark.parametrize("role", ["ingest", "planner"])
def test_scale_out_roles_refuse_sqlite(role: str) -> None:
    with pytest.raises(ConfigError, match="scale-out needs PostgreSQL"):
        check_role(role, "taktline-cloud.db")
    assert check_role("all", "taktline-cloud.db") == "all"
