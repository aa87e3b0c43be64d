"""Scale-out benchmark: ingest throughput by number of workers, and the planner's failover time.

Real processes on a private Mosquitto and a private PostgreSQL (or `--pg-url`): 50 simulated
agents (paho clients in this process, one station each) publish their events in batches of 100,
QoS 1, as fast as the broker takes them, to

- one `taktline cloud --role all` (the single process: ingest and the status fold), then
- 1, 2 and 4 `taktline cloud --role ingest` workers sharing the uplink (MQTT 5 shared
  subscription), each on a fresh database;

the figure is events committed per second, from the first publish until the log holds every
event. Then two `--role planner` processes: the leader is killed with SIGKILL and the failover
time is measured until the standby has published every station's schedule again (retained
messages, versions going on). Each run also counts events lost (published, not in the log) and
duplicated (rows beyond the distinct keys: 0 by the unique key, counted anyway).

    .venv/bin/python bench/scale_out.py [--quick | --smoke] [--pg-url postgresql+psycopg://...]

The last line is JSON: `throughput_by_workers`, `single_process_events_per_s`, `failover_s`,
`lost`, `duplicated`. This machine has 2 cores: the workers, PostgreSQL, Mosquitto and the
publishing agents share them, so the figure shows what the database and the interpreter cost
per event, not how far more machines would go (docs/deployment.md, "Scale-out", has the paper
estimate).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from cloud.store import EventLog  # noqa: E402
from contract import AgentPath, Event, SentStamp, StationSchedule, encode_batch  # noqa: E402
from contract.topics import station_schedule_topic  # noqa: E402
from taktline.clock import utc_iso  # noqa: E402
from taktline.private_broker import PrivateMosquitto, free_port  # noqa: E402
from taktline.private_postgres import PrivatePostgres  # noqa: E402

SITE, AREA = "plant1", "harness"
AGENTS, BATCH = 50, 100
PLANNER_STATIONS = ("crimp-01", "crimp-02", "crimp-03")


def agent_messages(total: int) -> dict[str, list[tuple[str, bytes]]]:
    """Each agent's `events` messages in order: (topic, payload)."""
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    out: dict[str, list[tuple[str, bytes]]] = {}
    per_agent = total // AGENTS
    for n in range(AGENTS):
        agent, instance = f"pi-{n:03d}", secrets.token_hex(16)
        messages, seq = [], 0
        while seq < per_agent:
            bodies = []
            for _ in range(min(BATCH, per_agent - seq)):
                seq += 1
                at = start + timedelta(milliseconds=seq)
                event = Event(
                    type="machine.signal", source=agent, agent=agent, instance=instance, seq=seq,
                    time=utc_iso(at), mono_ns=seq * 1_000_000, boot="boot1",
                    payload={"signal": "cycle", "count": 1}, station=f"m{n:03d}",
                )  # fmt: skip
                bodies.append(event.to_json())
            sent = SentStamp(utc_iso(start + timedelta(milliseconds=seq)), seq * 1_000_000, "b")
            topic = AgentPath(SITE, AREA, agent).events
            messages.append((topic, encode_batch(agent, sent, bodies)))
        out[agent] = messages
    return out


def register(url: str) -> None:
    with EventLog(url) as log:
        for n in range(AGENTS):
            log.register_agent(f"pi-{n:03d}", SITE, AREA)
            log.register_device(f"pi-{n:03d}", f"pi-{n:03d}", f"m{n:03d}")


