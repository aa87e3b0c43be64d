"""Shared fixtures: real services (a private Mosquitto per test) and the rule for missing ones.

A test that needs a real service and cannot start it is skipped on a developer's machine but
fails under CI (`CI=true`): CI must never pass by skipping what it was meant to check.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from taktline.private_broker import BrokerUnavailable, PrivateMosquitto
from taktline.private_postgres import PostgresUnavailable, PrivatePostgres


def service_missing(reason: str) -> None:
    """Fails under CI, skips elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required service unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


#: The broker ACL `docs/deployment.md` ships; tests run the plant's roles against it.
DEPLOYMENT_ACL = Path(__file__).resolve().parents[1] / "docs" / "deployment" / "mosquitto-acl.conf"


@contextmanager
def started_mosquitto(**options: Any) -> Iterator[PrivateMosquitto]:
    """A started private Mosquitto (`PrivateMosquitto` options), closed afterwards.

    One that cannot start fails the test under CI and skips it elsewhere (`service_missing`).
    """
    try:
        broker = PrivateMosquitto(**options).start()
    except BrokerUnavailable as exc:
        service_missing(str(exc))
        raise
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def mosquitto() -> Iterator[PrivateMosquitto]:
    """A private Mosquitto on a free loopback port with persistence, removed afterwards."""
    with started_mosquitto() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: `TAKTLINE_TEST_PG_URL`, or a private one for the session."""
    given = os.environ.get("TAKTLINE_TEST_PG_URL")
    if given:
        yield given
        return
    try:
        server = PrivatePostgres().start()
    except PostgresUnavailable as exc:
        service_missing(str(exc))
        raise
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa

    name = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The cloud database, once as a SQLite file and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "cloud.db")
    return str(request.getfixturevalue("postgres_url"))
