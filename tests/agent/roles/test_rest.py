"""The rest zone: badge reads become rest.read events; other tags are unknown there."""

from __future__ import annotations

from pathlib import Path

from agent.roles.rest import RestRole, parse_rest
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import Tag
from taktline.clock import FakeClock
from tests.agent.roles.conftest import events, run_for


def test_badges_at_the_rest_zone(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    (tmp_path / "tags.toml").write_text('badge = ["04A1B2C3"]\ntool = ["E0020001"]\n')
    readers = [{"device": 0, "reset_pin": 25}, {"device": 1, "reset_pin": 24}]
    section = {"id": "rest-01", "tags": "tags.toml", "reader": readers}
    config = parse_rest(section, "agent.toml", tmp_path)
    assert [r.name for r in config.readers] == ["rest-01-badge1", "rest-01-badge2"]
    door, table = hw.add_mfrc522(0, 0, reset_pin=25), hw.add_mfrc522(0, 1, reset_pin=24)
    with RestRole(agent, config, hw) as role:
        badge = door.add_tag(Tag(bytes.fromhex("04A1B2C3")))
        run_for(role, clock, 10.0)  # held: one read
        door.remove_tag(badge)
        table.add_tag(Tag(bytes.fromhex("E0020001")))  # a tool is not an operator at rest
        run_for(role, clock, 0.5)
    (rest,) = events(agent, "rest.read")
    assert rest["payload"] == {"tag": "04A1B2C3"}
    assert rest["source"] == "rest-01-badge1" and "station" not in rest
    (alarm,) = events(agent, "agent.alarm")
    assert alarm["payload"]["alarm"] == "unknown_tag" and "a tool" in alarm["payload"]["detail"]
