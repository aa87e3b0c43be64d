"""`taktline demo`: a simulated harness line end to end on an embedded broker and SQLite.

Starts, in one process: the embedded MQTT broker on 127.0.0.1 (or uses `--broker`), the cloud
(event log, status, ingest, web interface on 127.0.0.1) and three agents with their outboxes,
whose stations are driven by the simulation in `demo.plant`. The cloud's view of every change is
printed as it happens. Stops on Ctrl-C, SIGTERM or after `--duration` seconds, then prints what
the cloud holds.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

__all__ = ["configure", "run"]


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
    from cloud.registry import apply_registry
    from cloud.service import CloudService, CloudSettings
    from demo.broker import EmbeddedBroker
    from demo.plant import (
        HARNESS_LINE,
        SimulatedStation,
        badge_recorders,
        build_agents,
        registry,
    )
    from demo.readers import BadgeReaders
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
        apply_registry(cloud.log, registry())
        cloud.ingest.reload_registry()
        stack.enter_context(cloud)
        print(
            f"Taktline demo: {len({p.agent for p in HARNESS_LINE})} agents, "
            f"{len(HARNESS_LINE)} stations, broker {url}\n"
            f"  web interface: {cloud.web.url if cloud.web else 'off'}\n"
            f"  data: {data}/ (status rebuilt from {cloud.rebuilt} logged events)\n"
            f"  stop with Ctrl-C" + (f" (or after {args.duration:g} s)" if args.duration else ""),
            flush=True,
        )
        agents = [stack.enter_context(agent) for agent in build_agents(data, url, clock)]
        by_name = {agent.config.agent: agent for agent in agents}
        sim_stop = threading.Event()
        stack.callback(sim_stop.set)
        readers = {
            name: stack.enter_context(
                BadgeReaders(name, badge_recorders(agent, HARNESS_LINE), clock)
            )
            for name, agent in by_name.items()
        }
        for number, plan in enumerate(HARNESS_LINE):
            SimulatedStation(
                plan, by_name[plan.agent], clock, args.seed + number, sim_stop,
                readers[plan.agent].tap,
            ).start()  # fmt: skip
        started = time.monotonic()
        while not stop.wait(0.2):
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
        sim_stop.set()
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
        pending = sum(agent.outbox.depth() for agent in agents)
        print(
            f"  dead letters: {len(cloud.log.dead_letters())}; unconfirmed in outboxes: {pending}"
        )
    return 0
