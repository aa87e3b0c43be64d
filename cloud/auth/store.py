"""Users and API tokens, kept in the cloud database (tables `users` and `api_tokens`).

A user has a name, a role and an argon2id hash of a password (argon2-cffi's defaults); there is
no default user. An API token is `tl_<id>_<secret>`: the id is the row's key, the secret 32
random bytes of which only the SHA-256 is kept (a random secret needs no slow hash); it is shown
once, when made, and can be revoked; its last use is kept (written at most once a minute). A
user's row is re-read at most every `RECHECK_S` seconds, so a user disabled or reset from the
command line (another process) loses its sessions within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloud import schema
from cloud.auth.roles import ROLES, Role
from cloud.errors import CloudError
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = [
    "MIN_PASSWORD",
    "AuthError",
    "AuthStore",
    "Identity",
    "NoSuchUser",
    "PasswordRefused",
    "TokenCreated",
    "UserExists",
]

#: The shortest password taken.
MIN_PASSWORD: Final = 10
MAX_PASSWORD: Final = 1024
RECHECK_S: Final = 5.0
_TOUCH_EVERY_S: Final = 60.0
_NAME: Final = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_TOKEN: Final = re.compile(r"^tl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class AuthError(CloudError, ValueError):
    """A user or token operation broke a rule (the message says which)."""


class UserExists(AuthError):
    """A user of that name exists already."""


class NoSuchUser(AuthError):
    """No user (or token) of that name."""


class PasswordRefused(AuthError):
    """A password too short or too long."""


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a user (by session) or a token (named, with its role)."""

    name: str
    role: Role
    via: str  # "session" or "token"
    token: str | None = None


@dataclass(frozen=True)
class TokenCreated:
    """A new token: `secret` is shown once and kept nowhere."""

    id: str
    name: str
    role: Role
    secret: str


def _role(role: str) -> Role:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise AuthError(f"a name is 1-64 letters, digits or ._@- , not {name!r}")
    return name


