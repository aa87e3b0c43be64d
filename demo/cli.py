"""`taktline demo`: a simulated harness line end to end on an embedded broker and SQLite.

Starts, in one process: the embedded MQTT broker on 127.0.0.1 (or uses `--broker`), the cloud
(event log, status, ingest, web interface on 127.0.0.1) and the plant's agents (`demo.plant`),
each running its role (machine stations, tool-crib gate, rest zone) on an emulated Pi
(`demo.readers`) whose chips and pins the simulation drives (`demo.floor`). The cloud's view of
every change is printed as it happens. Stops on Ctrl-C, SIGTERM or after `--duration` seconds:
the simulation, then the roles, then the agents once their outboxes are drained; then it prints
what the cloud holds.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

__all__ = ["configure", "run"]

_COUNTED = ("job.ticket", "machine.stop_reason", "rest.read", "gps.position", "package.read")


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the demo's options."""
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
        help="folder for the cloud log and outboxes (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="start from empty logs and outboxes")
    parser.add_argument(
        "--seed", type=int, default=7, help="simulation seed (default: %(default)s)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


def _web_server_port(host: str, port: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            from taktline.private_broker import free_port

            return free_port()
    return port


def run(args: argparse.Namespace) -> int:
    """Runs the demo; returns 0 after a clean stop."""
    from agent.runtime import Agent, start_role
    from cloud.registry import apply_registry
    from cloud.service import CloudService, CloudSettings
    from demo.broker import EmbeddedBroker
    from demo.floor import RestZone, SimulatedLorry, SimulatedStation, ToolCrib
    from demo.plant import CRIB, DELIVERIES, HARNESS_LINE, LORRY, REST, agent_configs, registry
    from demo.readers import EmulatedPi
    from taktline.clock import SystemClock, utc_iso
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

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    clock = SystemClock()

    printing = threading.Event()
    printing.set()

    def show(change: str) -> None:
        if printing.is_set() and not args.quiet:
            print(f"{utc_iso(clock.now())[11:19]}  cloud: {change}", flush=True)

    with contextlib.ExitStack() as stack:
        url = args.broker
        if url is None:
            url = stack.enter_context(EmbeddedBroker(free_port())).url
        settings = CloudSettings(
            database=data / "cloud.db",
            broker=url,
            web_host=host,
            web_port=_web_server_port(host, int(port_text)),
        )
        cloud = CloudService(settings, clock=clock, on_change=show)
        configs = agent_configs(data, url)
        apply_registry(cloud.log, registry(configs))
        cloud.ingest.reload_registry()
        stack.enter_context(cloud)
        print(
            f"Taktline demo: {len(configs)} agents, {len(HARNESS_LINE)} stations, a tool-crib "
            f"gate, a rest zone and a lorry, broker {url}\n"
            f"  web interface: {cloud.web.url if cloud.web else 'off'}\n"
            f"  data: {data}/ (status rebuilt from {cloud.rebuilt} logged events)\n"
            f"  stop with Ctrl-C" + (f" (or after {args.duration:g} s)" if args.duration else ""),
            flush=True,
        )
        pis = {c.agent: stack.enter_context(EmulatedPi(c, clock)) for c in configs}
        agents = [stack.enter_context(Agent(c, clock=clock)) for c in configs]
        roles = [stack.enter_context(start_role(a, pis[a.config.agent].hardware)) for a in agents]
        sim_stop = threading.Event()
        stack.callback(sim_stop.set)
        crib = ToolCrib(pis[CRIB[0]], CRIB[1], clock, args.seed)
        rest = RestZone(pis[REST[0]], f"{REST[1]}-door")
        lorry = next(c for c in configs if c.agent == LORRY[0]).role_config
        SimulatedLorry(
            pis[LORRY[0]], lorry.reader.name, lorry.stage_pin, DELIVERIES, clock, args.seed,
            sim_stop,
        ).start()  # fmt: skip
        for number, plan in enumerate(HARNESS_LINE):
            SimulatedStation(
                plan, HARNESS_LINE, pis[plan.agent], clock, args.seed + number, sim_stop, crib, rest
            ).start()
        started = time.monotonic()
        while not stop.wait(0.2):
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
        sim_stop.set()
        time.sleep(0.8)  # tags still in a field are read; then the roles record what they hold
        for role in roles:
            role.stop()
        # Let the agents hand over what they recorded before the cloud goes away.
        for agent in agents:
            agent.uplink.wait_until_drained(5)
        time.sleep(0.3)
        printing.clear()
        snapshot = cloud.status.snapshot()
        print(f"\nThe cloud holds {cloud.log.count()} events at {datetime.now(UTC):%H:%M:%S} UTC:")
        for name, machine in snapshot["machines"].items():
            print(
                f"  {name:9} {'RUNNING' if machine['running'] else 'stopped':8} "
                f"cycles {machine['cycles']:5}  operators {', '.join(machine['operators']) or '-'}"
                f"  tool {machine['tool'] or '-'}"
            )
        facts: Counter[str] = Counter()
        for _, event, _ in cloud.log.replay():
            payload = event["payload"]
            if event["type"] == "tool.gate":
                facts[f"tools {payload['direction']}"] += 1
            elif event["type"] in _COUNTED:
                facts[event["type"]] += 1
        print(
            f"  tool crib: {facts['tools out']} out, {facts['tools in']} in, "
            f"{facts['tools unpaired']} unpaired; job tickets: {facts['job.ticket']}; "
            f"stop reasons: {facts['machine.stop_reason']}; rest zone: {facts['rest.read']}\n"
            f"  lorry: {facts['gps.position']} positions, {facts['package.read']} package reads"
        )
        pending = sum(agent.outbox.depth() for agent in agents)
        print(
            f"  dead letters: {len(cloud.log.dead_letters())}; unconfirmed in outboxes: {pending}"
        )
    return 0
