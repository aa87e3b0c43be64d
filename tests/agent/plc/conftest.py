"""Fixtures for the PLC sources: the simulated PLC (real asyncua and pymodbus servers) in its own
process, so a test can kill, restart and stall it (SIGSTOP) like a real PLC."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.roles.station import StationRole, StationRoleConfig, parse_station
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from taktline.clock import SystemClock
from taktline.private_broker import free_port
from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parents[3]


class SimulatedPlc:
    """`python -m hardware.plc_sim` with the given options; restartable and stallable."""

    def __init__(self, *options: str) -> None:
        self.options = list(options)
        self.process: subprocess.Popen[str] | None = None

    def start(self, *extra: str) -> SimulatedPlc:
        command = [sys.executable, "-m", "hardware.plc_sim", *self.options, *extra]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "ready" once the servers listen
        if line.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"the PLC simulator did not start: {self.process.stderr.read()}")
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stall(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def plc_factory() -> Iterator[Callable[..., SimulatedPlc]]:
    made: list[SimulatedPlc] = []

    def make(*options: str) -> SimulatedPlc:
        plc = SimulatedPlc(*options)
        made.append(plc)
        return plc

    yield make
    for plc in made:
        plc.kill()


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals (socat): the PLC's serial port and the agent's."""
    socat = shutil.which("socat")
    if socat is None:
        service_missing("socat is not installed (Debian package socat)")
    plc, agent = tmp_path / "plc-tty", tmp_path / "agent-tty"
    ends = [f"pty,raw,echo=0,link={plc}", f"pty,raw,echo=0,link={agent}"]
    process = subprocess.Popen([socat, *ends])
    deadline = time.monotonic() + 10
    while not (plc.exists() and agent.exists()):
        assert time.monotonic() < deadline, "socat made no pty pair"
        time.sleep(0.05)
    yield str(plc), str(agent)
    process.terminate()
    process.wait(10)


@pytest.fixture
def port() -> int:
    return free_port()


class Station:
    """A station role on a real clock whose PLC source runs; the test polls it."""

    def __init__(self, folder: Path, plc_toml: str) -> None:
        import tomllib

        text = f'[[station]]\nid = "press-01"\n\n[station.plc]\n{plc_toml}'
        config = parse_station(tomllib.loads(text), "agent.toml", folder)
        self.agent = Agent(
            AgentConfig(
                agent="pi-plc-01",
                site="plant1",
                area="harness",
                broker="mqtt://127.0.0.1:1",
                outbox=folder / "outbox.db",
            ),
            clock=SystemClock(),
        )
        self.hardware = EmulatedHardware(SystemClock())
        role_config = StationRoleConfig(config.stations, state=folder / "jobs.json")
        self.role = StationRole(self.agent, role_config, self.hardware)

    @property
    def source(self) -> Any:
        return self.role.stations["press-01"].plc

    def events(self, *types: str) -> list[dict[str, Any]]:
        found = [json.loads(body) for _, body in self.agent.outbox.pending(0, 100_000)]
        return [e for e in found if not types or e["type"] in types]

    def count(self, signal: str) -> int:
        return sum(
            e["payload"]["count"]
            for e in self.events("machine.signal")
            if e["payload"]["signal"] == signal
        )

    def runs(self) -> list[bool]:
        return [
            e["payload"]["on"]
            for e in self.events("machine.signal")
            if e["payload"]["signal"] == "run"
        ]

    def alarms(self) -> list[str]:
        return [e["payload"]["alarm"] for e in self.events("agent.alarm")]

    def until(self, check: Callable[[], Any], timeout: float, what: str) -> float:
        """Polls the role until `check()` is true; returns the seconds it took."""
        start = time.monotonic()
        while not check():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"not within {timeout} s: {what}; events {self.events()}")
            self.role.poll()
            time.sleep(0.02)
        return time.monotonic() - start

    def close(self) -> None:
        self.role.stop()
        self.agent.outbox.close()
        self.hardware.close()


@pytest.fixture
def station_factory(tmp_path: Path) -> Iterator[Callable[[str], Station]]:
    made: list[Station] = []

    def make(plc_toml: str) -> Station:
        folder = tmp_path / f"station{len(made)}"
        folder.mkdir()
        station = Station(folder, plc_toml)
        made.append(station)
        return station

    yield make
    for station in made:
        station.close()
