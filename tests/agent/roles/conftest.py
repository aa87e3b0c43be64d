"""Fixtures for the roles: an emulated Pi on a fake clock and an agent whose outbox we read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.roles.base import PollingRole
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from taktline.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hw(clock: FakeClock) -> Iterator[EmulatedHardware]:
    with EmulatedHardware(clock) as hardware:
        yield hardware


def make_agent(
    folder: Path,
    clock: FakeClock,
    *,
    role: str = "station",
    broker: str = "mqtt://127.0.0.1:1",
    agent: str = "pi-test-01",
) -> Agent:
    """An agent that is not started: its roles record into its outbox, which the test reads."""
    config = AgentConfig(
        agent=agent,
        site="plant1",
        area="harness",
        broker=broker,
        outbox=folder / f"{agent}.outbox.db",
        role=role,
    )
    return Agent(config, clock=clock)


@pytest.fixture
def agent(tmp_path: Path, clock: FakeClock) -> Iterator[Agent]:
    made = make_agent(tmp_path, clock)
    yield made
    made.outbox.close()


def events(agent: Agent, *types: str) -> list[dict[str, Any]]:
    """Every event in the agent's outbox, oldest first (only `types` when given)."""
    found = [json.loads(body) for _, body in agent.outbox.pending(0, 100_000)]
    return [e for e in found if not types or e["type"] in types]


def run_for(role: PollingRole, clock: FakeClock, seconds: float, every: float = 0.05) -> None:
    """Polls `role` for `seconds` of fake time (readers' own sleeps advance the clock too)."""
    end = clock.monotonic_ns() + int(seconds * 1e9)
    while clock.monotonic_ns() < end:
        role.poll()
        clock.advance(every)
