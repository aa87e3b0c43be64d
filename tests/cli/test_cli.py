"""The console script: every subcommand answers --help, is documented, and fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from taktline.cli import SUBCOMMANDS, build_parser, main
from taktline.private_broker import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: taktline " + name in capsys.readouterr().out


def test_every_subcommand_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in SUBCOMMANDS:
        assert f"taktline {name}" in readme, f"`taktline {name}` is not documented in README.md"


def test_example_agent_config_is_valid() -> None:
    config = load_config(ROOT / "hardware" / "examples" / "agent-crimp-01.toml")
    assert [s.id for s in config.stations] == ["crimp-01", "crimp-02"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"site": "p", "area": "a"}, "missing required key 'agent'"),
        ({"agent": "a b", "site": "p", "area": "a"}, "agent 'a b' does not match"),
        ({"agent": "a", "site": "p", "area": "a", "synchronous": "OFF"}, "synchronous"),
        ({"agent": "a", "site": "p", "area": "a", "broker": "http://x"}, "mqtt://"),
        ({"agent": "a", "site": "p", "area": "a", "colour": 1}, "unknown keys ['colour']"),
        ({"agent": "a", "site": "p", "area": "a", "max_events": 0}, "max_events"),
        ({"agent": "a", "site": "p", "area": "a", "station": [{"id": ""}]}, "station[0]"),
    ],
)
def test_bad_agent_config_names_the_rule(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_config(data, "agent.toml")


def test_agent_cli_rejects_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "agent.toml"
    bad.write_text('agent = "pi-1"\nsite = ')
    assert main(["agent", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_runs_end_to_end_with_its_web_interface(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable, "-m", "taktline.cli", "demo", "--duration", "8",
            "--data", str(tmp_path), "--web", f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    status = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and demo.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                status = json.load(r)
            if status["machines"]:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert b"resource status" in r.read()
                break
        except OSError:
            pass
        time.sleep(0.3)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    assert status is not None and status["machines"], out
    assert "cloud: crimp-01: operator" in out
    assert "dead letters: 0; unconfirmed in outboxes: 0" in out, out
