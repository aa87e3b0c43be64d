"""Edge rules, kanban cards and smart bins at a station: emulated chips and pins, a fake clock."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig, parse_config
from agent.errors import ConfigError
from agent.roles.station import StationRole, StationRoleConfig, parse_station
from agent.rules import RuleEngine, parse_rules
from agent.runtime import Agent, start_rules
from hardware.factory import EmulatedHardware
from hardware.hx711_chip import HX711Chip
from hardware.mfrc522_chip import Tag
from taktline.clock import FakeClock
from tests.agent.roles.conftest import events, run_for

CARD, CARD2, BADGE = "0C000001", "0C000002", "04A1B2C3"
DOUT, SCK = 5, 6
PIECE_G, COUNTS_PER_G, OFFSET = 2.0, 100.0, 12_000

STATION = f"""
[[station]]
id = "assy-01"
tags = "tags.toml"
stack_light = {{ green = 16, amber = 20, red = 21 }}

[[station.reader]]
name = "assy-01-rfid"
device = 0
reset_pin = 25
reads = ["badge", "kanban"]

[[station.bin]]
id = "assy-01-bin-a"
material = "TERM-A"
dout = {DOUT}
sck = {SCK}
offset = {OFFSET}
counts_per_g = {COUNTS_PER_G}
piece_g = {PIECE_G}
lead_time_min = 10
safety = 0.5
floor = 20
rate_window_min = 5
read_s = 1
"""
RULES = """
[[rule]]
id = "bin-low-amber"
when = { event = "bin.level", below = true }
do = [{ stack_light = "amber", station = "assy-01", blink = true }, { buzzer = 19 }]

[[rule]]
id = "card-red"
when = { event = "kanban.empty", station = "assy-01" }
do = { stack_light = "red", station = "assy-01" }