def _password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise PasswordRefused(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthStore:
    """Users and tokens in the database at `url` (migrated already: `EventLog` does that)."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        args: dict[str, Any] = {"timeout": 10} if url.startswith("sqlite") else {}
        self._engine = sa.create_engine(url, connect_args=args)
        self._clock = clock or SystemClock()
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, tuple[Role, bool, str] | None]] = {}
        self._touched: dict[str, float] = {}
        # A hash to verify against when the user does not exist: the same time either way.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def close(self) -> None:
        """Closes the database connections."""
        self._engine.dispose()

    def _now(self) -> str:
        return utc_iso(self._clock.now())

    # Users

    def add_user(self, name: str, role: str, password: str) -> None:
        """Adds a user. Raises `UserExists`, `AuthError`, `PasswordRefused`."""
        row = {
            "name": _name(name),
            "role": _role(role),
            "password_hash": self._hasher.hash(_password(password)),
            "disabled": False,
            "created_at": self._now(),
            "changed_at": self._now(),
        }
        with self._engine.begin() as conn:
            found = conn.execute(sa.select(schema.users.c.name).where(schema.users.c.name == name))
            if found.first() is not None:
                raise UserExists(f"user {name!r} exists already (use reset or disable)")
            conn.execute(sa.insert(schema.users).values(**row))
        self._forget(name)

    def _update(self, name: str, **values: Any) -> None:
        table = schema.users
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(table)
                .where(table.c.name == name)
                .values(changed_at=self._now(), **values)
            )
            if done.rowcount == 0:
                raise NoSuchUser(f"no user {name!r}")
        self._forget(name)

    def reset(self, name: str, password: str, role: str | None = None) -> None:
        """A new password (and role, if given); enables the user again."""
        values: dict[str, Any] = {"password_hash": self._hasher.hash(_password(password))}
        if role is not None:
            values["role"] = _role(role)
        self._update(name, disabled=False, **values)

    def disable(self, name: str) -> None:
        """The user can no longer log in; its sessions end within `RECHECK_S`."""
        self._update(name, disabled=True)

    def users(self) -> list[dict[str, Any]]:
        """Every user (name, role, disabled, created_at, changed_at), by name; no hashes."""
        table = schema.users
        query = sa.select(
            table.c.name, table.c.role, table.c.disabled, table.c.created_at, table.c.changed_at
        ).order_by(table.c.name)
        with self._engine.connect() as conn:
            return [
                {**row._asdict(), "disabled": bool(row.disabled)} for row in conn.execute(query)
            ]

    def has_admin(self) -> bool:
        """Whether an enabled admin exists (state-changing routes refuse until one does)."""
        table = schema.users
        query = sa.select(table.c.name).where(table.c.role == "admin", table.c.disabled.is_(False))
        with self._engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def _forget(self, name: str) -> None:
        with self._lock:
            self._users.pop(name, None)

    def _user(self, name: str, *, fresh: bool = False) -> tuple[Role, bool, str] | None:
        """(role, disabled, hash) of `name`, re-read at most every `RECHECK_S` seconds."""
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(name)
        if cached is not None and not fresh and now - cached[0] < RECHECK_S:
            return cached[1]
        table = schema.users
        query = sa.select(table.c.role, table.c.disabled, table.c.password_hash).where(
            table.c.name == name
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        found = None if row is None else (_role(row.role), bool(row.disabled), row.password_hash)
        with self._lock:
            if len(self._users) > 10_000:
                self._users.clear()
            self._users[name] = (now, found)
        return found

    def check_password(self, name: str, password: str) -> Role | None:
        """The user's role when `password` is right and the user enabled; None otherwise."""
        found = self._user(name, fresh=True) if _NAME.match(name) else None
        stored = found[2] if found is not None else self._dummy
        try:
            self._hasher.verify(stored, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if found is None or found[1]:
            return None
        return found[0]

    def role_of(self, name: str) -> Role | None:
        """The role of an enabled user (None when disabled or gone): checked per request."""
        found = self._user(name)
        return None if found is None or found[1] else found[0]

    # Tokens

    def add_token(self, name: str, role: str, created_by: str) -> TokenCreated:
        """A new token for a machine; its secret is in the answer only."""
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        checked = _role(role)
        row = {
            "id": token_id,
            "name": _name(name),
            "role": checked,
            "secret_sha256": _sha256(secret),
            "created_at": self._now(),
            "created_by": created_by,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.insert(schema.api_tokens).values(**row))
        return TokenCreated(token_id, name, checked, f"tl_{token_id}_{secret}")

    def revoke_token(self, token_id: str) -> None:
        """Revokes a token at once. Raises `NoSuchUser` when there is no such live token."""
        table = schema.api_tokens
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(table)
                .where(table.c.id == token_id, table.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            if done.rowcount == 0:
                raise NoSuchUser(f"no live token {token_id!r}")

    def tokens(self) -> list[dict[str, Any]]:
        """Every token without its secret: id, name, role, created, last used, revoked."""
        table = schema.api_tokens
        columns = [c for c in table.c if c.name != "secret_sha256"]
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).order_by(table.c.created_at, table.c.id))
            return [row._asdict() for row in rows]

    def check_token(self, text: str) -> Identity | None:
        """The identity of a live token, or None; notes its last use."""
        match = _TOKEN.match(text)
        if match is None:
            return None
        token_id, secret = match.groups()
        table = schema.api_tokens
        query = sa.select(table.c.name, table.c.role, table.c.secret_sha256).where(
            table.c.id == token_id, table.c.revoked_at.is_(None)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
            return None
        now = time.monotonic()
        if now - self._touched.get(token_id, -_TOUCH_EVERY_S) >= _TOUCH_EVERY_S:
            self._touched[token_id] = now
            with self._engine.begin() as conn:
                conn.execute(
                    sa.update(table).where(table.c.id == token_id).values(last_used_at=self._now())
                )
        return Identity(row.name, _role(row.role), "token", token_id)
