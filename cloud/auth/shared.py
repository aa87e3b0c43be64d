"""Sessions and the login throttle kept in the cloud database, shared by every web process.

With web replicas (`taktline cloud --role web`, docs/deployment.md "Scale-out") a browser's
requests reach whichever process the load balancer picks: a login on one must hold on the
others, and failed logins must count against the limit wherever they were tried. So the
scale-out roles keep both in PostgreSQL (tables `web_sessions` and `login_failures`) instead of
memory (`cloud.auth.sessions`), with the same rules and the same methods:

- a session id is 32 random bytes; only its SHA-256 is stored (a database reader cannot log
  in with what it reads), beside the user, the CSRF token and two deadlines in Unix seconds
  (`SESSION_S` after login, `IDLE_S` after the last use). The idle deadline is written again
  at most once every `TOUCH_S` of use, so reading pages does not write a row per request;
- a failed login is a row per key (`u:ACCOUNT`, `a:ADDRESS`); the limit is counted over the
  rows of the last `window_s`, and rows older than that are deleted as new failures come.

The clock is wall time (`time.time`), the one all processes share; a test passes its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.auth.sessions import IDLE_S, SESSION_S, Session

__all__ = ["TOUCH_S", "SharedSessions", "SharedThrottle"]

#: A session's idle deadline is moved on at most this often (seconds of use).
TOUCH_S: Final = 60.0
_T = schema.web_sessions
_F = schema.login_failures


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _engine(url: str) -> sa.Engine:
    args: dict[str, Any] = {"timeout": 10} if url.startswith("sqlite") else {}
    return sa.create_engine(url, connect_args=args, pool_pre_ping=True)


class SharedSessions:
    """Sessions by id in the database at `url` (migrated already: `EventLog` does that)."""

    def __init__(
        self,
        url: str,
        *,
        lifetime_s: float = SESSION_S,
        idle_s: float = IDLE_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self._clock = clock or time.time
        self._engine = _engine(url)

    def close_all(self) -> None:
        """Closes the database connections (the sessions stay in the database)."""
        self._engine.dispose()

    def open(self, user: str) -> Session:
        """A new session for `user`; the expired sessions of everyone are swept meanwhile."""
        now = self._clock()
        session = Session.new(user, now, self.lifetime_s, self.idle_s)
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_T).where(sa.or_(_T.c.expires <= now, _T.c.idle_until <= now)))
            conn.execute(
                sa.insert(_T).values(
                    id_sha256=_sha256(session.id),
                    user_name=user,
                    csrf=session.csrf,
                    expires=session.expires,
                    idle_until=session.idle_until,
                )
            )
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session of that id (its idle time restarts), or None."""
        if not session_id:
            return None
        now = self._clock()
        key = _sha256(session_id)
        query = sa.select(_T.c.user_name, _T.c.csrf, _T.c.expires, _T.c.idle_until).where(
            _T.c.id_sha256 == key
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if now >= row.expires or now >= row.idle_until:
            self.close(session_id)
            return None
        idle_until = float(row.idle_until)
        if now + self.idle_s - idle_until >= min(TOUCH_S, self.idle_s / 2):
            idle_until = now + self.idle_s
            with self._engine.begin() as conn:
                conn.execute(
                    sa.update(_T).where(_T.c.id_sha256 == key).values(idle_until=idle_until)
                )
        return Session(session_id, row.user_name, row.csrf, float(row.expires), idle_until)

    def close(self, session_id: str) -> None:
        """Ends a session (logout), on every web process."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_T).where(_T.c.id_sha256 == _sha256(session_id)))

    def close_user(self, user: str) -> None:
        """Ends every session of `user` (disabled, reset)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_T).where(_T.c.user_name == user))


class SharedThrottle:
    """Failed logins per account and per address over a sliding window, in the database."""

    def __init__(
        self,
        url: str,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window_s: float = 900.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self._clock = clock or time.time
        self._engine = _engine(url)

    def close_all(self) -> None:
        """Closes the database connections."""
        self._engine.dispose()

    def wait_s(self, account: str, address: str) -> float:
        """Seconds until a login of `account` from `address` is taken again (0: now)."""
        now = self._clock()
        wait = 0.0
        with self._engine.connect() as conn:
            for key, limit in (
                (f"u:{account}", self.per_account),
                (f"a:{address}", self.per_address),
            ):
                query = (
                    sa.select(_F.c.at)
                    .where(_F.c.key == key, _F.c.at > now - self.window_s)
                    .order_by(_F.c.at.desc())
                    .limit(limit)
                )
                times = conn.execute(query).scalars().all()
                if len(times) >= limit:
                    wait = max(wait, self.window_s - (now - float(times[-1])))
        return wait

    def failed(self, account: str, address: str) -> None:
        """Counts a failed login (and forgets failures older than the window)."""
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_F).where(_F.c.at <= now - self.window_s))
            conn.execute(
                sa.insert(_F),
                [{"key": f"u:{account}", "at": now}, {"key": f"a:{address}", "at": now}],
            )

    def succeeded(self, account: str) -> None:
        """A right password clears the account's count (not the address's)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(_F).where(_F.c.key == f"u:{account}"))
