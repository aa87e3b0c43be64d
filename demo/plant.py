"""The demo's simulated harness plant: stations, operators and tools driving real agents.

Three agents serve four machine stations of a wire-harness line (cutting, two crimping presses,
assembly). Each station's simulation taps operator badges in and out, puts a tool on the machine,
switches the run signal and counts cycles, with stops for changeovers; every fact goes through the
agent's device-layer API (`EventRecorder`) into its durable outbox, and from there over MQTT to
the cloud, exactly as on a Pi.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.recorder import EventRecorder
from agent.roles.station import StationConfig, StationRoleConfig
from agent.runtime import Agent
from taktline.clock import Clock

__all__ = [
    "HARNESS_LINE",
    "SimulatedStation",
    "StationPlan",
    "badge_recorders",
    "build_agents",
    "registry",
]


@dataclass(frozen=True, slots=True)
class StationPlan:
    """One simulated machine: which agent serves it, its operators, tools and cycle time."""

    station: str
    agent: str
    operators: tuple[str, ...]
    tools: tuple[str, ...]
    cycle_s: float


SITE, AREA = "plant1", "harness"

HARNESS_LINE: tuple[StationPlan, ...] = (
    StationPlan("cut-01", "pi-cut-01", ("04A1B2C3", "04D4E5F6"), ("E0010001",), 2.0),
    StationPlan("crimp-01", "pi-crimp-01", ("04112233",), ("E0020001", "E0020002"), 1.5),
    StationPlan("crimp-02", "pi-crimp-01", ("04445566",), ("E0020003", "E0020004"), 1.5),
    StationPlan("assy-01", "pi-assy-01", ("04778899", "047A7B7C7D7E7F"), ("E0030001",), 4.0),
)


def _readers(plan: StationPlan) -> tuple[str, str]:
    return f"{plan.station}-badge", f"{plan.station}-io"


def registry(plans: tuple[StationPlan, ...] = HARNESS_LINE) -> list[dict[str, Any]]:
    """The device registry of the simulated line (the cloud's `--registry` format)."""
    agents: dict[str, dict[str, Any]] = {}
    for plan in plans:
        entry = agents.setdefault(
            plan.agent, {"agent": plan.agent, "site": SITE, "area": AREA, "devices": []}
        )
        for source in _readers(plan):
            entry["devices"].append({"source": source, "station": plan.station})
    return list(agents.values())


def badge_recorders(agent: Agent, plans: tuple[StationPlan, ...]) -> dict[str, EventRecorder]:
    """The badge reader recorder of each of `agent`'s stations, by station."""
    return {
        plan.station: agent.recorder(_readers(plan)[0], plan.station)
        for plan in plans
        if plan.agent == agent.config.agent
    }


def build_agents(
    data: Path, broker: str, clock: Clock, plans: tuple[StationPlan, ...] = HARNESS_LINE
) -> list[Agent]:
    """One `Agent` per Pi of the line, each with its own outbox file under `data`."""
    stations: dict[str, list[StationConfig]] = {}
    for plan in plans:
        stations.setdefault(plan.agent, []).append(StationConfig(plan.station))
    return [
        Agent(
            AgentConfig(
                agent=name,
                site=SITE,
                area=AREA,
                broker=broker,
                outbox=data / f"{name}.outbox.db",
                heartbeat_s=10.0,
                resend_after_s=5.0,
                role_config=StationRoleConfig(stations=tuple(own)),
            ),
            clock=clock,
        )
        for name, own in stations.items()
    ]


class SimulatedStation:
    """Drives one station's badge reader and machine inputs in a thread, as a shift would."""

    def __init__(
        self,
        plan: StationPlan,
        agent: Agent,
        clock: Clock,
        seed: int,
        stop: threading.Event,
        tap: Callable[[str, str], None],
    ) -> None:
        _, io_source = _readers(plan)
        self.plan = plan
        self._tap = tap
        self.io: EventRecorder = agent.recorder(io_source, plan.station)
        self.clock = clock
        self.rng = random.Random(f"{seed}-{plan.station}")
        self.stop = stop
        self.thread = threading.Thread(target=self._run, name=f"sim-{plan.station}", daemon=True)

    def _wait(self, seconds: float) -> bool:
        """Sleeps plant time; returns False when the demo is stopping."""
        deadline = self.clock.monotonic_ns() + int(seconds * 1e9)
        while not self.stop.is_set():
            left = (deadline - self.clock.monotonic_ns()) / 1e9
            if left <= 0:
                return True
            self.clock.sleep(min(left, 0.1))
        return False

    def _badge(self, operator: str) -> None:
        """Holds the operator's badge at the station's reader (the reader records the read)."""
        self._tap(self.plan.station, operator)

    def _run(self) -> None:
        rng, plan = self.rng, self.plan
        operator = rng.choice(plan.operators)
        if not self._wait(rng.uniform(0.2, 2.0)):
            return
        self._badge(operator)
        self.io.tool_read(rng.choice(plan.tools))
        while not self.stop.is_set():
            self.io.run_signal(True)
            for _ in range(rng.randint(5, 15)):
                if not self._wait(plan.cycle_s * rng.uniform(0.85, 1.3)):
                    return
                self.io.cycles(1)
            self.io.run_signal(False)
            if rng.random() < 0.3:  # changeover: another tool, maybe another operator
                if not self._wait(rng.uniform(2, 5)):
                    return
                self.io.tool_read(rng.choice(plan.tools))
                if len(plan.operators) > 1 and rng.random() < 0.5:
                    self._badge(operator)  # out
                    operator = rng.choice([o for o in plan.operators if o != operator])
                    if not self._wait(1.0):
                        return
                    self._badge(operator)  # in
            elif not self._wait(rng.uniform(0.5, 2)):
                return

    def start(self) -> None:
        """Starts the station's thread."""
        self.thread.start()
