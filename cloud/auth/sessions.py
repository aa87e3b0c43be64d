"""Sessions of logged-in browsers, and the throttle that slows password guessing.

A session is a random id (the cookie) with its user, a CSRF token (sent back by the pages in the
`X-CSRF-Token` header of every state-changing request) and an expiry: `SESSION_S` after login,
or `IDLE_S` after its last use, whichever comes first. Sessions live in memory: a restart logs
everyone out. The throttle counts failed logins per account and per client address over
`WINDOW_S`; past the limit a login is refused (429) until the window's oldest failure ages out.
Both are one process's; the scale-out roles keep them in the database instead, with the same
rules, so that every web replica shares them (`cloud.auth.shared`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["IDLE_S", "SESSION_S", "LoginThrottle", "Session", "Sessions"]

SESSION_S: Final = 8 * 3600.0
IDLE_S: Final = 3600.0
MAX_SESSIONS: Final = 10_000


@dataclass
class Session:
    """One logged-in browser."""

    id: str
    user: str
    csrf: str
    expires: float
    idle_until: float = field(default=0.0)

    @classmethod
    def new(cls, user: str, now: float, lifetime_s: float, idle_s: float) -> Session:
        """A fresh session of `user` at `now`: random id and CSRF token, both deadlines set."""
        return cls(
            secrets.token_urlsafe(32),
            user,
            secrets.token_urlsafe(32),
            now + lifetime_s,
            now + idle_s,
        )


class Sessions:
    """Sessions by id, expired on use; `clock` is monotonic seconds (passed in for tests)."""

    def __init__(
        self,
        *,
        lifetime_s: float = SESSION_S,
        idle_s: float = IDLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, user: str) -> Session:
        """A new session for `user`."""
        now = self._clock()
        session = Session.new(user, now, self.lifetime_s, self.idle_s)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._sweep(now)
            if len(self._sessions) >= MAX_SESSIONS:  # the oldest goes
                del self._sessions[next(iter(self._sessions))]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session of that id (its idle time restarts), or None."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now >= session.expires or now >= session.idle_until:
                del self._sessions[session_id]
                return None
            session.idle_until = now + self.idle_s
            return session

    def close(self, session_id: str) -> None:
        """Ends a session (logout)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def close_user(self, user: str) -> None:
        """Ends every session of `user` (disabled, reset)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user == user]:
                del self._sessions[key]

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if now >= min(s.expires, s.idle_until)]:
            del self._sessions[key]


class LoginThrottle:
    """Failed logins per account and per address over a sliding window."""

    def __init__(
        self,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_s(self, account: str, address: str) -> float:
        """Seconds until a login of `account` from `address` is taken again (0: now)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in (
                (f"u:{account}", self.per_account),
                (f"a:{address}", self.per_address),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, self.window_s - (now - times[-limit]))
        return wait

    def failed(self, account: str, address: str) -> None:
        """Counts a failed login."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            for key in (f"u:{account}", f"a:{address}"):
                self._failures.setdefault(key, deque(maxlen=100)).append(now)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's count (not the address's)."""
        with self._lock:
            self._failures.pop(f"u:{account}", None)
