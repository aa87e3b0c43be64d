"""The demo's harness plant: its stations, tool crib and rest zone, as agent configs.

A wire-harness line: cutting, two crimping presses (crimp applicators are the shared tooling,
kept in the tool crib), sealing, twisting, an assembly board and electrical test. Four station
agents serve them (two stations on a Pi where the pins allow), one agent runs the tool-crib gate,
one the rest zone, and a lorry unit brings wire, terminals and connectors from the supplier.
Each agent's config is built here as a TOML document would be and checked
by `agent.config.parse_config`, so the demo runs exactly what a Pi runs; `registry()` lists the
sources of every agent for the cloud.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from agent.config import AgentConfig, parse_config
from demo.kanban import CARDS, KANBAN_AGENT, KANBAN_STATION, bin_table, rule_tables

__all__ = [
    "ABSENT",
    "AREA",
    "CRIB",
    "DELIVERIES",
    "HARNESS_LINE",
    "LORRY",
    "PLANT_TZ",
    "REST",
    "SITE",
    "TIMEZONE",
    "StationPlan",
    "agent_configs",
    "delivery_name",
    "present_operators",
    "registry",
    "station_pins",
    "waiting_operators",
    "write_manifest",
    "write_tag_directory",
]

SITE, AREA = "plant1", "harness"
#: The plant's time zone: the pages, the console and the summary show its clock; the API writes
#: times with its offset.
TIMEZONE: Final = "Europe/Berlin"
PLANT_TZ: Final = ZoneInfo(TIMEZONE)
CRIB: Final = ("pi-crib-01", "crib-01")
REST: Final = ("pi-rest-01", "rest-01")
LORRY: Final = ("pi-lorry-01", "lorry-01")
#: The badge of the operator who does not come in today (Greta Lind, an assembler): she never
#: badges, so the cloud calls her absent after the plant's grace and plans her work elsewhere.
ABSENT: Final = "04778899"

#: The lorry's deliveries: package tag -> (material, order, quantity), per delivery.
DELIVERIES: Final[dict[str, dict[str, tuple[str, str, float]]]] = {
    "D-2001": {
        "04C0FFEE": ("wire-0.50-blue", "PO-4711", 2000),
        "04C0FFEF": ("terminal-b", "PO-4712", 5000),
    },
    "D-2002": {
        "04C0FF10": ("connector-12p", "PO-4720", 400),
        "04C0FF11": ("wire-0.50-blue", "PO-4711", 1000),
    },
}


@dataclass(frozen=True, slots=True)
class StationPlan:
    """One simulated machine: its process, agent, operators, tools, job tickets and cycle time.

    Attributes:
        shared_tools: The tools come from the tool crib and go back there (crimp applicators).
    """

    station: str
    process: str
    agent: str
    operators: tuple[str, ...]
    tools: tuple[str, ...]
    tickets: tuple[str, ...]
    cycle_s: float
    shared_tools: bool = False


HARNESS_LINE: tuple[StationPlan, ...] = (
    StationPlan(
        "cut-01", "cutting", "pi-cut-01", ("04A1B2C3", "04D4E5F6"), ("E0010001",),
        ("0A010001", "0A010002"), 2.0,
    ),
    StationPlan(
        "crimp-01", "crimping", "pi-crimp-01", ("04112233",), ("E0020001", "E0020002"),
        ("0A020001", "0A020002"), 1.5, shared_tools=True,
    ),
    StationPlan(
        "crimp-02", "crimping", "pi-crimp-01", ("04445566",), ("E0020003", "E0020004"),
        ("0A030001", "0A030002"), 1.5, shared_tools=True,
    ),
    StationPlan(
        "seal-01", "sealing", "pi-seal-01", ("04AA0001",), ("E0040001",),
        ("0A040001", "0A040002"), 1.8,
    ),
    StationPlan(
        "twist-01", "twisting", "pi-seal-01", ("04AA0002",), ("E0050001",),
        ("0A050001", "0A050002"), 2.5,
    ),
    StationPlan(
        "assy-01", "assembly board", "pi-assy-01", ("04778899", "047A7B7C7D7E7F"), ("E0030001",),
        ("0A060001", "0A060002"), 4.0,
    ),
    StationPlan(
        "test-01", "electrical test", "pi-test-01", ("04AA0003",), ("E0060001",),
        ("0A070001", "0A070002"), 3.0,
    ),
)  # fmt: skip

#: The pins of the first and second station on one Pi (see hardware/pins/station.md).
_SLOTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "reader": {"device": 0, "reset_pin": 25},
        "inputs": {"run": 17, "cycle": 27, "good": 22, "scrap": 23},
        "stop_buttons": {"changeover": 5, "breakdown": 6},
        "stack_light": {"green": 16, "amber": 20, "red": 21},
    },
    {
        "reader": {"device": 1, "reset_pin": 24},
        "inputs": {"run": 13, "cycle": 19, "good": 26, "scrap": 4},
        "stop_buttons": {"changeover": 12, "breakdown": 18},
        # The last free pins (I2C and UART TX on a real Pi: fine for a relay module's inputs).
        "stack_light": {"green": 2, "amber": 3, "red": 14},
    },
)


def present_operators(plan: StationPlan) -> tuple[str, ...]:
    """The operators of `plan`'s station who come in today (all but `ABSENT`), first to work."""
    return tuple(o for o in plan.operators if o != ABSENT)


