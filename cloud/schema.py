"""The cloud database's tables and their migrations, for SQLite and PostgreSQL alike.

One SQLAlchemy Core `MetaData` describes every table; `migrate()` brings a database to the
newest schema version, recording each step in `schema_version`, so the same code creates a new
SQLite file, a new PostgreSQL database, or upgrades either in place. A migration is a function
of a connection inside a transaction; each is written once and runs on both dialects. A SQLite
file made before versioning (the walking skeleton's tables, same shape) is stamped version 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import sqlalchemy as sa

__all__ = [
    "MIGRATIONS",
    "agents",
    "api_tokens",
    "archived_keys",
    "archives",
    "dead_letters",
    "devices",
    "events",
    "login_failures",
    "metadata",
    "migrate",
    "plan_versions",
    "planner_leaders",
    "schema_version",
    "snapshots",
    "users",
    "web_sessions",
]

metadata = sa.MetaData()

#: SQLite's rowid alias must be declared exactly INTEGER; PostgreSQL gets a 64-bit identity.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("pos", _ID, primary_key=True, autoincrement=True),
    sa.Column("instance", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("agent", sa.Text, nullable=False),
    sa.Column("station", sa.Text),
    sa.Column("device_time", sa.Text, nullable=False),
    sa.Column("corrected_time", sa.Text, nullable=False),
    sa.Column("time_basis", sa.Text, nullable=False),
    sa.Column("received_at", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.UniqueConstraint("instance", "seq"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.Text),
    sa.Column("topic", sa.Text),
    sa.Column("agent", sa.Text),
    sa.Column("instance", sa.Text),
    sa.Column("seq", sa.BigInteger),
    sa.Column("reason", sa.Text),
    sa.Column("body", sa.Text),
    # Migration 5: the kind of refusal, and replays (`taktline cloud dead-letters replay`).
    sa.Column("kind", sa.Text),
    sa.Column("replay_requested_at", sa.Text),
    sa.Column("replayed_at", sa.Text),
    sa.Column("replay_outcome", sa.Text),
    # A re-sent bad event is recorded once per reason (NULL keys never collide).
    sa.Index("idx_dead_letters_instance_seq_reason", "instance", "seq", "reason", unique=True),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("agent", sa.Text, primary_key=True),
    sa.Column("site", sa.Text),
    sa.Column("area", sa.Text),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("agent", sa.Text),
    sa.Column("station", sa.Text),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("pos", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

archives = sa.Table(
    "archives",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("first_pos", sa.BigInteger, nullable=False),
    sa.Column("last_pos", sa.BigInteger, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)

#: Keys of archived events, as seq ranges per instance: a late resend of one is a duplicate.
archived_keys = sa.Table(
    "archived_keys",
    metadata,
    sa.Column("instance", sa.Text, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Index("idx_archived_keys", "instance", "first_seq"),
)

#: The newest published version of each retained plan message (`site/resource`, `site/@plan`,
#: `site/@gaps`), saved before the message goes out: versions keep growing across restarts.
plan_versions = sa.Table(
    "plan_versions",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

#: The people who log in to the web interface (cloud/auth): an argon2 hash, never a password.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("changed_at", sa.Text, nullable=False),
)

#: API tokens for machines: the SHA-256 of the secret (shown once), a role, revocable.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("secret_sha256", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("last_used_at", sa.Text),
    sa.Column("revoked_at", sa.Text),
)

#: Logged-in browsers, shared by every web process (`cloud.auth.shared`): the SHA-256 of the
#: session id (the cookie), its user and CSRF token, and when it ends (Unix seconds).
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_sha256", sa.Text, primary_key=True),
    sa.Column("user_name", sa.Text, nullable=False, index=True),
    sa.Column("csrf", sa.Text, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("idle_until", sa.Float, nullable=False),
)

#: Failed logins per throttle key (`u:ACCOUNT`, `a:ADDRESS`), shared by every web process.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)

#: The web address of the process holding each planner lock (`cloud.roles.LeaderLock`), with
#: the PostgreSQL backend that holds it: a row is current only while that backend holds the lock.
planner_leaders = sa.Table(
    "planner_leaders",
    metadata,
    sa.Column("lock_key", sa.BigInteger, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("backend_pid", sa.Integer, nullable=False),
    sa.Column("since", sa.Text, nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.Text, nullable=False),
)


def _v1_base(conn: sa.Connection) -> None:
    for table in (events, dead_letters, agents, devices):
        table.create(conn, checkfirst=True)


def _v2_snapshots(conn: sa.Connection) -> None:
    snapshots.create(conn, checkfirst=True)


def _v3_archives(conn: sa.Connection) -> None:
    archives.create(conn, checkfirst=True)
    archived_keys.create(conn, checkfirst=True)


def _v4_plan_versions(conn: sa.Connection) -> None:
    plan_versions.create(conn, checkfirst=True)


def _v5_dead_letter_replay(conn: sa.Connection) -> None:
    # A database made by v1 before these columns existed gets them; a new one has them already.
    have = {c["name"] for c in sa.inspect(conn).get_columns("dead_letters")}
    for name in ("kind", "replay_requested_at", "replayed_at", "replay_outcome"):
        if name not in have:
            conn.execute(sa.text(f"ALTER TABLE dead_letters ADD COLUMN {name} TEXT"))


def _v6_users(conn: sa.Connection) -> None:
    users.create(conn, checkfirst=True)
    api_tokens.create(conn, checkfirst=True)


def _v7_web_replicas(conn: sa.Connection) -> None:
    for table in (web_sessions, login_failures, planner_leaders):
        table.create(conn, checkfirst=True)


#: Version n is MIGRATIONS[n - 1]. Append; never edit one that has shipped.
MIGRATIONS: Final[list[Callable[[sa.Connection], None]]] = [
    _v1_base,
    _v2_snapshots,
    _v3_archives,
    _v4_plan_versions,
    _v5_dead_letter_replay,
    _v6_users,
    _v7_web_replicas,
]


def migrate(conn: sa.Connection, now: str) -> int:
    """Applies the missing migrations inside the caller's transaction; returns the version."""
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
    for version in range(current + 1, len(MIGRATIONS) + 1):
        MIGRATIONS[version - 1](conn)
        conn.execute(sa.insert(schema_version).values(version=version, applied_at=now))
    return len(MIGRATIONS)
