"""`taktline demo`: the whole product on a simulated harness plant, on one machine.

Starts, in one process: the embedded MQTT broker on 127.0.0.1 (or uses `--broker`), the cloud
(event log, resource status, ingest, stack lights, the replanner with the demo plant's model and
orders from `demo.plant_model`, the web interface on 127.0.0.1) and the plant's agents
(`demo.plant`), each running its role (machine stations, tool-crib gate, rest zone, lorry unit) on
an emulated Pi (`demo.readers`) whose chips, pins and GPS receiver the simulation drives
(`demo.floor`). The cloud plans the orders and publishes every station's schedule; the stations
print each version they receive. Then the script (`--breakdown-after`, `--late-after`, scaled
down for a short `--duration`): a crimp press breaks down (its light turns red, the cloud moves
its jobs to the other press), later the lorry is held up in a jam until its materials will be
ready after the line needs them (the cloud flags the delivery late and replans); last, the
e-kanban scene (`demo.kanban`, `--kanban-after`): the assembly board loses the broker, a bin
runs low and an edge rule lights its stack light on the Pi, a kanban card is tapped, the broker
comes back and the cloud raises the replenishment signals. Meanwhile the logistics scene
(`demo.logistics`): the cable supplier's call-off after the first plan, an ERP change between
the breakdown and the jam that swaps two seat harnesses (the JIS call-off is re-issued in the
new sequence), and a simulated AGV (`hardware.agv_sim`, its own process) bringing bins to the
assembly board as planned and for each kanban signal. Every replan is printed with its
cause (`demo.console`). Stops on Ctrl-C, SIGTERM or after `--duration`: the
simulation, then the roles, then the agents once their outboxes are drained; then it prints
what the cloud holds and checks that every event the agents recorded reached the cloud's log.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import secrets
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from demo.plc import PLC_STATION

__all__ = ["configure", "run"]

_COUNTED = (
    "job.ticket", "machine.stop_reason", "rest.read", "gps.position", "package.read",
    "kanban.empty", "rule.fired",
)  # fmt: skip
_DESCRIPTION = """\
The whole product on a simulated wire-harness plant: cutting, two crimp presses (crimp
applicators are the shared tooling, carried through the tool crib's gate), sealing, twisting, an
assembly board and electrical test; operators with skills badging in and out and resting; a lorry
bringing wire, terminals and connectors, tracked by GPS. Everything talks MQTT to the cloud,
which keeps the event log and resource status, serves the web interface (URL printed at start),
plans the orders and publishes each station's schedule (the stations print each version).

One station, twist-01, reads its machine from a simulated PLC (--plc): a real pymodbus (or
asyncua) server the demo starts, whose machine runs, counts and stops by itself.

At the start each crimp press's operator fetches the applicator the plan names for its next job
from the tool crib: while it is on its way (the plant model's crib -> press transfer time) the
plan holds it ("tool APP-1 fetched for its next job, there by HH:MM"); mounted, it is back. Each
applicator's tool life (cycles against its service limit) is on the Tooling page.

Scripted disruptions, visible on the console and in the web interface:
  * an operator who does not come in: Greta Lind (assembly) never badges; 8 s after the start
    (the demo plant's grace after its shift start) the cloud calls her absent and plans her work
    on the other qualified assemblers;
  * a breakdown at crimp-02 (--breakdown-after): its light turns red, the cloud replans and
    moves its jobs to crimp-01; the changed schedules are printed;
  * a late lorry (--late-after): it crawls in a jam, its ETA slips past the time the line needs
    its materials, the cloud flags the delivery late and replans;
  * e-kanban with the broker stopped (--kanban-after, --outage): the assembly board's smart bin
    runs low, an edge rule blinks its stack light amber on the Pi at once, the operator taps the
    empty container's kanban card; the broker comes back and the cloud raises the replenishment
    signals, every event once;
  * call-offs and an AGV: the cable supplier's call-off goes out after the plan; between the
    breakdown and the jam the ERP swaps two seat harnesses and the just-in-sequence call-off is
    re-issued in the new sequence; a simulated AGV (VDA 5050, its own process) brings connector
    bins to the assembly board as planned and for each kanban signal.
With --duration the script is scaled to fit: the absence at 30 % (at most 8 s), the breakdown at
a quarter, the jam at half, the kanban scene at 60 %."""


def _planned_tool(cloud: Any, station: str) -> str | None:
    """The tag of the tool the plan gives `station`'s next job (what its operator fetches)."""
    if cloud.replanner is None:
        return None
    tags = {
        entry.ref: tag for tag, entry in cloud.status.master.tags.items() if entry.kind == "tool"
    }
    for job in sorted(cloud.replanner.jobs_of(station), key=lambda j: j.start):
        if job.tools:
            return tags.get(job.tools[0])
    return None


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the demo's options and says what it shows."""
    parser.description = _DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after SECONDS (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--web", default="127.0.0.1:8080",
        help="web interface HOST:PORT; a busy port falls back to a free one (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--broker", default=None, help="use this MQTT broker URL instead of the embedded one"
    )
    parser.add_argument(
        "--data",
        default="var/demo",
        help="folder for the cloud log, outboxes and the plant model (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="start from empty logs and outboxes")
    parser.add_argument(
        "--seed", type=int, default=7, help="simulation seed (default: %(default)s)"
    )
    parser.add_argument(
        "--breakdown-after", type=float, default=None, metavar="S",
        help="seconds until the scripted breakdown (default: 20, or a quarter of --duration)",
    )  # fmt: skip
    parser.add_argument(
        "--breakdown-at", default="crimp-02", metavar="STATION",
        help="the station that breaks down (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--late-after", type=float, default=None, metavar="S",
        help="seconds until the lorry meets the jam (default: 40, or half of --duration)",
    )  # fmt: skip
    parser.add_argument(
        "--jam", type=float, default=30.0, metavar="S",
        help="how long the lorry crawls in the jam (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--kanban-after", type=float, default=None, metavar="S",
        help="seconds until the e-kanban scene (default: 55, or 60 %% of --duration)",
    )  # fmt: skip
    parser.add_argument(
        "--outage", type=float, default=None, metavar="S",
        help="how long the broker is stopped in the kanban scene (default: 4, less when short)",
    )  # fmt: skip
    parser.add_argument(
        "--plc", choices=("modbus", "opcua", "off"), default="modbus",
        help=f"{PLC_STATION}'s machine is a simulated PLC read over Modbus TCP (pymodbus) or OPC "
        "UA (asyncua), or GPIO pins like the others (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


#: The demo's admin; each run gives it a new random password, printed on the console only.
DEMO_ADMIN = "demo-admin"


def _one_time_admin(cloud: Any) -> str:
    """Makes (or resets) the demo's admin (`cloud`: the CloudService) with a fresh password."""
    from cloud.auth import UserExists

    password = secrets.token_urlsafe(12)
    try:
        cloud.auth_store.add_user(DEMO_ADMIN, "admin", password)
    except UserExists:
        cloud.auth_store.reset(DEMO_ADMIN, password, "admin")
    return password


def _web_server_port(host: str, port: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            from taktline.private_broker import free_port

            return free_port()
    return port


def script_times(args: argparse.Namespace) -> tuple[float, float]:
    """Seconds after the start of the breakdown and of the jam (scaled to a short duration)."""
    breakdown, late = args.breakdown_after, args.late_after
    if breakdown is None:
        breakdown = 20.0 if args.duration is None else min(20.0, 0.25 * args.duration)
    if late is None:
        late = 40.0 if args.duration is None else min(40.0, 0.5 * args.duration)
    return breakdown, late


def _grace_from_floor_start(cloud: Any, start: datetime, clock: Any) -> None:
    """The operators' grace counted from when the floor is up, not from when the run began.

    The plant model says the day shift starts with the run; starting the cloud and eight agents
    can take seconds on a busy machine, and an operator cannot badge in before their reader
    runs. So the grace grows by that start-up time (a master-data change, as a plant manager
    would make it), and everyone but the one who stays home badges in within it.
    """
    late = (clock.now() - start).total_seconds()
    if late <= 0.5 or cloud.master is None:
        return
    document = cloud.master.document()
    planning = document.setdefault("planning", {})
    planning["absent_grace_min"] = round(float(planning.get("absent_grace_min", 0)) + late / 60, 4)
    cloud.master.replace(document)


def absent_time(args: argparse.Namespace) -> float:
    """Seconds after the start when an operator not badged in is absent (the plant's grace)."""
    from demo.plant_model import ABSENT_AFTER_S

    if args.duration is None:
        return ABSENT_AFTER_S
    return min(ABSENT_AFTER_S, 0.3 * float(args.duration))


def kanban_times(args: argparse.Namespace) -> tuple[float, float]:
    """Seconds after the start of the kanban scene, and the broker's outage in it."""
    at, outage = args.kanban_after, args.outage
    if at is None:
        at = 55.0 if args.duration is None else min(55.0, 0.6 * args.duration)
    if outage is None:
        outage = 4.0 if args.duration is None else min(4.0, 0.15 * args.duration)
    return at, outage


def _board_relay(url: str) -> Any:
    """A relay to the broker for the kanban scene's Pi (None for a TLS broker: no cut then)."""
    from urllib.parse import urlsplit

    from demo.relay import LinkRelay

    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        return None
    return LinkRelay((parts.hostname or "127.0.0.1", parts.port or 1883))


def _relayed(url: str, relay: Any) -> str:
    """`url` through `relay`, with a short reconnect backoff (back within a second or two)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, "backoff_max_s=1") if q)
    auth = f"{parts.username}:{parts.password}@" if parts.username else ""
    return f"mqtt://{auth}{relay.host}:{relay.port}?{query}"


def _worst_late(cloud: Any) -> str:
    """The most late order of the current plan and why (its cause chain's primary cause)."""
    report = cloud.replanner.gap_report if cloud.replanner is not None else {"orders": []}
    late = [o for o in report["orders"] if o["status"] == "late"]
    if not late:
        return "late orders: none"
    worst = max(late, key=lambda o: int(o["tardiness_min"]))
    return (
        f"late orders: {len(late)}; most: {worst['order']} by {worst['tardiness_min']} min, why: "
        f"{worst.get('cause') or 'not known'}"
    )


def _lost_events(agents: list[Any], keys: list[tuple[str, int]]) -> tuple[int, int]:
    """(recorded by the agents' outboxes, of those missing from the cloud's log)."""
    logged: dict[str, set[int]] = {}
    for instance, seq in keys:
        logged.setdefault(instance, set()).add(seq)
    recorded = missing = 0
    for agent in agents:
        outbox = agent.outbox
        seqs = logged.get(outbox.instance, set())
        recorded += outbox.next_seq - 1
        missing += sum(1 for seq in range(1, outbox.next_seq) if seq not in seqs)
    return recorded, missing


def run(args: argparse.Namespace) -> int:
    """Runs the demo; returns 0 after a clean stop."""
    from agent.roles.station import JobState
    from agent.runtime import Agent, start_role
    from cloud.registry import apply_registry
    from cloud.replan import DeliveryLate
    from cloud.service import CloudService, CloudSettings
    from demo.broker import EmbeddedBroker
    from demo.console import Console, DeliveryWatch, PlanReporter, StationLines
    from demo.floor import RestZone, SimulatedLorry, SimulatedStation, ToolCrib
    from demo.kanban import KANBAN_AGENT, KANBAN_STATION, KanbanScene
    from demo.logistics import LogisticsWatch, pull_forward, start_agv
    from demo.names import Names
    from demo.plant import (
        ABSENT,
        CRIB,
        DELIVERIES,
        HARNESS_LINE,
        LORRY,
        PLANT_TZ,
        REST,
        TIMEZONE,
        agent_configs,
        delivery_name,
        registry,
        waiting_operators,
    )
    from demo.plant_model import OPERATORS, write_master_data
    from demo.plc import SimulatedPlc
    from demo.readers import EmulatedPi
    from taktline.clock import SystemClock
    from taktline.humane import local_time
    from taktline.private_broker import free_port

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = Path(args.data)
    if args.fresh:
        for old in data.glob("*.db*"):
            old.unlink()
    data.mkdir(parents=True, exist_ok=True)
    host, _, port_text = args.web.rpartition(":")
    host = host or "127.0.0.1"
    stop = threading.Event()
    if args.breakdown_at not in {p.station for p in HARNESS_LINE}:
        raise SystemExit(f"--breakdown-at: no station {args.breakdown_at!r} in the demo plant")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    clock = SystemClock()
    console = Console(clock, quiet=args.quiet)
    start = clock.now()
    run_id = f"{start:%H%M%S}"
    absent_s = absent_time(args)
    plant_path, orders_path = write_master_data(data, start, absent_s)

    with contextlib.ExitStack() as stack:
        url = args.broker
        if url is None:
            url = stack.enter_context(EmbeddedBroker(free_port())).url
        settings = CloudSettings(
            database=data / "cloud.db",
            broker=url,
            web_host=host,
            web_port=_web_server_port(host, int(port_text)),
            plant=plant_path,
            orders=orders_path,
            # Each run writes the demo's orders due relative to its start; on a rerun (no
            # --fresh) the log already holds them, so the new file is an ERP change to adjust.
            order_policy="adjust",
            public_read=True,  # everyone watching the demo sees every page; changes need a login
            floor_tick_s=0.5,  # the absence scene takes seconds, not a shift's quarter hour
        )
        names = Names(lambda: cloud.status.master)  # tags printed as the plant's names
        cloud = CloudService(
            settings, clock=clock, on_change=lambda c: console.line("cloud", names.line(c))
        )
        admin_password = _one_time_admin(cloud)
        plc = None
        if args.plc != "off":
            cycle_s = next(p.cycle_s for p in HARNESS_LINE if p.station == PLC_STATION)
            plc = stack.enter_context(SimulatedPlc(args.plc, cycle_s, args.seed))
        plc_table = (PLC_STATION, plc.table()) if plc is not None else None
        configs = agent_configs(data, url, run=run_id, plc=plc_table)
        relay = _board_relay(url)  # the link the kanban scene cuts (demo/relay.py)
        if relay is not None:
            stack.enter_context(relay)
            configs = [
                dataclasses.replace(c, broker=_relayed(url, relay))
                if c.agent == KANBAN_AGENT
                else c
                for c in configs
            ]
        apply_registry(cloud.log, registry(configs))
        cloud.ingest.reload_registry()
        assert cloud.replanner is not None and cloud.publisher is not None
        stations = [p.station for p in HARNESS_LINE]
        reporter = PlanReporter(cloud.replanner, cloud.publisher, stations, console)
        cloud.reactions.replanner = reporter  # every trigger passes the console on its way
        schedules = stack.enter_context(StationLines(console, loud=reporter.loud))
        stack.enter_context(cloud)
        breakdown_s, late_s = script_times(args)
        print(
            f"Taktline demo: {len(configs)} agents, {len(HARNESS_LINE)} stations, a tool-crib "
            f"gate, a rest zone and a lorry, broker {url}\n"
            f"  web interface: {cloud.web.url if cloud.web else 'off'} (the andon board; the "
            f"overview: /overview, the plan: /plan, its gaps: /gaps, deliveries: /deliveries, "
            f"labour: /labour, tooling: /tooling)\n"
            f"  log in to change things: {DEMO_ADMIN} / {admin_password} (admin, this run only)\n"
            f"  data: {data}/ (the status of {cloud.log.count()} logged events; plant model "
            f"{plant_path.name}, orders {orders_path.name})\n"
            f"  script: breakdown at {args.breakdown_at} after {breakdown_s:g} s, the lorry in "
            f"a jam after {late_s:g} s for {args.jam:g} s, the e-kanban scene after "
            f"{kanban_times(args)[0]:g} s\n"
            + (
                f"  {PLC_STATION}'s machine: a simulated PLC, read over {args.plc} at {plc.url}\n"
                if plc is not None
                else ""
            )
            + f"  times on the plant's clock ({TIMEZONE}); stop with Ctrl-C"
            + (f" (or after {args.duration:g} s)" if args.duration else ""),
            flush=True,
        )
        reporter.start()
        agv = start_agv(url)  # the simulated AGV, a process speaking VDA 5050 (hardware/)
        stack.callback(agv.wait, 5)
        stack.callback(agv.terminate)
        logistics = LogisticsWatch(cloud.status.logistics_view, console.line)
        pis = {c.agent: stack.enter_context(EmulatedPi(c, clock)) for c in configs}
        sim_stop = threading.Event()
        kanban_s, outage_s = kanban_times(args)
        scene = KanbanScene(  # wires the bin's HX711 before the station opens its pins
            pis[KANBAN_AGENT], f"{KANBAN_STATION}-rfid", clock, sim_stop, at_s=kanban_s,
            outage_s=outage_s, pause_broker=relay.cut if relay else None,
            resume_broker=relay.restore if relay else None,
            say=lambda text: console.line("kanban", text),
        )  # fmt: skip
        agents = [stack.enter_context(Agent(c, clock=clock)) for c in configs]
        board = next(a for a in agents if a.config.agent == KANBAN_AGENT)
        board.listeners.append(
            lambda event: (
                console.line(
                    KANBAN_STATION,
                    f"EDGE RULE {event.payload['rule']}: {'; '.join(event.payload['actions'])}, "
                    f"on the Pi{', no broker' if scene.broker_down else ''}",
                )
                if event.type == "rule.fired"
                else None
            )
        )
        roles = [stack.enter_context(start_role(a, pis[a.config.agent].hardware)) for a in agents]
        _grace_from_floor_start(cloud, start, clock)
        stack.callback(sim_stop.set)
        scene.start()
        crib = ToolCrib(pis[CRIB[0]], CRIB[1], clock, args.seed)
        rest = RestZone(pis[REST[0]], f"{REST[1]}-door")
        absent = OPERATORS[ABSENT]
        console.line(
            "floor",
            f"{absent[1]} ({absent[0]}) does not come in today: absent {absent_s:g} s after the"
            " start unless she badges in",
        )
        for tag in waiting_operators(HARNESS_LINE):  # in early, waiting for a changeover
            rest.arrive(tag)
        lorry = next(c for c in configs if c.agent == LORRY[0]).role_config
        started = time.monotonic()
        deliveries = {delivery_name(d, run_id): lines for d, lines in DELIVERIES.items()}
        SimulatedLorry(
            pis[LORRY[0]], lorry.reader.name, lorry.stage_pin, deliveries, clock, args.seed,
            sim_stop, jam_at=clock.monotonic_ns() / 1e9 + late_s, jam_s=args.jam,
            on_jam=lambda d: console.line(
                "lorry", f"held up in a jam with delivery {d}, crawling towards the plant"
            ),
        ).start()  # fmt: skip
        running: dict[str, str] = {}  # jobs a station kept from an earlier run (no --fresh)
        for role in roles:
            state = getattr(role, "jobs", None)
            if isinstance(state, JobState):
                running.update(state.jobs)
        breakdown = threading.Event()
        for number, plan in enumerate(HARNESS_LINE):
            station = SimulatedStation(
                plan, HARNESS_LINE, pis[plan.agent], clock, args.seed + number, sim_stop, crib,
                rest, breakdown=breakdown if plan.station == args.breakdown_at else None,
                on_breakdown=lambda s: console.line(
                    s, "BREAKDOWN: the machine stops, the operator presses the breakdown button"
                ),
                running=running.get(plan.station),
                plc=plc is not None and plan.station == PLC_STATION,
                planned_tool=lambda s: _planned_tool(cloud, s),
            )  # fmt: skip
            station.start()
        watch = DeliveryWatch(cloud.status.snapshot, console, only=deliveries.__contains__)
        reporter.on_trigger = lambda t: watch.look() if isinstance(t, DeliveryLate) else None
        looked = 0.0
        reorder_s, reordered = (breakdown_s + late_s) / 2, False
        while not stop.wait(0.2):
            elapsed = time.monotonic() - started
            if elapsed >= breakdown_s and not breakdown.is_set():
                breakdown.set()
            if elapsed >= reorder_s and not reordered and cloud.desk is not None:
                reordered = True
                orders = dict(cloud.replanner.engine.orders)
                if {"H-102", "H-104"} <= orders.keys():
                    change = pull_forward(cloud.desk, orders, "H-104", "H-102")
                    console.line("erp", f"order change: {change} (the seat harnesses swap)")
            logistics.look()
            if elapsed - looked >= 1.0:
                looked = elapsed
                watch.look()
            if args.duration is not None and elapsed >= args.duration:
                break
        sim_stop.set()
        time.sleep(0.8)  # tags still in a field are read; then the roles record what they hold
        for role in roles:
            role.stop()
        # Let the agents hand over what they recorded before the cloud goes away.
        for agent in agents:
            agent.uplink.wait_until_drained(5)
        time.sleep(0.3)
        console.printing.clear()
        snapshot = cloud.status.snapshot()
        at = local_time(datetime.now(UTC), PLANT_TZ, seconds=True)
        print(f"\nThe cloud holds {cloud.log.count()} events at {at}:")
        for station, machine in snapshot["machines"].items():
            state = machine["state"] + (
                f" ({machine['stop_reason']})" if machine.get("stop_reason") else ""
            )
            tool = names.of(machine["tool"]) if machine["tool"] else "-"
            print(
                f"  {station:9} {machine['name']:24} {state:21} cycles {machine['cycles']:5}  "
                f"operators {names.all(machine['operators'])}  tool {tool}"
            )
        facts: Counter[str] = Counter()
        plc_source = f"{PLC_STATION}-plc"
        for _, event, _ in cloud.log.replay():
            payload = event["payload"]
            if event["source"] == plc_source:
                facts[f"plc {event['type']}"] += 1
            if event["type"] == "tool.gate":
                facts[f"tools {payload['direction']}"] += 1
            elif event["type"] in _COUNTED:
                facts[event["type"]] += 1
        late = sorted(watch.ever_late)
        print(
            f"  tool crib: {facts['tools out']} out, {facts['tools in']} in, "
            f"{facts['tools unpaired']} unpaired; job tickets: {facts['job.ticket']}; "
            f"stop reasons: {facts['machine.stop_reason']}; rest zone: {facts['rest.read']}\n"
            f"  lorry: {facts['gps.position']} positions, {facts['package.read']} package reads;"
            f" deliveries flagged late: {', '.join(late) or 'none'}"
        )
        if plc is not None:
            print(
                f"  PLC at {PLC_STATION} ({args.plc}): {facts['plc machine.signal']} machine "
                f"signal(s), {facts['plc machine.stop_reason']} stop reason(s) from {plc_source}"
            )
        versions = ", ".join(f"{s} v{v}" for s, v in sorted(schedules.versions.items()))
        causes = ", ".join(f"{n} {k}" for k, n in sorted(reporter.causes.items())) or "none"
        print(
            f"  plan: {reporter.replans} replan(s) (triggers: {causes}); schedules the stations "
            f"hold: {versions or 'none'}"
        )
        print(f"  {_worst_late(cloud)}")
        loop = cloud.status.kanban_view()["loops"].get("KB-CONN-8P", {})
        signals = ", ".join(s.get("card") or s.get("bin", "") for s in loop.get("signals", []))
        print(
            f"  kanban: {facts['kanban.empty']} card(s) tapped empty, {facts['rule.fired']} edge "
            f"rule firing(s); replenishment signals open: {signals or 'none'}"
        )
        logistics.look()
        versions = ", ".join(f"{s} v{v}" for s, v in sorted(logistics.versions.items()))
        print(
            f"  logistics: call-offs {versions or 'none'}; AGV transports: {logistics.done} "
            f"done, {logistics.failed} failed, {len(logistics.states)} in all"
        )
        recorded, missing = _lost_events(agents, cloud.log.event_keys())
        pending = sum(agent.outbox.depth() for agent in agents)
        print(
            f"  events: {recorded} recorded by the agents, "
            + ("every one in the cloud's log" if not missing else f"{missing} MISSING")
            + f"; dead letters: {len(cloud.log.dead_letters())}; "
            f"unconfirmed in outboxes: {pending}"
        )
    return 0