def waiting_operators(plans: tuple[StationPlan, ...] = HARNESS_LINE) -> list[str]:
    """Who comes in but does not start at a machine: they badge at the rest-zone door."""
    starting = {present_operators(p)[0] for p in plans if present_operators(p)}
    return sorted({o for p in plans for o in present_operators(p)} - starting)


def station_pins(plans: tuple[StationPlan, ...], station: str) -> dict[str, Any]:
    """The pin table of `station` on its Pi (its slot among the stations of its agent)."""
    plan = next(p for p in plans if p.station == station)
    slot = [p.station for p in plans if p.agent == plan.agent].index(station)
    return _SLOTS[slot]


def write_tag_directory(folder: Path, plans: tuple[StationPlan, ...] = HARNESS_LINE) -> Path:
    """Writes the stations' tag directory (badges, tools, job tickets) into `folder`."""

    def line(kind: str, tags: list[str]) -> str:
        return f"{kind} = [{', '.join(repr(t).replace(chr(39), chr(34)) for t in tags)}]\n"

    path = folder / "tags.toml"
    path.write_text(
        line("badge", sorted({o for p in plans for o in p.operators}))
        + line("tool", sorted({t for p in plans for t in p.tools}))
        + line("ticket", sorted({t for p in plans for t in p.tickets}))
        + line("kanban", list(CARDS))
    )
    return path


def delivery_name(delivery: str, run: str = "") -> str:
    """A delivery's name in one run (`D-2001-130502`): each run's deliveries are new ones."""
    return f"{delivery}-{run}" if run else delivery


def write_manifest(folder: Path, run: str = "") -> Path:
    """Writes the supplier's manifest of the lorry's deliveries (named for `run`) into `folder`."""
    path = folder / "manifest.json"
    deliveries = [
        {
            "delivery": delivery_name(delivery, run),
            "lines": [
                {"tag": tag, "material": m, "order": o, "quantity": q}
                for tag, (m, o, q) in lines.items()
            ],
        }
        for delivery, lines in DELIVERIES.items()
    ]
    path.write_text(json.dumps({"supplier": "acme-cables", "deliveries": deliveries}, indent=1))
    return path


