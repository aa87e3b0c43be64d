"""The device layer's recorder: every role's facts become valid, durable contract events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import Outbox
from agent.recorder import EventRecorder
from contract import SchemaViolation, parse_event

T = "04A1B2C3"

CALLS: list[tuple[str, Callable[[EventRecorder], Any], str]] = [
    ("badge", lambda r: r.badge_read(T), "badge.read"),
    ("tool", lambda r: r.tool_read(T), "tool.read"),
    ("run", lambda r: r.run_signal(True), "machine.signal"),
    ("cycles", lambda r: r.cycles(3), "machine.signal"),
    ("good", lambda r: r.good(2), "machine.signal"),
    ("scrap", lambda r: r.scrap(), "machine.signal"),
    ("reason", lambda r: r.stop_reason("breakdown"), "machine.stop_reason"),
    ("ticket", lambda r: r.job_ticket(T, "start"), "job.ticket"),
    ("gate", lambda r: r.gate_passage(T, "out", ["crib-in", "crib-out"]), "tool.gate"),
    ("unpaired", lambda r: r.gate_passage(T, "unpaired", ["crib-in"]), "tool.gate"),
    ("rest", lambda r: r.rest_read(T), "rest.read"),
    ("position", lambda r: r.position(48.1, 11.5, 13.9, 270.0, "3d", None), "gps.position"),
    ("no fix", lambda r: r.fix_changed("none", "no satellites"), "gps.fix"),
    (
        "package",
        lambda r: r.package_read(
            T, "load", "d-1", {"material": "wire", "order": "o", "quantity": 5}
        ),
        "package.read",
    ),
    ("unknown package", lambda r: r.package_read(T, "unload", None, None), "package.read"),
    ("alarm", lambda r: r.alarm("reader_lost", "SPI 0.1 gone"), "agent.alarm"),
]


@pytest.mark.parametrize(("name", "call", "event_type"), CALLS, ids=[c[0] for c in CALLS])
def test_each_fact_is_one_valid_durable_event(
    tmp_path: Path, name: str, call: Callable[[EventRecorder], Any], event_type: str
) -> None:
    with Outbox(tmp_path / "o.db", agent="pi-1") as outbox:
        event = call(EventRecorder(outbox, "reader-1", "crimp-01"))
        assert event.type == event_type
        assert parse_event(event.to_dict()) == event
        assert outbox.depth() == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.stop_reason("lunch"), "lunch"),
        (lambda r: r.job_ticket(T, "pause"), "pause"),
        (lambda r: r.gate_passage(T, "out", ["crib-in"]), "readers"),
        (lambda r: r.position(91.0, 0.0, 1.0, None, "3d", None), "lat"),
        (lambda r: r.position(1.0, 0.0, 1.0, None, "none", None), "fix"),
        (lambda r: r.package_read(T, "load", None, {"material": "w", "order": "o"}), "quantity"),
    ],
)
def test_bad_facts_fail_at_the_station_naming_the_field(
    tmp_path: Path, call: Callable[[EventRecorder], Any], message: str
) -> None:
    with Outbox(tmp_path / "o.db", agent="pi-1") as outbox:
        with pytest.raises(SchemaViolation, match=message):
            call(EventRecorder(outbox, "reader-1"))
        assert outbox.depth() == 0
