"""Roles of a cloud process, for scale-out: `taktline cloud --role all|ingest|planner|web`.

- `all` (default): one process does everything, on SQLite or PostgreSQL.
- `ingest`: one of several workers sharing the agents' uplink through an MQTT 5 shared
  subscription (`$share/<group>/taktline/v1/<site>/+/+/events`), each with its own client id and
  a clean session that ends with the connection (Mosquitto keeps routing a share to a
  disconnected member whose session lives on, so a killed worker with a persistent session would
  swallow its share until the session expired): a worker gone is out of the group at once, and
  what it received but had not confirmed is sent again by the agents. A worker commits each
  round with `INSERT ... ON CONFLICT DO NOTHING` and confirms to the publishing agent only
  what it committed or found already there; it keeps no
  status and makes no plan.
- `planner`: the status, stack lights, floor reactions, replanner and publisher. Only the process
  holding the planner lock (`LeaderLock`, a PostgreSQL session-level advisory lock) runs them;
  a standby waits for the lock (`lead`), and when the holder dies (its database session ends
  with it) takes over: it restores the status from snapshot + log, goes on with the schedule
  versions the log holds, and tails the log (`Ingest(feed="log")`) instead of the uplink.
  The leader writes the address of its web interface beside the lock (`planner_leaders`), so
  web replicas know where to send changes.
- `web`: a web replica (`cloud.web.replica`): the web interface and API only. It keeps a
  read-only status tailing the log as a standby does, and serves the plan the leader published
  (the retained plan and gap report on the broker); it plans nothing, lights nothing and takes
  no snapshot. Sessions, tokens and the login throttle are in PostgreSQL, so any replica
  serves any logged-in browser; a change (an order, a decision, a correction...) is sent on to
  the leading planner, whose process alone writes planning events: no two writers diverge.

Scale-out needs PostgreSQL: a SQLite file is one machine's, so the other roles refuse it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from cloud.errors import ConfigError

if TYPE_CHECKING:
    from cloud.service import CloudSettings

__all__ = [
    "INGEST_SESSION_S",
    "PLANNER_LOCK",
    "ROLES",
    "LeaderLock",
    "Role",
    "check_role",
    "ingest_options",
    "lead",
    "leader_url",
    "planner_lock_key",
    "reachable",
]

log = logging.getLogger(__name__)

Role = Literal["all", "ingest", "planner", "web"]
ROLES: Final = ("all", "ingest", "planner", "web")
#: The session expiry of an ingest worker: None, a clean session ending with the connection.
INGEST_SESSION_S: Final = None
#: The PostgreSQL advisory lock key the leading planner of every site holds (`--site +`); a
#: planner of one site holds its own (`planner_lock_key`), so each site elects its own.
PLANNER_LOCK: Final = 0x54414B56
#: How often a standby tries the lock, and the leader checks that it still holds it.
POLL_S: Final = 0.5


def planner_lock_key(site: str) -> int:
    """The planner lock of `site` ("+": all sites): one leader per site a planner serves."""
    if site == "+":
        return PLANNER_LOCK
    return (PLANNER_LOCK << 32 | zlib.crc32(site.encode())) & 0x7FFFFFFFFFFFFFFF


def check_role(role: str, database: str) -> Role:
    """The role; refuses a scale-out role on anything but PostgreSQL (`ConfigError`, saying why)."""
    if role == "all":
        return "all"
    if role not in ("ingest", "planner", "web"):
        raise ConfigError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if not database.startswith("postgresql"):
        raise ConfigError(
            f"--role {role}: scale-out needs PostgreSQL (--db postgresql+psycopg://...); a "
            "SQLite file is one machine's and cannot be shared by several cloud processes"
        )
    return "ingest" if role == "ingest" else "planner" if role == "planner" else "web"


def ingest_options(settings: CloudSettings) -> dict[str, Any]:
    """The `Ingest` options of this process's role."""
    if settings.role == "ingest":
        return {
            "client_id": f"{settings.client_id}-{socket.gethostname()}-{os.getpid()}",
            "session_expiry_s": INGEST_SESSION_S,
            "share_group": settings.share_group,
            "fold": False,
        }
    if settings.role == "planner":
        return {"client_id": f"{settings.client_id}-planner", "feed": "log"}
    if settings.role == "web":  # a read-only fold; many replicas, so each its own client id
        return {
            "client_id": f"{settings.client_id}-web-{socket.gethostname()}-{os.getpid()}",
            "session_expiry_s": None,
            "feed": "log",
        }
    return {"client_id": settings.client_id}


