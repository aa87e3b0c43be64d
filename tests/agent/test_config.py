"""The agent's config: every example is valid, every mistake names its key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from agent.roles import ROLES
from agent.roles.gate import GateConfig
from agent.roles.rest import RestConfig
from agent.roles.station import StationRoleConfig
from tests.example_configs import EXAMPLES, example_copy

BASE = {"agent": "pi-1", "site": "plant1", "area": "harness"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_is_valid(path: Path, tmp_path: Path) -> None:
    config = load_config(example_copy(path.name, tmp_path))
    assert config.broker.startswith("mqtts://") and config.key_file is not None  # production
    assert config.role in ROLES and config.hardware == "pi"
    assert config.role_config is not None


def test_one_example_per_role(tmp_path: Path) -> None:
    roles = {load_config(example_copy(path.name, tmp_path)).role for path in EXAMPLES}
    assert {"station", "gate", "rest"} <= roles


def test_the_role_sections_are_parsed_by_their_role(tmp_path: Path) -> None:
    station = load_config(example_copy("agent-station-assy-01.toml", tmp_path))
    assert isinstance(station.role_config, StationRoleConfig)
    (assy,) = station.stations
    assert [r.reads for r in assy.readers] == [("badge", "ticket", "kanban"), ("tool",)]
    (smart_bin,) = assy.bins
    assert (smart_bin.id, smart_bin.dout, smart_bin.sck) == ("assy-01-bin-term-a", 2, 3)
    assert [rule.id for rule in station.rules] == ["bin-low-amber", "guard-open-permissive-off"]
    assert dict(assy.inputs) == {"run": 17, "cycle": 27, "good": 22, "scrap": 23}
    assert len(assy.stop_buttons) == 6 and assy.stack_light is not None
    gate = load_config(example_copy("agent-gate-crib-01.toml", tmp_path))
    assert isinstance(gate.role_config, GateConfig) and gate.stations == ()
    assert (gate.role_config.crib.name, gate.role_config.window_s) == ("crib-01-crib", 10.0)
    rest = load_config(example_copy("agent-rest-01.toml", tmp_path))
    assert isinstance(rest.role_config, RestConfig) and rest.role_config.tags is not None


def test_defaults_keep_old_configs_working() -> None:
    config = parse_config({**BASE, "station": [{"id": "crimp-01"}]}, "agent.toml", Path("/x"))
    assert (config.role, config.hardware) == ("station", None)  # hardware: env var, else pi
    assert [s.id for s in config.stations] == ["crimp-01"]
    assert config.outbox == Path("/x/outbox.db")


def station(**extra: Any) -> dict[str, Any]:
    return {**BASE, "station": [{"id": "s-1", **extra}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE, "role": "crane"}, "role must be one of .*set role"),
        ({**BASE, "hardware": "fake"}, "hardware must be one of .*emulated"),
        ({**BASE, "gate": {"id": "g"}}, r"\[gate\] section is for role 'gate'.*set role"),
        ({**BASE, "role": "gate", "station": [{"id": "s"}]}, r"\[station\] section is for role"),
        ({**BASE, "role": "rest"}, r"\[rest\] is missing; add \[rest\]"),
        ({**BASE, "role": "rest", "rest": {"id": "r"}}, "at least one reader"),
        (station(inputs={"run": 17, "speed": 4}), r"station\[0\].inputs: unknown keys \['speed'\]"),
        (station(inputs={"run": "17"}), "run must be a BCM pin number"),
        (station(inputs={"run": 9}), "inputs.run = 9: not a free BCM pin"),
        (station(inputs={"run": 17, "cycle": 17}), "both use GPIO17"),
        (station(stop_buttons={"lunch": 5}), r"unknown keys \['lunch'\]"),
        (station(stack_light={"green": 16, "red": 21}), "missing required key 'amber'; add amber"),
        (station(debounce_s=0), "debounce_s must be a positive number"),
        (station(reader=[{"reads": ["badge", "pizza"]}]), "reads must list .* e.g. reads"),
        (station(reader=[{"reads": ["badge", "tool"]}]), 'needs a tag directory.*add tags = "'),
        (station(reader=[{"device": 0}, {"device": 0, "reset_pin": 24}]), "share SPI 0.0"),
        (station(reader=[{"reset_pin": 8}]), "reset_pin GPIO8 is an SPI0 pin"),
        (station(tags="missing.toml"), "tags: cannot read tag directory"),
        ({**BASE, "station": [{"id": "a"}, {"id": "a"}]}, "repeat; give every station its own"),
        (
            {**BASE, "station": [{"id": i, "inputs": {"run": 17}} for i in ("a", "b")]},
            "station b run and station a run both use GPIO17",
        ),
    ],
)  # fmt: skip
def test_bad_config_names_the_key_and_the_fix(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "agent.toml", tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('badge = ["04A1B2C3"]\ntool = ["04A1B2C3"]\n', "listed as badge and as tool"),
        ('badge = ["XYZ"]\n', "badge"),
        ('badges = ["04A1B2C3"]\n', r"unknown keys \['badges'\]"),
        ('badge = "04A1B2C3"\n', "must be a list of tag ids"),
    ],
)
def test_a_bad_tag_directory_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "tags.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        parse_config(station(tags="tags.toml"), "agent.toml", tmp_path)


def test_check_prints_the_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from taktline.cli import main

    path = example_copy("agent-gate-crib-01.toml", tmp_path)
    assert main(["agent", "--config", str(path), "--check"]) == 0
    assert "role gate, is valid" in capsys.readouterr().out
