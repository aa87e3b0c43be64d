"""Benchmark: breakdown trigger -> changed station schedule at an MQTT subscriber, 2,000 orders.

The synthetic plant of `bench/plant_scale.py` (300 resources, 2,000 orders of 6 steps) is planned
once and published to a private Mosquitto. Then, repeatedly, a different loaded machine breaks
down at the start of its next job (after the first hour) for four hours. Latency: from
`Replanner.submit(ResourceLost(...))` to the moment a subscriber of that station's retained
schedule topic receives the new version. The kernel's own replan time (the engine's incremental
replan, no I/O) is the floor beside it. The improvement phase runs after the changed schedules
are out (plant budget); the time until the replan is complete and the E+T the phase removed are
reported too.

    python bench/replan_latency.py [--quick] [--events N] [--orders N] [--departures] [--from-agent]
                                   [--learned] [--floor]

With `--learned` learned standard times are in force first: every product step's time per unit
is set to 90 % of its standard by a `TimesChanged` (what an acceptance sends, docs/replan.md),
timed as `learned_replan_ms` (a full rebuild of the 2,000-order plan), and the breakdowns then
replan a plant planned with learned times.

With `--floor` the floor's labour and tooling inputs are in force first (docs/replan.md): one
operator in ten absent for the rest of the shift (`ResourceLost(absent)`), the others here
(`OperatorsPresent`: preferred when steps are placed), one tool in ten on its way from the crib
for 20 minutes (`tool_transfer`) and one tool per group due for service (`tool_service`, out
until further notice) — timed as `floor_replan_ms` — and the breakdowns then replan with them.

With `--from-agent` the clock starts earlier: at the breakdown event's `append()` in a real agent
(outbox + uplink) on the same Mosquitto; the cloud's ingest commits it to its event log, the status
model folds it (the machine is STOPPED for breakdown), `cloud.reactions` turns that into the
`ResourceLost` the replanner gets (with a 4-hour repair estimate); the replanner coalesces bursts
over 250 ms as the cloud service does, and the latency ends when the subscriber has the station's
new schedule: the whole path of a breakdown on the shop floor.

Last line: JSON with p50_ms and p99_ms. Target: p99 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from agent.outbox import Outbox
from agent.uplink import Uplink
from cloud.ingest import Ingest
from cloud.plant import parse_orders, parse_plant
from cloud.reactions import FloorReactions
from cloud.replan import (
    Engine,
    OperatorsPresent,
    PlanPublisher,
    Replanner,
    ResourceLost,
    TimesChanged,
)
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract import AgentPath
from contract.downlink import StationSchedule
from taktline.clock import FakeClock, ScaledClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto

REPAIR = timedelta(hours=4)
QUIET = timedelta(seconds=0.25)  # the cloud service's default (CloudSettings.replan_quiet_s)


class Watcher:
    """A plain MQTT subscriber of every station's retained schedule."""

    def __init__(self, port: int, site: str) -> None:
        self.versions: dict[str, tuple[int, float]] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"taktline/v1/{site}/plan/station/+/schedule", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        t = time.perf_counter()
        sched = StationSchedule.decode(bytes(msg.payload))
        with self.cond:
            self.versions[sched.station] = (sched.version, t)
            self.cond.notify_all()

    def wait_for(self, station: str, above: int, timeout: float = 30.0) -> float:
        """Waits until `station`'s version exceeds `above`; returns when it arrived."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: self.versions.get(station, (0, 0.0))[0] > above, timeout=timeout
            )
        if not ok:
            raise SystemExit(f"no new schedule for {station} within {timeout} s")
        return self.versions[station][1]

    def close(self) -> None:
        """Stops the subscriber."""
        self.client.loop_stop()
        self.client.disconnect()


class FromAgent:
    """The shop floor's path: agent outbox, uplink; the cloud's ingest, status, reactions."""

    AGENT = "pi-bench"

    def __init__(self, url: str, site: str, replanner: Replanner) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="replan-latency-"))
        self.site = site
        self.clock = FakeClock(NOW)
        self.log = EventLog(self.folder / "cloud.db")
        self.log.register_agent(self.AGENT, site, "bench")
        self.status = ResourceStatus()
        self.reactions = FloorReactions(self.status, replanner=replanner, repair_estimate=REPAIR)
        settings = BrokerSettings.from_url(url)
        # The cloud's clock stands at the breakdown's time on the plan's timeline, so the
        # event's corrected time (the stop's start) is where the machine's next job was.
        self.ingest = Ingest(
            self.log, self.status, settings, site=site, clock=self.clock,
            on_commit=self.reactions.committed, client_id="bench-ingest",
        )  # fmt: skip
        self.outbox = Outbox(self.folder / "agent.db", agent=self.AGENT)
        self.uplink = Uplink(self.outbox, AgentPath(site, "bench", self.AGENT), settings)
        self.ingest.start()
        self.uplink.start()
        if not self.ingest.wait_for_connection(10) or not self.uplink.wait_for_connection(10):
            raise RuntimeError("the agent or the cloud could not reach the broker")

    def _append(self, machine: str, kind: str, payload: dict[str, object]) -> None:
        self.outbox.append(kind, payload, source=f"{machine}-io", station=machine)

    def breakdown(self, machine: str, at: datetime) -> float:
        """Readies `machine` (a job on it, running, stopped), then times the breakdown button."""
        # Ingest takes a station's events only from a device the registry places there.
        self.log.register_device(f"{machine}-io", self.AGENT, machine)
        self.clock.set_wall(at)
        self._append(machine, "job.ticket", {"tag": "0A000001", "action": "start"})
        self._append(machine, "machine.signal", {"signal": "run", "on": True})
        self._append(machine, "machine.signal", {"signal": "run", "on": False})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = self.status.machines.get(machine)
            if state is not None and state.state == "STOPPED":
                break
            time.sleep(0.002)
        else:
            raise RuntimeError(f"{machine} never showed as stopped in the cloud")
        self.clock.set_wall(at + timedelta(seconds=5))  # the operator presses the button 5 s later
        start = time.perf_counter()
        self._append(machine, "machine.stop_reason", {"reason": "breakdown"})
        return start

    def close(self) -> None:
        """Stops the agent and the cloud side."""
        self.uplink.stop()
        self.ingest.stop()
        self.outbox.close()
        self.log.close()


def floor_inputs(plant: Any) -> list[Any]:
    """The labour and tooling triggers of `--floor` (see the module text), in one burst."""
    operators = [r.id for r in plant.resources if r.kind == "operator"]
    tools = [r.id for r in plant.resources if r.kind == "tool"]
    local = NOW.astimezone(plant.tz)  # the plant's early shift ends at 14:00 there
    shift_end = local.replace(hour=14, minute=0, second=0, microsecond=0).astimezone(UTC)
    absent = operators[::10]
    triggers: list[Any] = [ResourceLost(o, NOW, shift_end, reason="absent") for o in absent]
    triggers.append(OperatorsPresent(frozenset(operators) - frozenset(absent), NOW))
    triggers += [
        ResourceLost(t, NOW, NOW + timedelta(minutes=20), reason="tool_transfer")
        for t in tools[3::10]
    ]
    triggers += [ResourceLost(t, NOW, None, reason="tool_service") for t in tools[7::10]]
    return triggers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 events (same plant size)")
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--departures", action="store_true", help="congested due dates (plant_scale)")
    ap.add_argument(
        "--from-agent",
        action="store_true",
        help="start at the breakdown event's append() in an agent (ingest, status, reactions)",
    )
    ap.add_argument("--learned", action="store_true", help="learned times (90 %% of standard)")
    ap.add_argument(
        "--floor", action="store_true", help="absences, operators here, tool transfers and service"
    )
    args = ap.parse_args(argv)
    events = 10 if args.quick else args.events
    plant_doc, orders_doc = synthetic_plant(args.seed, args.orders, args.departures)
    plant = parse_plant(plant_doc)
    orders = parse_orders(orders_doc, plant)
    # From the agent, the replanner runs as in the cloud service: plant time moving in real time,
    # bursts coalesced over QUIET (the service's default); from submit() it replans at once.
    clock: FakeClock | ScaledClock = ScaledClock(NOW, 1.0) if args.from_agent else FakeClock(NOW)
    quiet = QUIET if args.from_agent else timedelta(0)
    t0 = time.perf_counter()
    engine = Engine(plant, orders, NOW, frozen=timedelta(minutes=30), seed=args.seed)
    print(f"initial plan: {len(orders)} orders in {time.perf_counter() - t0:.2f} s")
    learned_s = None
    if args.learned:
        steps = [(p.id, s) for p in plant.products.values() for s in p.steps]
        times = tuple((pid, s.id, 0.9 * s.per_unit_min * 60) for pid, s in steps)
        outcome = engine.apply([TimesChanged(times)], NOW)
        learned_s = outcome.seconds
        print(f"learned times: {outcome.orders_moved} orders replanned in {learned_s:.2f} s")
    floor_s = None
    if args.floor:
        outcome = engine.apply(floor_inputs(plant), NOW)
        floor_s = outcome.seconds
        print(f"floor inputs: {outcome.orders_moved} orders replanned in {floor_s:.2f} s")
    with PrivateMosquitto() as broker:
        watcher = Watcher(broker.port, plant.site)
        settings = BrokerSettings.from_url(broker.url)
        with PlanPublisher(settings, plant.site) as publisher:
            replanner = Replanner(
                engine,
                publisher=publisher,
                clock=clock,
                quiet=quiet,
                max_delay=quiet * 8,
            )
            t0 = time.perf_counter()
            replanner.publish_all()
            print(f"initial publish: {time.perf_counter() - t0:.2f} s")
            kinds = {r.id: r.kind for r in plant.resources}
            window = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            loaded = sorted(
                (r for r, jobs in replanner.book.jobs.items() if kinds[r] == "machine"),
                key=lambda r: -sum(j.start >= window for j in replanner.book.jobs[r].values()),
            )
            # each machine breaks down at the start of its next job for the repair time
            at = {
                m: datetime.strptime(
                    min(j.start for j in replanner.book.jobs[m].values() if j.start >= window),
                    "%Y-%m-%dT%H:%M:%SZ",
                ).replace(tzinfo=UTC)
                for m in loaded[:events]
            }
            for m in loaded[:events]:
                watcher.wait_for(m, 0)
            latency, floor, improved, removed = [], [], [], []
            floor_path = FromAgent(broker.url, plant.site, replanner) if args.from_agent else None
            with replanner:
                for m in loaded[:events]:
                    version = publisher.versions[m]
                    done = replanner.stats.completed
                    if floor_path is not None:
                        start = floor_path.breakdown(m, at[m])
                    else:
                        start = time.perf_counter()
                        replanner.submit(ResourceLost(m, at[m], at[m] + REPAIR, reason="breakdown"))
                    got = watcher.wait_for(m, version)
                    latency.append(got - start)
                    while replanner.stats.completed == done:
                        time.sleep(0.001)
                    last, imp = replanner.stats.last, replanner.stats.last_improvement
                    assert last is not None and imp is not None
                    floor.append(last.seconds)
                    improved.append(time.perf_counter() - start)
                    removed.append(imp.cost_before_improvement - imp.cost_after_improvement)
                    print(
                        f"{m}: {last.orders_moved} orders re-placed; changed schedule received "
                        f"after {1000 * latency[-1]:.1f} ms "
                        f"(kernel replan {1000 * last.seconds:.1f} ms); "
                        f"improvement removed {removed[-1]:.0f} E+T in {imp.seconds:.2f} s",
                        flush=True,
                    )
                    if isinstance(clock, FakeClock):
                        clock.advance(60)
            if floor_path is not None:
                floor_path.close()
        watcher.close()
    lat = np.array(latency) * 1000
    summary = {
        "start": "agent append()" if args.from_agent else "Replanner.submit()",
        "orders": len(orders),
        "events": len(latency),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "kernel_replan_p50_ms": round(float(np.percentile(np.array(floor) * 1000, 50)), 1),
        "kernel_replan_p99_ms": round(float(np.percentile(np.array(floor) * 1000, 99)), 1),
        "replan_done_incl_improvement_p50_ms": round(
            float(np.percentile(np.array(improved) * 1000, 50)), 1
        ),
        "improvement_budget_s": plant.improve_seconds,
        "improvement_removed_mean": round(float(np.mean(removed)), 1),
    }
    if learned_s is not None:
        summary["learned_replan_ms"] = round(learned_s * 1000, 1)
    if floor_s is not None:
        summary["floor_replan_ms"] = round(floor_s * 1000, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
