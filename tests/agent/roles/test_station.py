"""The machine station role: real mfrc522 code on emulated chips, gpiozero on MockFactory pins."""

from __future__ import annotations

import logging
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agent.roles.station import StationRole, StationRoleConfig, parse_station
from agent.runtime import Agent
from contract import StackLightCommand, StationSchedule
from contract.downlink import ScheduledJob
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import MFRC522Chip, Tag
from taktline.clock import FakeClock
from tests.agent.roles.conftest import events, run_for

BADGE, TOOL, TICKET, TICKET2, STRANGER = "04A1B2C3", "E0020001", "0A000001", "0A000002", "0BADBAD0"

STATION = """
[[station]]
id = "crimp-01"
tags = "tags.toml"
debounce_s = 0.02
inputs = { run = 17, cycle = 27, good = 22, scrap = 23 }
stop_buttons = { changeover = 5, maintenance = 6, breakdown = 12, material_shortage = 13, \
quality = 19, other = 26 }
stack_light = { green = 16, amber = 20, red = 21, blink_s = 0.02 }

[[station.reader]]
name = "crimp-01-badge"
device = 0
reset_pin = 25
reads = ["badge", "ticket"]

[[station.reader]]
name = "crimp-01-tool"
device = 1
reset_pin = 24
reads = ["tool"]
"""
TAGS = f'badge = ["{BADGE}"]\ntool = ["{TOOL}"]\nticket = ["{TICKET}", "{TICKET2}"]\n'


def station_config(folder: Path, text: str = STATION, tags: str = TAGS) -> StationRoleConfig:
    (folder / "tags.toml").write_text(tags)
    data: dict[str, Any] = tomllib.loads(text)
    config = parse_station({"station": data["station"]}, "agent.toml", folder)
    return StationRoleConfig(config.stations, state=folder / "jobs.json")


@pytest.fixture
def chips(hw: EmulatedHardware) -> tuple[MFRC522Chip, MFRC522Chip]:
    return hw.add_mfrc522(0, 0, reset_pin=25), hw.add_mfrc522(0, 1, reset_pin=24)


@pytest.fixture
def role(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, chips: tuple[MFRC522Chip, MFRC522Chip]
) -> Any:
    with StationRole(agent, station_config(tmp_path), hw) as station:
        yield station


def tap(
    chip: MFRC522Chip, role: StationRole, clock: FakeClock, tag: str, hold: float = 0.3
) -> None:
    held = chip.add_tag(Tag(bytes.fromhex(tag)))
    run_for(role, clock, hold)
    chip.remove_tag(held)
    run_for(role, clock, 1.0)


def pin(hw: EmulatedHardware, number: int) -> Any:
    return hw.pin_factory().pin(number)


def test_a_badge_tap_is_exactly_one_event(
    role: StationRole, agent: Agent, chips: tuple[MFRC522Chip, MFRC522Chip], clock: FakeClock
) -> None:
    tap(chips[0], role, clock, BADGE)
    (event,) = events(agent, "badge.read")
    assert event["payload"] == {"tag": BADGE}
    assert (event["source"], event["station"]) == ("crimp-01-badge", "crimp-01")


def test_a_badge_held_ten_seconds_is_one_event(
    role: StationRole, agent: Agent, chips: tuple[MFRC522Chip, MFRC522Chip], clock: FakeClock
) -> None:
    chips[0].add_tag(Tag(bytes.fromhex(BADGE)))
    run_for(role, clock, 10.0)
    assert len(events(agent, "badge.read")) == 1


def test_a_crc_error_is_counted_not_an_event(
    role: StationRole, agent: Agent, chips: tuple[MFRC522Chip, MFRC522Chip], clock: FakeClock
) -> None:
    chips[0].add_tag(Tag(bytes.fromhex(BADGE)))
    chips[0].fail_next_crc()
    role.poll()
    reader = role.stations["crimp-01"].readers[0][0].reader
    assert reader.crc_errors == 1 and events(agent, "badge.read") == []
    run_for(role, clock, 0.5)
    assert [e["payload"]["tag"] for e in events(agent, "badge.read")] == [BADGE]


def test_a_tool_tag_at_the_tool_reader(
    role: StationRole, agent: Agent, chips: tuple[MFRC522Chip, MFRC522Chip], clock: FakeClock
) -> None:
    tap(chips[1], role, clock, TOOL)
    (event,) = events(agent, "tool.read")
    assert event["payload"] == {"tag": TOOL} and event["source"] == "crimp-01-tool"