[[rule]]
id = "door-permissive-off"
when = { input = 13, active = true }
do = { output = 26, on = true }
"""


def _wait(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.fixture
def rig(tmp_path: Path, clock: FakeClock, hw: EmulatedHardware) -> Iterator[dict[str, Any]]:
    (tmp_path / "tags.toml").write_text(f'badge = ["{BADGE}"]\nkanban = ["{CARD}", "{CARD2}"]\n')
    stations = parse_station(
        {"station": tomllib.loads(STATION)["station"]}, "agent.toml", tmp_path
    ).stations
    config = AgentConfig(
        agent="pi-assy-01",
        site="plant1",
        area="harness",
        broker="mqtt://127.0.0.1:1",
        outbox=tmp_path / "outbox.db",
        rules=parse_rules(tomllib.loads(RULES)["rule"], "agent.toml"),
    )
    agent = Agent(config, clock=clock)
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    scale = hw.add_hx711(DOUT, SCK, HX711Chip(clock, offset=OFFSET, counts_per_g=COUNTS_PER_G))
    scale.load_g = 200 * PIECE_G  # 200 pieces
    role = StationRole(agent, StationRoleConfig(stations, state=tmp_path / "jobs.json"), hw)
    engine = start_rules(agent, hw, role)
    try:
        yield {"agent": agent, "role": role, "chip": chip, "scale": scale, "engine": engine}
    finally:
        role.stop()
        agent.outbox.close()


def test_a_card_tap_is_a_kanban_empty_and_a_rule_lights_red(
    rig: dict[str, Any], clock: FakeClock
) -> None:
    role, agent, chip = rig["role"], rig["agent"], rig["chip"]
    held = chip.add_tag(Tag(bytes.fromhex(CARD)))
    run_for(role, clock, 0.3)
    chip.remove_tag(held)
    run_for(role, clock, 0.5)
    (empty,) = events(agent, "kanban.empty")
    assert empty["payload"] == {"card": CARD}
    assert (empty["source"], empty["station"]) == ("assy-01-rfid", "assy-01")
    _wait(lambda: len(events(agent, "rule.fired")) == 1)
    (fired,) = events(agent, "rule.fired")
    assert fired["payload"]["rule"] == "card-red"
    assert fired["payload"]["actions"] == ["stack light assy-01 red"]
    assert fired["source"] == "pi-assy-01"
    assert role.light_of("assy-01").colour == "red"


def test_a_bin_crossing_its_dynamic_threshold_signals_once(
    rig: dict[str, Any], clock: FakeClock, hw: EmulatedHardware
) -> None:
    role, agent, scale = rig["role"], rig["agent"], rig["scale"]
    run_for(role, clock, 2)
    (first,) = events(agent, "bin.level")
    assert first["payload"]["below"] is False and first["payload"]["quantity"] == 200
    assert first["payload"]["threshold"] == 20  # no consumption seen yet: the floor
    # Consume 6 pieces a minute: threshold = 6/min x 10 min x 1.5 = 90 pieces.
    pieces = 200.0
    while pieces > 95:
        pieces -= 0.1
        scale.load_g = pieces * PIECE_G
        run_for(role, clock, 1, every=0.5)
    assert [e["payload"]["below"] for e in events(agent, "bin.level")] == [False]
    while pieces > 80:
        pieces -= 0.1
        scale.load_g = pieces * PIECE_G
        run_for(role, clock, 1, every=0.5)
    low = events(agent, "bin.level")[-1]["payload"]
    assert low["below"] is True
    assert 85 <= low["threshold"] <= 95, low  # the dynamic threshold, not the floor
    assert 340 <= low["rate_per_h"] <= 380, low
    assert low["quantity"] < low["threshold"]
    _wait(lambda: any(e["payload"]["rule"] == "bin-low-amber" for e in events(agent, "rule.fired")))
    light = role.light_of("assy-01")
    assert (light.colour, light.blinking) == ("amber", True)
    assert hw.pin_factory().pin(19).state  # the buzzer sounds
    scale.load_g = 400 * PIECE_G  # refilled
    run_for(role, clock, 3, every=0.5)
    assert [e["payload"]["below"] for e in events(agent, "bin.level")] == [False, True, False]


def test_an_input_rule_sets_its_output_on_the_edge_without_polling(
    rig: dict[str, Any], hw: EmulatedHardware
) -> None:
    agent, engine = rig["agent"], rig["engine"]
    door, permissive = hw.pin_factory().pin(13), hw.pin_factory().pin(26)
    assert not permissive.state
    door.drive_low()  # active-low: the switch closes
    _wait(lambda: permissive.state)  # no role.poll(): the rule engine runs on its own
    _wait(lambda: len(events(agent, "rule.fired")) == 1)
    (fired,) = events(agent, "rule.fired")
    assert fired["payload"] == {
        "rule": "door-permissive-off",
        "trigger": "GPIO13 active",
        "actions": ["output GPIO26 on"],
    }
    assert engine.fired == 1 and engine.latencies_ns


def test_a_bounce_shorter_than_debounce_does_not_fire(tmp_path: Path, hw: EmulatedHardware) -> None:
    rules = parse_rules(
        [{"id": "r", "when": {"input": 13, "debounce_s": 0.05}, "do": {"output": 26}}], "t"
    )
    recorded: list[tuple[str, str, list[str]]] = []

    class Recorder:
        def rule_fired(self, rule: str, trigger: str, actions: list[str]) -> None:
            recorded.append((rule, trigger, actions))

    with RuleEngine(rules, Recorder(), hw.pin_factory()) as engine:  # type: ignore[arg-type]
        pin = hw.pin_factory().pin(13)
        pin.drive_low()
        pin.drive_high()  # released within the debounce time
        time.sleep(0.15)
        assert engine.fired == 0 and not hw.pin_factory().pin(26).state
        pin.drive_low()
        _wait(lambda: engine.fired == 1)
    assert recorded == [("r", "GPIO13 active", ["output GPIO26 on"])]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "r", "when": {}, "do": {"output": 26}}, "event"),
        ({"id": "r", "when": {"event": "rule.fired"}, "do": {"output": 26}}, "can follow"),
        ({"id": "r", "when": {"event": "bin.levels"}, "do": {"output": 26}}, "can follow"),
        ({"id": "r", "when": {"input": 13}, "do": {"output": 26, "stack_light": "red"}}, "one"),
        ({"id": "r", "when": {"input": 13}, "do": {"stack_light": "pink", "station": "a"}}, "pink"),
        ({"id": "r", "when": {"input": 13}, "do": {"output": 9}}, "output"),
        ({"id": "r", "when": {"event": "kanban.empty"}, "do": {"kanban": CARD}}, "again"),
        ({"id": "r", "when": {"input": 13}, "do": {"kanban": "nope"}}, "card"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules([rule], "agent.toml")


def test_rules_are_part_of_the_agent_config(tmp_path: Path) -> None:
    config = parse_config(
        {
            "agent": "pi-1",
            "site": "plant1",
            "area": "harness",
            "rule": [{"id": "x", "when": {"event": "bin.level"}, "do": {"kanban": CARD}}],
        },
        "agent.toml",
        tmp_path,
    )
    (rule,) = config.rules
    assert (rule.id, rule.event, rule.actions[0].kind) == ("x", "bin.level", "kanban")


def test_a_record_the_outbox_refuses_is_kept_and_retried_under_supervision(
    hw: EmulatedHardware,
) -> None:
    """A full outbox fails the log loop: its worker is retried and alarmed, the record kept."""
    rules = parse_rules([{"id": "r", "when": {"input": 13}, "do": {"output": 26}}], "t")
    recorded: list[str] = []
    alarms: list[tuple[str, str]] = []
    refuse = {"left": 3}

    class Recorder:
        def rule_fired(self, rule: str, trigger: str, actions: list[str]) -> None:
            if refuse["left"]:
                refuse["left"] -= 1
                raise OSError("outbox full")
            recorded.append(rule)

    with RuleEngine(
        rules,
        Recorder(),  # type: ignore[arg-type]
        hw.pin_factory(),
        alarms=lambda kind, detail: alarms.append((kind, detail)),
    ) as engine:
        hw.pin_factory().pin(13).drive_low()
        _wait(lambda: recorded == ["r"], timeout=15)
        assert hw.pin_factory().pin(26).state  # the output was set at once, whatever the log did
        assert engine.writer.health().state == "running"
    assert [kind for kind, _ in alarms] == ["worker_fault", "worker_recovered"]
    assert "outbox full" in alarms[0][1]
