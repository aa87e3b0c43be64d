"""The tool-crib gate: direction from the order of the two readers' reads, never guessed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.roles.gate import GateRole, parse_gate
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import MFRC522Chip, Tag
from taktline.clock import FakeClock
from tests.agent.roles.conftest import events, run_for

APPLICATOR = "E0020001"


@pytest.fixture
def chips(hw: EmulatedHardware) -> dict[str, MFRC522Chip]:
    return {"crib": hw.add_mfrc522(0, 0, reset_pin=25), "floor": hw.add_mfrc522(0, 1, reset_pin=24)}


@pytest.fixture
def gate(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, chips: dict[str, MFRC522Chip]
) -> Iterator[GateRole]:
    section = {
        "id": "crib-01",
        "window_s": 5,
        "crib": {"device": 0, "reset_pin": 25},
        "floor": {"device": 1, "reset_pin": 24},
    }
    with GateRole(agent, parse_gate(section, "agent.toml", tmp_path), hw) as role:
        yield role


def carry(gate: GateRole, chips: dict[str, MFRC522Chip], clock: FakeClock, *sides: str) -> None:
    tag = Tag(bytes.fromhex(APPLICATOR))
    for side in sides:
        chips[side].add_tag(tag)
        run_for(gate, clock, 0.3)
        chips[side].remove_tag(tag)
        run_for(gate, clock, 1.0)


def passages(agent: Agent) -> list[tuple[str, list[str]]]:
    found = events(agent, "tool.gate")
    assert all(e["source"] == "crib-01" and "station" not in e for e in found)
    return [(e["payload"]["direction"], e["payload"]["readers"]) for e in found]


def test_crib_then_floor_is_out_and_floor_then_crib_is_in(
    gate: GateRole, agent: Agent, chips: dict[str, MFRC522Chip], clock: FakeClock
) -> None:
    carry(gate, chips, clock, "crib", "floor")
    carry(gate, chips, clock, "floor", "crib")
    assert passages(agent) == [
        ("out", ["crib-01-crib", "crib-01-floor"]),
        ("in", ["crib-01-floor", "crib-01-crib"]),
    ]
    assert gate.waiting == {}


def test_a_tag_one_reader_saw_is_unpaired_after_the_window(
    gate: GateRole, agent: Agent, chips: dict[str, MFRC522Chip], clock: FakeClock
) -> None:
    carry(gate, chips, clock, "floor")
    assert passages(agent) == [] and gate.waiting == {APPLICATOR: "floor"}
    run_for(gate, clock, 5.0)
    assert passages(agent) == [("unpaired", ["crib-01-floor"])]


def test_reads_further_apart_than_the_window_are_two_unpaired(
    gate: GateRole, agent: Agent, chips: dict[str, MFRC522Chip], clock: FakeClock
) -> None:
    carry(gate, chips, clock, "crib")
    run_for(gate, clock, 6.0)
    carry(gate, chips, clock, "floor")
    run_for(gate, clock, 6.0)
    assert passages(agent) == [("unpaired", ["crib-01-crib"]), ("unpaired", ["crib-01-floor"])]


def test_a_read_still_waiting_at_stop_is_reported_not_dropped(
    gate: GateRole, agent: Agent, chips: dict[str, MFRC522Chip], clock: FakeClock
) -> None:
    carry(gate, chips, clock, "crib")
    gate.stop()
    assert passages(agent) == [("unpaired", ["crib-01-crib"])]


def test_one_reader_lost_the_other_still_reports(
    gate: GateRole, agent: Agent, chips: dict[str, MFRC522Chip], clock: FakeClock
) -> None:
    chips["crib"].unplug()
    carry(gate, chips, clock, "floor")
    run_for(gate, clock, 5.0)
    assert passages(agent) == [("unpaired", ["crib-01-floor"])]
    ((alarm),) = events(agent, "agent.alarm")
    assert alarm["payload"]["alarm"] == "reader_lost" and alarm["source"] == "crib-01-crib"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({}, r"\[gate\] is missing"),
        ({"id": "g"}, r"missing \[gate.crib\]"),
        ({"id": "g", "crib": {}, "floor": {"device": 1, "reset_pin": 25}}, "both use GPIO25"),
        ({"id": "g", "crib": {}, "floor": {"reset_pin": 24}}, "share SPI 0.0"),
        ({"id": "g", "crib": {}, "floor": {}, "window": 3}, r"unknown keys \['window'\]"),
        ({"id": "g", "crib": {"reads": ["tool"]}, "floor": {}}, r"unknown keys \['reads'\]"),
    ],
)
def test_bad_gate_sections_name_the_key(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    from agent.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_gate(section, "agent.toml", tmp_path)
