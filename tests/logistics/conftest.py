"""Fixtures for call-offs and transports: the harness example plant with a supplier, a JIS
connector at the assembly line, an AGV fleet; two orders of the door harness; a fresh event log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.calloff import CallOffs, needs_of
from cloud.plant import Order, Plant, parse_orders, parse_plant
from cloud.recorder import CloudRecorder
from cloud.replan import Engine, Replanner
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.logistics import LOGISTICS_SOURCE
from taktline.clock import FakeClock

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)
SUPPLIER = "kabelwerk"
JIS = "connector-12p"
LINE = "BOARD-LINE"


def plant_document(**transport: Any) -> dict[str, Any]:
    """The harness example plant; its connector comes just in sequence from one supplier."""
    doc = json.loads((EXAMPLES / "harness_plant.json").read_text())
    for material in doc["materials"]:
        if material["id"] == JIS:
            material.update(supplier=SUPPLIER, jis=True, point_of_use=LINE, per_unit=2)
        elif material["id"] == "terminal-a":
            material.update(supplier=SUPPLIER, per_unit=12)
    doc["suppliers"] = [
        {"id": SUPPLIER, "name": "Kabelwerk", "transit_min": 90, "window_min": 30,
         "bucket_min": 60, "email": "dispo@kabelwerk.example"}
    ]  # fmt: skip
    if transport:
        doc["transport"] = transport
    return doc


def orders(due_a: float, due_b: float) -> list[Order]:
    """Two door harnesses (they use the JIS connector), due hours after NOW."""
    raw = [
        {"id": "A", "product": "HARNESS-DOOR", "quantity": 40,
         "due": (NOW + timedelta(hours=due_a)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"id": "B", "product": "HARNESS-DOOR", "quantity": 60,
         "due": (NOW + timedelta(hours=due_b)).strftime("%Y-%m-%dT%H:%M:%SZ")},
    ]  # fmt: skip
    return parse_orders({"orders": raw})


@dataclass
class Desk:
    """A replanner with call-offs issued after every plan, over a fresh event log."""

    plant: Plant
    replanner: Replanner
    calloffs: CallOffs
    log: EventLog
    status: ResourceStatus
    clock: FakeClock
    issued: list[dict[str, Any]]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    plant = parse_plant(plant_document())
    clock = FakeClock(NOW)
    log = EventLog(tmp_path / "cloud.db")
    status = ResourceStatus()
    recorder = CloudRecorder(log, status, LOGISTICS_SOURCE, clock=clock)
    calloffs = CallOffs(recorder, lambda: plant, "plant1")
    issued: list[dict[str, Any]] = []
    replanner = Replanner(Engine(plant, orders(10, 14), NOW), clock=clock, improve=False)
    replanner.on_replan = lambda _: issued.extend(
        calloffs.issue(needs_of(plant, replanner.jobs_snapshot()))
    )
    try:
        yield Desk(plant, replanner, calloffs, log, status, clock, issued)
    finally:
        log.close()
