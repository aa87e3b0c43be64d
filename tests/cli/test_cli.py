"""The console script: every subcommand answers --help, is documented, and fails clearly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from taktline.cli import SUBCOMMANDS, build_parser, main
from taktline.private_broker import free_port
from tests.example_configs import example_copy

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


def test_example_agent_config_is_valid(tmp_path: Path) -> None:
    config = load_config(example_copy("agent-crimp-01.toml", tmp_path))
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


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


@pytest.mark.slow
def test_demo_runs_end_to_end_with_its_web_interface(tmp_path: Path) -> None:
    """The short demo shows the plant, its plan, a breakdown and a late lorry, and loses nothing.

    Read from the demo's console (what a person watching sees) and from its web interface
    while it runs: the plant model's names, the plan, crimp-02 stopped for breakdown.
    """
    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable, "-m", "taktline.cli", "demo", "--duration", "14",
            "--data", str(tmp_path), "--web", f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    status: Any = None
    plan: Any = None
    broken = False
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and demo.poll() is None:
        try:
            status = _get(f"{base}/api/status")
            if status["machines"] and plan is None:
                with urllib.request.urlopen(f"{base}/", timeout=2) as r:
                    assert b"resource status" in r.read()
                plan = _get(f"{base}/api/plan")
            crimp = status["machines"].get("crimp-02", {})
            if crimp.get("state") == "STOPPED" and crimp.get("stop_reason") == "breakdown":
                broken = True
                break
        except OSError:
            pass
        time.sleep(0.3)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    # The web interface shows the demo plant's model and plan, and the breakdown.
    assert status is not None and status["machines"]["crimp-02"]["name"] == "crimp press 2", out
    assert "H-101" in json.dumps(plan), plan
    assert broken, f"the web interface never showed crimp-02 stopped for breakdown\n{out}"
    # Every station received its first schedule, and printed it.
    for station in ("cut-01", "crimp-01", "crimp-02", "seal-01", "twist-01", "assy-01", "test-01"):
        assert f"{station}: schedule v1," in out, out
    assert "cloud: crimp-01: operator" in out
    # The breakdown replanned: crimp-02's jobs went, and crimp-02's station heard of it.
    assert "crimp-02: stack light red" in out, out
    replans = [line for line in out.splitlines() if "-> replan" in line]
    assert any("breakdown at crimp-02 " in line for line in replans), out
    moved = re.search(r"crimp-02: schedule v\d+, \d+ job\(s\) changed [^\n]*next: no jobs", out)
    assert moved, out
    # Greta, who never badges in, is absent after the grace and planned out; everyone else
    # badged in (at their machine or at the rest-zone door) is not.
    assert "floor: Greta Lind (OP-GRETA) does not come in today" in out, out
    assert any("absent at OP-GRETA" in line for line in replans), out
    assert not re.search(r"absent at OP-(?!GRETA)", out), out
    # The crimp presses' operators fetch the applicators the plan names from the crib: on its
    # way, the plan holds one for the crib -> press transfer; mounted, it is back.
    assert re.search(r"cloud: tool crimp applicator \d: out of the crib", out), out
    assert any(re.search(r"tool APP-\d fetched for its next job, there by \d\d:\d\d", line)
               for line in replans), out  # fmt: skip
    # The lorry in the jam made its delivery late, which replanned too.
    assert "lorry: held up in a jam" in out, out
    assert re.search(r"delivery D-2001-\d{6} LATE", out), out
    assert any("late delivery: " in line for line in replans), out
    # The late order says why: its cause chain's primary cause names the floor event (issue 21).
    why = re.search(
        r"late orders: \d+; most: H-\d+ by \d+ min, why: \w+: blocked by [^(]* \(([^()]*)\)", out
    )
    assert why, out
    assert re.match(r"delivery D-2001-\d{6} ready|breakdown at crimp-02 since", why[1]), why[0]
    # The e-kanban scene: with its broker gone, the assembly board's edge rule lit its lamp; the
    # low bin and the tapped card reached the cloud afterwards as replenishment signals.
    assert (
        "assy-01: EDGE RULE bin-low-amber: stack light assy-01 amber blinking, on the Pi, no broker"
        in out
    ), out
    assert "cloud: bin assy-01-bin-conn-8p low: replenish" in out, out
    assert "cloud: kanban card 0C080001 empty: replenish" in out, out
    assert "replenishment signals open: assy-01-bin-conn-8p, 0C080001" in out, out
    # Logistics: the call-off went out after the plan; the ERP's swap of two seat harnesses
    # re-issued the JIS call-off in the new sequence; the simulated AGV brought a bin.
    assert "call-off: acme-cables v1:" in out, out
    assert "erp: order change: H-104" in out, out
    assert re.search(r"call-off: acme-cables v\d+: [^\n]*JIS H-104 H-102 ", out), out
    assert re.search(r"agv-01: transport tr-[0-9a-f]+ done", out), out
    # Names, not tags (issue 23): the console and the summary name operators, tools and jobs.
    assert re.search(r"cloud: crimp-0\d: operator [A-Z][a-z]+ [A-Z][a-z]+ in", out), out
    assert re.search(r"cloud: \S+: job H-\d+/\w+ started", out), out
    summary = out[out.index("The cloud holds") :]
    assert re.search(r"^  crimp-02 +crimp press 2 +STOPPED \(breakdown\)", summary, re.M), summary
    assert not re.search(r"\b(?:04|E0|0A)[0-9A-F]{6}\b", summary), summary  # badges, tools, jobs
    # Nothing was lost on the way: every event the agents recorded is in the cloud's log.
    assert re.search(r"events: [1-9]\d* recorded by the agents, every one in the cloud's log", out)
    assert "dead letters: 0; unconfirmed in outboxes: 0" in out, out
    # twist-01's machine is the simulated PLC (pymodbus, Modbus TCP): its run signal and counts
    # reached the cloud as machine events of the PLC source, and the status counts its cycles.
    assert "twist-01's machine: a simulated PLC, read over modbus at modbus+tcp://" in out, out
    plc = re.search(r"PLC at twist-01 \(modbus\): (\d+) machine signal\(s\)", out)
    assert plc is not None and int(plc.group(1)) >= 2, out  # run on, then at least a count
    cycles = re.search(r"^  twist-01 .* cycles +(\d+) ", out, re.M)
    assert cycles is not None and int(cycles.group(1)) >= 1, out


def test_demo_plant_model_matches_the_simulated_line() -> None:
    """The generated plant model loads, and names every station, tag and material of the demo."""
    from datetime import UTC, datetime

    import jsonschema

    from cloud.master import MasterData
    from cloud.plant import parse_orders, parse_plant
    from demo.plant import DELIVERIES, HARNESS_LINE
    from demo.plant_model import orders_document, plant_document

    start = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    document = plant_document(start)
    schema = json.loads((ROOT / "docs" / "schemas" / "plant.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)  # the documented format
    plant = parse_plant(document)
    MasterData(document)
    orders = parse_orders(orders_document(start), plant)
    machines = {r.id: r for r in plant.resources if r.kind == "machine"}
    assert set(machines) == {p.station for p in HARNESS_LINE}
    for line in HARNESS_LINE:
        for badge in line.operators:
            assert plant.tags[badge].kind == "badge", badge
        for tool in line.tools:
            assert plant.tags[tool].kind == "tool", tool
        for ticket in line.tickets:
            entry = plant.tags[ticket]
            step = next(s for s in plant.products[entry.product].steps if s.id == entry.step)
            assert step.per_unit_min * 60 == pytest.approx(line.cycle_s)
            assert any(g in plant.groups and line.station in plant.groups[g].members
                       for g in (h.group for h in step.holds))  # fmt: skip
    applicators = [r for r in plant.resources if r.tool_type == "crimp_applicator"]
    shared = {t for p in HARNESS_LINE if p.shared_tools for t in p.tools}
    assert {r.tag for r in applicators} == shared
    for lines in DELIVERIES.values():
        for material, _, _ in lines.values():
            assert plant.materials[material].supplier == "acme-cables"
    assert all(start < o.due for o in orders) and len({o.id for o in orders}) == 12


def test_demo_lorry_is_late_only_in_its_jam() -> None:
    """The lorry on its way is ready before the plan needs its load, in the jam minutes after.

    The demo relies on this timing: the cloud flags the delivery late (and replans) only while
    the lorry crawls in its jam.
    """
    from datetime import UTC, datetime, timedelta

    from cloud.plant import parse_orders, parse_plant
    from cloud.replan import Engine, Replanner
    from cloud.status.deliveries import DeliveryState, LorryState, distance_m, estimate
    from demo.floor import CRAWL_MPS, JAM_POINT_M, drive_route
    from demo.plant import DELIVERIES, LORRY
    from demo.plant_model import HANDLING_MIN, READY_MIN, orders_document, plant_document
    from hardware.nmea.make_logs import route

    start = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    plant = parse_plant(plant_document(start))
    replanner = Replanner(Engine(plant, parse_orders(orders_document(start), plant), start))
    replanner.publish_all()
    brought = {m for lines in DELIVERIES.values() for m, _, _ in lines.values()}
    needs = replanner.material_needs()
    need = min(needs[m] for m in brought)
    assert start + timedelta(minutes=READY_MIN) <= need <= start + timedelta(minutes=READY_MIN + 2)

    def ready(lat: float, lon: float, speed: float) -> datetime:
        lorry = LorryState(LORRY[0], lat, lon, speed, "2026-11-23T13:00:00+00:00", "3d")
        view = estimate(
            DeliveryState("D", LORRY[0]), lorry, plant.logistics, None, (), HANDLING_MIN
        )
        return datetime.fromisoformat(view["ready"].replace("Z", "+00:00"))

    drive = drive_route(route())
    on_the_way = max(ready(e.lat, e.lon, e.speed_mps) for e in drive)
    assert on_the_way < need - timedelta(minutes=2), (on_the_way, need)
    first = drive[0]
    jam = next(e for e in drive if distance_m(first.lat, first.lon, e.lat, e.lon) >= JAM_POINT_M)
    in_the_jam = ready(jam.lat, jam.lon, CRAWL_MPS)
    assert in_the_jam > need + timedelta(minutes=2), (in_the_jam, need)


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
def test_the_demo_plc_station_reads_the_simulator_with_a_valid_config(
    tmp_path: Path, protocol: str
) -> None:
    """twist-01's `[station.plc]` table for either server passes the agent's own config check."""
    from demo.plant import agent_configs
    from demo.plc import PLC_STATION, plc_table

    table = plc_table(protocol, 15020)  # type: ignore[arg-type]
    configs = agent_configs(tmp_path, "mqtt://127.0.0.1:1", plc=(PLC_STATION, table))
    station = next(s for c in configs for s in c.stations if s.id == PLC_STATION)
    assert station.plc is not None and station.plc.protocol == protocol
    assert station.plc.id == "twist-01-plc"
    assert set(station.plc.signals) == {"run", "cycle", "good", "scrap", "stop_reason"}
    assert not station.inputs  # the machine's signals come from the PLC, not from pins