def test_job_ticket_start_end_and_switch_survive_a_restart(
    tmp_path: Path,
    agent: Agent,
    hw: EmulatedHardware,
    chips: tuple[MFRC522Chip, MFRC522Chip],
    clock: FakeClock,
) -> None:
    config = station_config(tmp_path)
    with StationRole(agent, config, hw) as role:
        tap(chips[0], role, clock, TICKET)  # starts
        tap(chips[0], role, clock, TICKET)  # same ticket again: ends
        tap(chips[0], role, clock, TICKET)  # starts again
    assert (tmp_path / "jobs.json").read_text() == f'{{"crimp-01": "{TICKET}"}}'
    with StationRole(agent, config, hw) as role:  # the agent restarted
        tap(chips[0], role, clock, TICKET2)  # another ticket: ends the running job first
    tickets = [(e["payload"]["tag"], e["payload"]["action"]) for e in events(agent, "job.ticket")]
    assert tickets == [
        (TICKET, "start"),
        (TICKET, "end"),
        (TICKET, "start"),
        (TICKET, "end"),
        (TICKET2, "start"),
    ]
    assert role.jobs.jobs == {"crimp-01": TICKET2}


def test_unknown_tag_is_an_alarm_and_the_station_keeps_working(
    role: StationRole,
    agent: Agent,
    chips: tuple[MFRC522Chip, MFRC522Chip],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.roles.station"):
        tap(chips[0], role, clock, STRANGER)
        tap(chips[0], role, clock, TOOL)  # a tool at the badge/ticket reader: not its kind
    alarms = events(agent, "agent.alarm")
    assert [a["payload"]["alarm"] for a in alarms] == ["unknown_tag", "unknown_tag"]
    assert "0BADBAD0" in alarms[0]["payload"]["detail"] and "tag directory" in caplog.text
    assert "reads only badge, ticket" in alarms[1]["payload"]["detail"]
    assert events(agent, "badge.read", "tool.read", "job.ticket") == []
    tap(chips[0], role, clock, BADGE)
    assert len(events(agent, "badge.read")) == 1


def test_new_tag_directory_entries_are_picked_up(
    tmp_path: Path,
    role: StationRole,
    agent: Agent,
    chips: tuple[MFRC522Chip, MFRC522Chip],
    clock: FakeClock,
) -> None:
    tap(chips[0], role, clock, STRANGER)
    directory = tmp_path / "tags.toml"
    directory.write_text(TAGS.replace(f'badge = ["{BADGE}"]', f'badge = ["{BADGE}", "{STRANGER}"]'))
    stat = directory.stat()
    import os

    os.utime(directory, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    tap(chips[0], role, clock, STRANGER)
    assert [e["payload"]["tag"] for e in events(agent, "badge.read")] == [STRANGER]


def test_a_reader_that_disappears_raises_one_alarm_and_the_other_keeps_reading(
    role: StationRole,
    agent: Agent,
    chips: tuple[MFRC522Chip, MFRC522Chip],
    clock: FakeClock,
    hw: EmulatedHardware,
) -> None:
    chips[0].unplug()
    run_for(role, clock, 2.0)
    tap(chips[1], role, clock, TOOL)  # the tool reader still works
    pin(hw, 5).drive_low()  # and so do the buttons
    run_for(role, clock, 0.2)
    ((lost),) = events(agent, "agent.alarm")
    assert lost["payload"]["alarm"] == "reader_lost" and lost["source"] == "crimp-01-badge"
    assert "SPI 0.0" in lost["payload"]["detail"] and "VersionReg" in lost["payload"]["detail"]
    assert len(events(agent, "tool.read")) == 1 and len(events(agent, "machine.stop_reason")) == 1
    chips[0].plug()
    run_for(role, clock, 0.5)
    tap(chips[0], role, clock, BADGE)
    alarms = [a["payload"]["alarm"] for a in events(agent, "agent.alarm")]
    assert alarms == ["reader_lost", "reader_restored"]
    assert len(events(agent, "badge.read")) == 1


def test_a_flapping_run_signal_gives_clean_transitions(
    role: StationRole, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    run = pin(hw, 17)
    for level in [0, 1, 0, 1, 0]:  # contact bounce: 2 ms each, well under the 20 ms debounce
        (run.drive_low if level == 0 else run.drive_high)()
        clock.advance(0.002)
    run_for(role, clock, 1.0)  # low (active) for good: running
    for level in [1, 0, 1, 0, 1]:
        (run.drive_low if level == 0 else run.drive_high)()
        clock.advance(0.003)
    run_for(role, clock, 1.0)  # high for good: stopped
    runs = [e["payload"]["on"] for e in events(agent, "machine.signal") if "on" in e["payload"]]
    assert runs == [False, True, False]  # the state at start, then one clean transition each way
    assert role.stations["crimp-01"].run is not None and role.stations["crimp-01"].run.bounces > 0


def test_cycle_good_and_scrap_pulses_are_counted(
    role: StationRole, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    def pulse(number: int, times: int) -> None:
        for _ in range(times):
            pin(hw, number).drive_low()
            clock.advance(0.001)
            pin(hw, number).drive_high()  # a bounce: not a pulse
            clock.advance(0.001)
            pin(hw, number).drive_low()
            clock.advance(0.05)
            pin(hw, number).drive_high()
            clock.advance(0.05)

    pulse(27, 5)  # five cycles between two polls: none lost
    pulse(22, 4)
    pulse(23, 1)
    role.poll()
    counts = {
        e["payload"]["signal"]: e["payload"]["count"]
        for e in events(agent, "machine.signal")
        if "count" in e["payload"]
    }
    assert counts == {"cycle": 5, "good": 4, "scrap": 1}


@pytest.mark.parametrize(
    ("bcm", "reason"),
    [(5, "changeover"), (6, "maintenance"), (12, "breakdown"), (13, "material_shortage"),
     (19, "quality"), (26, "other")],
)  # fmt: skip
def test_a_stop_reason_button_is_one_stop_reason_event(
    role: StationRole, agent: Agent, hw: EmulatedHardware, clock: FakeClock, bcm: int, reason: str
) -> None:
    button = pin(hw, bcm)
    for _ in range(3):  # a bouncing press
        button.drive_low()
        clock.advance(0.001)
        button.drive_high()
        clock.advance(0.001)
    button.drive_low()
    run_for(role, clock, 0.5)
    button.drive_high()
    run_for(role, clock, 0.5)
    (event,) = events(agent, "machine.stop_reason")
    assert event["payload"] == {"reason": reason} and event["source"] == "crimp-01-io"


def command(colour: str, blink: bool = False, station: str = "crimp-01") -> bytes:
    return StackLightCommand("c-1", station, colour, blink, "2026-11-05T10:00:00.000Z").encode()


def test_stack_light_commands_drive_the_right_pins(role: StationRole, hw: EmulatedHardware) -> None:
    green, amber, red = pin(hw, 16), pin(hw, 20), pin(hw, 21)
    role.on_command(command("red"))
    assert (green.state, amber.state, red.state) == (False, False, True)
    role.on_command(command("green"))
    assert (green.state, amber.state, red.state) == (True, False, False)
    role.on_command(command("amber", blink=True))
    deadline = time.monotonic() + 5  # gpiozero's blink thread, 20 ms on and off
    while sum(1 for s in amber.states if s.state) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(1 for s in amber.states if s.state) >= 3
    assert not green.state and not red.state
    role.on_command(command("off"))
    assert (green.state, amber.state, red.state) == (False, False, False)
    role.on_command(b"not json")
    role.on_command(command("red", station="cut-01"))  # not ours: ignored
    assert not red.state


def test_schedule_versions_are_shown_with_what_changed(
    role: StationRole, caplog: pytest.LogCaptureFixture
) -> None:
    job = ScheduledJob("O-1", "crimp", "2026-11-05T10:00:00Z", "2026-11-05T10:30:00Z", "H-7", 50)
    later = ScheduledJob("O-2", "crimp", "2026-11-05T11:00:00Z", "2026-11-05T11:20:00Z")
    station = role.stations["crimp-01"]
    schedule = StationSchedule("plant1", "crimp-01", 2, "2026-11-05T09:00:00Z", (job, later))
    with caplog.at_level(logging.INFO, logger="agent.roles.station"):
        role.on_schedule(station, schedule.encode())
        role.on_schedule(station, schedule.encode())  # the retained copy again: said once
        moved = StationSchedule(
            "plant1", "crimp-01", 3, "2026-11-05T09:05:00Z", (later,), ("O-1/crimp",)
        )
        role.on_schedule(station, moved.encode())
    lines = [r.message for r in caplog.records if "schedule" in r.message]
    assert len(lines) == 2
    assert "schedule v2" in lines[0] and "O-1/crimp 10:00-10:30 H-7 x50" in lines[0]
    assert "schedule v3 (changed: O-1/crimp)" in lines[1] and "O-2/crimp 11:00-11:20" in lines[1]
    assert station.schedule is not None and station.schedule.version == 3


def test_stop_releases_pins_and_readers(
    role: StationRole, hw: EmulatedHardware, chips: tuple[MFRC522Chip, MFRC522Chip]
) -> None:
    role.stop()
    assert 25 not in hw.header.directions and 24 not in hw.header.directions  # reset lines
    spi = [reader.reader for station in role.stations.values() for reader, _ in station.readers]
    assert all(reader._driver is None for reader in spi)  # SPI devices closed
    from gpiozero import LED

    LED(16, pin_factory=hw.pin_factory()).close()  # the pin is free again
    role.stop()  # twice is fine


def test_commands_for_a_station_without_a_light_are_ignored_quietly(
    tmp_path: Path,
    agent: Agent,
    hw: EmulatedHardware,
    chips: tuple[MFRC522Chip, MFRC522Chip],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = station_config(tmp_path, STATION + '\n[[station]]\nid = "crimp-02"\n')
    with (
        caplog.at_level(logging.DEBUG, logger="agent.roles.station"),
        StationRole(agent, config, hw) as role,
    ):
        role.on_command(command("red", station="crimp-02"))  # served, no light: nothing to do
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        role.on_command(command("red", station="cut-01"))
    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "cut-01, which this agent does not serve (it serves crimp-01, crimp-02)" in (
        warning.getMessage()
    )
    assert not pin(hw, 21).state