def agent_configs(
    data: Path,
    broker: str,
    plans: tuple[StationPlan, ...] = HARNESS_LINE,
    run: str = "",
    plc: tuple[str, dict[str, Any]] | None = None,
) -> list[AgentConfig]:
    """One checked config per Pi (stations, crib gate, rest zone, lorry), outboxes in `data`.

    `run` names this run's deliveries in the lorry's manifest (`delivery_name`). `plc` is
    (station, its `[station.plc]` table): that station reads its machine from the PLC, not
    from input pins (its stop buttons and stack light stay on the Pi).
    """
    write_tag_directory(data, plans)
    documents: dict[str, dict[str, Any]] = {}

    def document(agent: str, role: str) -> dict[str, Any]:
        return documents.setdefault(
            agent,
            {
                "agent": agent, "site": SITE, "area": AREA, "role": role, "hardware": "emulated",
                "broker": broker, "outbox": f"{agent}.outbox.db", "heartbeat_s": 10,
                "resend_after_s": 5,
            },
        )  # fmt: skip

    for plan in plans:
        pins = station_pins(plans, plan.station)
        reader = {
            **pins["reader"],
            "name": f"{plan.station}-rfid",
            "reads": ["badge", "tool", "ticket"],
        }
        station: dict[str, Any] = {"id": plan.station, "tags": "tags.toml", "reader": [reader]}
        station.update({k: v for k, v in pins.items() if k != "reader"})
        if plc is not None and plc[0] == plan.station:
            del station["inputs"]
            station["plc"] = plc[1]
        if plan.station == KANBAN_STATION:  # the e-kanban scene's board (demo/kanban.py)
            reader["reads"] = [*reader["reads"], "kanban"]
            station["bin"] = [bin_table()]
        document(plan.agent, "station").setdefault("station", []).append(station)
        if plan.agent == KANBAN_AGENT:
            document(plan.agent, "station")["rule"] = rule_tables()
    gate_agent, gate = CRIB
    document(gate_agent, "gate")["gate"] = {
        "id": gate,
        "window_s": 5,
        "crib": {"device": 0, "reset_pin": 25},
        "floor": {"device": 1, "reset_pin": 24},
    }
    rest_agent, rest = REST
    document(rest_agent, "rest")["rest"] = {
        "id": rest,
        "tags": "tags.toml",
        "reader": [{"name": f"{rest}-door", "device": 0, "reset_pin": 25}],
    }
    lorry_agent, lorry = LORRY
    write_manifest(data, run)
    document(lorry_agent, "lorry")["lorry"] = {
        "id": lorry, "interval_s": 5, "distance_m": 60, "heading_deg": 30, "speed_mps": 1,
        "min_gap_s": 1, "gps_poll_s": 0.5, "fix_hold_s": 1, "manifest": "manifest.json",
        "stage": "switch", "stage_pin": 17,
        "reader": {"name": f"{lorry}-packages", "device": 0, "reset_pin": 25},
    }  # fmt: skip
    return [parse_config(doc, f"demo agent {name}", data) for name, doc in documents.items()]


def registry(configs: list[AgentConfig]) -> list[dict[str, Any]]:
    """The device registry (the cloud's `--registry` format): every source of every agent."""
    entries = []
    for config in configs:
        devices: list[dict[str, Any]] = []
        for station in config.stations:
            devices.append({"source": f"{station.id}-io", "station": station.id})
            devices += [{"source": r.name, "station": station.id} for r in station.readers]
            if station.plc is not None:
                devices.append({"source": station.plc.id, "station": station.id})
        if config.role == "gate":
            devices.append({"source": config.role_config.id})
        if config.role in ("gate", "rest"):
            devices += [{"source": r.name} for r in config.role_config.readers]
        if config.role == "lorry":
            devices.append({"source": f"{config.role_config.id}-gps"})
            if config.role_config.reader is not None:
                devices.append({"source": config.role_config.reader.name})
        entries.append({"agent": config.agent, "site": SITE, "area": AREA, "devices": devices})
    return entries