def counts(url: str) -> tuple[int, int]:
    """(rows, distinct keys) in the events table."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
            keys = conn.exec_driver_sql(
                "SELECT count(*) FROM (SELECT DISTINCT instance, seq FROM events) k"
            ).scalar_one()
    finally:
        engine.dispose()
    return int(rows), int(keys)


class Cloud:
    """One `taktline cloud` process with its web port (for /readyz) and its log file."""

    def __init__(self, folder: Path, name: str, args: list[str]) -> None:
        self.port = free_port()
        self.log_path = folder / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taktline.cli", "cloud", *args,
                 "--web", f"127.0.0.1:{self.port}"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def ready(self) -> bool:
        """Whether its /readyz answers 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def log(self) -> str:
        """What it logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


def publish_all(port: int, messages: dict[str, list[tuple[str, bytes]]]) -> None:
    """Every agent publishes its messages in order, QoS 1, all agents at once."""
    clients = []
    for agent, items in messages.items():
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{agent}", protocol=mqtt.MQTTv5
        )
        client.max_inflight_messages_set(20)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append((client, items))
    infos = [c.publish(topic, payload, qos=1) for c, items in clients for topic, payload in items]
    for info in infos:
        info.wait_for_publish(120)
    for client, _ in clients:
        client.loop_stop()
        client.disconnect()


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"scale_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"{server.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def throughput(
    folder: Path, broker: PrivateMosquitto, server: str, role: str, workers: int, total: int
) -> tuple[float, int, int]:
    """(events/s, lost, duplicated) with `workers` processes of `role` on a fresh database."""
    messages = agent_messages(total)
    sent = sum(len(json.loads(p)["events"]) for items in messages.values() for _, p in items)
    with fresh_database(server) as url:
        register(url)
        clouds = [
            Cloud(folder, f"{role}-{workers}-{n}",
                  ["--role", role, "--broker", broker.url, "--db", url, "--site", SITE])
            for n in range(workers)
        ]  # fmt: skip
        try:
            for cloud in clouds:
                _wait(cloud.ready, 60, f"{role} worker ready")
            began = time.perf_counter()
            publisher = threading.Thread(target=publish_all, args=(broker.port, messages))
            publisher.start()
            _wait(lambda: counts(url)[0] >= sent, 600, f"{sent} events in the log")
            elapsed = time.perf_counter() - began
            publisher.join(60)
            time.sleep(0.5)  # anything still arriving would be a duplicate: it is counted
            rows, keys = counts(url)
        finally:
            for cloud in clouds:
                cloud.stop()
    return sent / elapsed, sent - keys, rows - keys


def _plant(folder: Path) -> tuple[Path, Path, Path]:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {"id": "crimp", "per_unit_min": 1, "holds": [{"group": "crimpers"}]}
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [always],
        "resources": [{"id": s, "kind": "machine", "calendar": "always"}
                      for s in PLANNER_STATIONS],
        "groups": [{"id": "crimpers", "kind": "machine", "members": list(PLANNER_STATIONS)}],
        "products": [{"id": "P", "steps": [step]}],
    }  # fmt: skip
    now = datetime.now(UTC)
    orders = [
        {"id": f"O-{n}", "product": "P", "quantity": 30,
         "due": utc_iso(now + timedelta(minutes=40 + 12 * n))[:19] + "Z"}
        for n in range(9)
    ]  # fmt: skip
    registry = [
        {"agent": f"pi-{s}", "site": SITE, "area": AREA,
         "devices": [{"source": f"{s}-io", "station": s}]}
        for s in PLANNER_STATIONS
    ]  # fmt: skip
    paths = folder / "plant.json", folder / "orders.json", folder / "registry.json"
    paths[0].write_text(json.dumps(plant))
    paths[1].write_text(json.dumps({"orders": orders}))
    paths[2].write_text(json.dumps({"agents": registry}))
    return paths


class Schedules:
    """The retained station schedules as they arrive: (station -> newest version, when)."""

    def __init__(self, port: int) -> None:
        self.seen: dict[str, tuple[int, float]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(station_schedule_topic(SITE, s), 1) for s in PLANNER_STATIONS]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        schedule = StationSchedule.decode(bytes(message.payload))
        with self.lock:
            self.seen[schedule.station] = (schedule.version, time.monotonic())

    def all_since(self, moment: float) -> bool:
        """Whether every station's schedule arrived after `moment` (monotonic)."""
        with self.lock:
            got = dict(self.seen)
        return all(s in got and got[s][1] > moment for s in PLANNER_STATIONS)

    def close(self) -> None:
        """Disconnects."""
        self.client.loop_stop()
        self.client.disconnect()


def failover(folder: Path, broker: PrivateMosquitto, server: str) -> tuple[float, float]:
    """(seconds to the standby holding the lock, seconds to every schedule published again)."""
    plant, orders, registry = _plant(folder)
    with fresh_database(server) as url:
        args = ["--role", "planner", "--broker", broker.url, "--db", url, "--site", SITE,
                "--plant", str(plant), "--orders", str(orders), "--registry", str(registry),
                "--frozen-minutes", "0"]  # fmt: skip
        schedules = Schedules(broker.port)
        leader = Cloud(folder, "planner-1", args)
        standby: Cloud | None = None
        try:
            _wait(leader.ready, 60, "the first planner leading")
            _wait(lambda: schedules.all_since(0), 30, "the first schedules")
            standby = Cloud(folder, "planner-2", args)
            _wait(lambda: "planner standby" in standby.log(), 60, "the standby waiting")
            killed = time.monotonic()
            leader.process.kill()
            leader.process.wait(10)
            _wait(lambda: "planner lock taken" in standby.log(), 60, "the standby leading")
            leads = time.monotonic() - killed
            _wait(lambda: schedules.all_since(killed), 60, "schedules from the new leader")
            published = max(t for _, t in schedules.seen.values()) - killed
        finally:
            schedules.close()
            leader.stop()
            if standby is not None:
                standby.stop()
    return leads, published


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events per run")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1,000 events, 1 and 2 workers: the run `make test` does",
    )
    parser.add_argument("--pg-url", default=os.environ.get("TAKTLINE_TEST_PG_URL"))
    args = parser.parse_args()
    total = 1_000 if args.smoke else 20_000 if args.quick else 200_000
    counts_of_workers = (1, 2) if args.smoke else (1, 2, 4)

    with (
        contextlib_postgres(args.pg_url) as server,
        PrivateMosquitto() as broker,
        tempfile.TemporaryDirectory(prefix="scale-out-") as tmp,
    ):
        folder = Path(tmp)
        print(f"{total:,} events from {AGENTS} agents (batches of {BATCH}), Mosquitto + PG")
        single, lost, dup = throughput(folder, broker, server, "all", 1, total)
        print(f"single process (--role all):   {single:9,.0f} events/s")
        by_workers: dict[str, float] = {}
        for n in counts_of_workers:
            rate, l_, d_ = throughput(folder, broker, server, "ingest", n, total)
            lost, dup = lost + l_, dup + d_
            by_workers[str(n)] = round(rate)
            print(
                f"{n} ingest worker(s):            {rate:9,.0f} events/s"
                f"  ({rate / single:.2f} x the single process)"
            )
        leads, published = failover(folder, broker, server)
        print(
            f"failover: standby leads {leads:.2f} s after kill -9, every schedule published "
            f"again after {published:.2f} s (target <= 10 s)"
        )
        print(f"lost {lost}, duplicated {dup}")
    print(
        json.dumps(
            {
                "events": total,
                "agents": AGENTS,
                "single_process_events_per_s": round(single),
                "throughput_by_workers": by_workers,
                "failover_s": round(published, 2),
                "lead_s": round(leads, 2),
                "lost": lost,
                "duplicated": dup,
            }
        )
    )
    return 0 if lost == 0 and dup == 0 and published <= 10 else 1


@contextmanager
def contextlib_postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with PrivatePostgres() as server:
        yield server.url


if __name__ == "__main__":
    sys.exit(main())
