"""Shared fixtures: real services (a private Mosquitto per test) and the rule for missing ones.

A test that needs a real service and cannot start it is skipped on a developer's machine but
fails under CI (`CI=true`): CI must never pass by skipping what it was meant to check.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from taktline.private_broker import BrokerUnavailable, PrivateMosquitto


def service_missing(reason: str) -> None:
    """Fails under CI, skips elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required service unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def mosquitto() -> Iterator[PrivateMosquitto]:
    """A private Mosquitto on a free loopback port with persistence, removed afterwards."""
    try:
        broker = PrivateMosquitto()
        broker.start()
    except BrokerUnavailable as exc:
        service_missing(str(exc))
        raise
    try:
        yield broker
    finally:
        broker.close()