class LeaderLock:
    """The planner lock: a session-level advisory lock on its own PostgreSQL connection.

    Held as long as the connection lives: a holder killed (or cut off from the database) loses
    it when PostgreSQL ends its session, and a standby's next try takes it.
    """

    def __init__(self, url: str, key: int = PLANNER_LOCK) -> None:
        import sqlalchemy as sa  # only a planner needs it here (`taktline --help` does not)

        self._sa = sa
        self.key = key
        self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self._conn: Any = None

    def try_acquire(self) -> bool:
        """Takes the lock if free; False if another process holds it (or the database is away)."""
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            got = self._conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.key})").scalar()
            self._conn.commit()
        except self._sa.exc.DBAPIError as exc:
            log.warning("planner lock: database not reachable (%s)", exc.__class__.__name__)
            self._drop()
            return False
        return bool(got)

    def held(self) -> bool:
        """Whether the lock is still ours (the session is alive and holds it)."""
        if self._conn is None:
            return False
        try:
            count = self._conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                f" AND pid = pg_backend_pid() AND classid = {self.key >> 32 & 0xFFFFFFFF}"
                f" AND objid = {self.key & 0xFFFFFFFF}"
            ).scalar()
            self._conn.commit()
        except self._sa.exc.DBAPIError:
            self._drop()
            return False
        return bool(count)

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(self._sa.exc.DBAPIError):
                self._conn.close()
            self._conn = None

    def advertise(self, url: str) -> None:
        """Writes `url` (this leader's web interface) beside the lock, for the web replicas.

        The row names this lock's database backend: it is current only while that backend
        holds the lock (`leader_url`), so a dead leader's row is never followed.
        """
        if not self.held():  # a standby's address would hide the leader's
            return
        from cloud import schema

        table = schema.planner_leaders
        try:
            pid = self._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            self._conn.execute(table.delete().where(table.c.lock_key == self.key))
            self._conn.execute(
                table.insert().values(
                    lock_key=self.key,
                    url=url,
                    backend_pid=int(pid),
                    since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                )
            )
            self._conn.commit()
        except self._sa.exc.DBAPIError as exc:  # held() notices a lost session next
            log.warning("planner lock: could not advertise %s (%s)", url, exc.__class__.__name__)

    def release(self) -> None:
        """Gives the lock up (closing the session releases it)."""
        self._drop()
        self._engine.dispose()


def reachable(url: str) -> str:
    """A web address other machines can reach: a wildcard bind names this host instead."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if host in ("0.0.0.0", "::", ""):
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, socket.getfqdn() + port, parts.path, "", ""))
    return url


def leader_url(conn: Any, key: int = PLANNER_LOCK) -> str | None:
    """The web address of the planner holding lock `key` now (None: no leader, or no web).

    `conn` is a SQLAlchemy connection to the cloud's PostgreSQL database.
    """
    key = int(key)  # an int, so the text below holds numbers only
    found = conn.exec_driver_sql(
        "SELECT l.url FROM planner_leaders l JOIN pg_locks k ON k.pid = l.backend_pid"
        f" WHERE l.lock_key = {key} AND k.locktype = 'advisory' AND k.granted"
        f" AND k.classid = {key >> 32 & 0xFFFFFFFF} AND k.objid = {key & 0xFFFFFFFF}"
    ).first()
    return None if found is None else str(found[0])


def lead(
    settings: CloudSettings,
    stop: threading.Event,
    run: Callable[[], Any],
    *,
    lock: LeaderLock | None = None,
    advertise: Callable[[Any], str | None] | None = None,
) -> bool:
    """Waits for the planner lock, then `run()`s (start the service) while it is held.

    Returns True when stopped, False when the lock was lost while leading (the process should
    exit, so that it cannot publish beside a new leader; its supervisor starts it as a standby).
    `run` returns something with `stop()`; `advertise(service)`, when given, names the web
    address written beside the lock for the web replicas (`LeaderLock.advertise`).
    """
    lock = lock or LeaderLock(str(settings.database), planner_lock_key(settings.site))
    waited = time.monotonic()
    announced = False
    try:
        while not lock.try_acquire():
            if not announced:
                log.info("planner standby: another process leads; waiting for the planner lock")
                announced = True
            if stop.wait(POLL_S):
                return True
        log.info("planner lock taken after %.2f s: leading", time.monotonic() - waited)
        service = run()
        where = advertise(service) if advertise is not None else None
        if where:
            lock.advertise(where)
        try:
            while not stop.wait(POLL_S):
                if not lock.held():
                    log.error("planner lock lost (database session gone): stopping to lead")
                    return False
        finally:
            service.stop()
        return True
    finally:
        lock.release()
