"""Scale-out: ingest workers on an MQTT 5 shared subscription, one elected planner, PostgreSQL.

Real processes on a real Mosquitto and a real PostgreSQL: two `taktline cloud --role ingest`
workers share the uplink, two `--role planner` processes compete for the planner lock (one
leads, one waits), three station agents (each its own process, on emulated chips and pins) send
machine events. Mid-stream an ingest worker and then the leading planner are killed with
SIGKILL. Afterwards every event the agents recorded is in the log exactly once (each agent's
sequence numbers 1..N, no gap, no duplicate), the standby leads (its failover time printed), and
every station holds the schedule the new leader published (the retained record), with versions
going on from where the old leader left them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cloud import schema
from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto, free_port
from tests.restart.harness import (
    ROOT,
    SITE,
    STATIONS,
    TICKET,
    Retained,
    StationProcess,
    at,
    station_config,
    write_orders,
    write_plant,
    write_registry,
)
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults, pytest.mark.slow]


class Role:
    """One `taktline cloud --role ...` process; its log is a file (read back for the test)."""

    def __init__(self, folder: Path, name: str, args: list[str]) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.port = free_port()
        web = ["--web", f"127.0.0.1:{self.port}"] if "planner" in args else ["--web", "off"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taktline.cli", "cloud", *args, *web],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def leads(self) -> bool:
        return "planner lock taken" in self.log()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    write_plant(tmp_path)
    write_orders(tmp_path, SystemClock().now())
    write_registry(tmp_path)
    return tmp_path


def _events_by_agent(url: str) -> dict[str, list[tuple[str, int]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(schema.events.c.agent, schema.events.c.instance, schema.events.c.seq)
            ).all()
    finally:
        engine.dispose()
    out: dict[str, list[tuple[str, int]]] = {}
    for agent, instance, seq in rows:
        out.setdefault(str(agent), []).append((str(instance), int(seq)))
    return out


def _station(plant: Path, station: str, broker: str) -> StationProcess:
    path = station_config(plant, station, broker)
    config = json.loads(path.read_text())
    config["resend_after_s"] = 2  # a killed worker's unconfirmed events go again soon
    path.write_text(json.dumps(config))
    return StationProcess(path)


@pytest.fixture
def processes(
    plant: Path, mosquitto: PrivateMosquitto, postgres_url: str
) -> Iterator[dict[str, Any]]:
    common = ["--broker", mosquitto.url, "--db", postgres_url, "--site", SITE,
              "--registry", str(plant / "registry.json")]  # fmt: skip
    planner = [*common, "--role", "planner", "--plant", str(plant / "plant.json"),
               "--orders", str(plant / "orders.json"), "--frozen-minutes", "0",
               "--public-read"]  # fmt: skip
    roles: list[Role] = []
    stations: dict[str, StationProcess] = {}
    try:
        roles += [Role(plant, f"ingest-{n}", [*common, "--role", "ingest"]) for n in (1, 2)]
        roles.append(Role(plant, "planner-1", planner))
        wait_for(roles[2].leads, 30, "the first planner to lead")
        roles.append(Role(plant, "planner-2", planner))  # the standby
        wait_for(lambda: "planner standby" in roles[3].log(), 30, "the standby waiting")
        stations = {s: _station(plant, s, mosquitto.url) for s in STATIONS}
        for proc in stations.values():
            proc.wait_ready()
        yield {"roles": {r.name: r for r in roles}, "stations": stations}
    finally:
        for proc in stations.values():
            proc.quit()
        for role in roles:
            role.stop()


def _traffic(stations: dict[str, StationProcess], rounds: int) -> None:
    """Each station's run signal on and off `rounds` times (each change one event)."""
    for _ in range(rounds):
        for proc in stations.values():
            proc.send("run")
        time.sleep(0.15)  # past the input's debounce: each change is an event
        for proc in stations.values():
            proc.send("stop")
        time.sleep(0.15)


def test_ingest_workers_and_a_standby_planner_survive_kill_9(
    mosquitto: PrivateMosquitto, postgres_url: str, processes: dict[str, Any]
) -> None:
    roles: dict[str, Role] = processes["roles"]
    stations: dict[str, StationProcess] = processes["stations"]
    retained = Retained(mosquitto.port)
    try:
        wait_for(lambda: all(s in p.held for s, p in stations.items()), 30, "first schedules")
        # Events flow the whole time; an ingest worker and then the leader die mid-stream.
        flow = threading.Thread(target=_traffic, args=(stations, 14), daemon=True)
        flow.start()
        time.sleep(1.0)
        roles["ingest-1"].kill()  # whatever it held unconfirmed goes again
        time.sleep(1.5)
        before = {s: p.held[s][0] for s, p in stations.items()}
        roles["planner-1"].kill()
        killed = time.monotonic()
        wait_for(roles["planner-2"].leads, 30, "the standby to lead")
        failover = time.monotonic() - killed
        print(f"\nstandby planner leads {failover:.2f} s after the leader's kill -9")
        flow.join(60)
        # A breakdown after the failover: the new leader folds it from the log and replans.
        stations["crimp-02"].send(f"ticket {TICKET}")  # a job: a stop then is a breakdown
        stations["crimp-02"].send("run")
        time.sleep(0.5)
        stations["crimp-02"].send("stop")
        time.sleep(0.3)
        stations["crimp-02"].send("breakdown")
        for station, proc in stations.items():

            def drained(p: StationProcess = proc) -> bool:
                return int(p.stats()["depth"]) == 0

            wait_for(drained, 60, f"{station}'s outbox drained")
        stats = {s: p.stats() for s, p in stations.items()}
        recorded = {s: int(st["recorded"]) for s, st in stats.items()}
        print(f"resends by station: { {s: st['resends'] for s, st in stats.items()} }")

        # Every event the agents recorded is in the log exactly once.
        logged = _events_by_agent(postgres_url)
        for station in STATIONS:
            keys = logged.get(f"pi-{station}", [])
            assert len(keys) == len(set(keys)) == recorded[station], (station, len(keys))
            for instance in {i for i, _ in keys}:
                seqs = sorted(s for i, s in keys if i == instance)
                assert seqs == list(range(1, len(seqs) + 1)), (station, seqs[:5])

        # Each station holds what the new leader published, versions going on.
        def current() -> bool:
            for station, proc in stations.items():
                record = retained.record(station)
                if record is None or proc.held.get(station) != record:
                    return False
            return True

        wait_for(current, 30, "every station on the new leader's schedules")
        assert any(stations[s].held[s][0] > before[s] for s in STATIONS), before
        assert all(stations[s].held[s][0] >= before[s] for s in STATIONS), before
        # The new leader folded the breakdown from the log and planned crimp-02 out.
        leader = roles["planner-2"]

        def broken_in_plan() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{leader.port}/api/plan") as r:
                plan = json.loads(r.read())
            later = [
                j for j in plan["resources"].get("crimp-02", [])
                if at(j["start"]) > SystemClock().now()
            ]  # fmt: skip
            return not later

        wait_for(broken_in_plan, 20, "crimp-02 out of the new leader's plan")
        assert "planner lock lost" not in leader.log()
    finally:
        retained.close()
