"""Benchmark: breakdown trigger -> changed station schedule at an MQTT subscriber, 2,000 orders.

The synthetic plant of `bench/plant_scale.py` (300 resources, 2,000 orders of 6 steps) is planned
once and published to a private Mosquitto. Then, repeatedly, a different loaded machine breaks
down at the start of its next job (after the first hour) for four hours. Latency: from
`Replanner.submit(ResourceLost(...))` to the moment a subscriber of that station's retained
schedule topic receives the new version. The kernel's own replan time (the engine's incremental
replan, no I/O) is the floor beside it. The improvement phase runs after the changed schedules
are out (plant budget); the time until the replan is complete and the E+T the phase removed are
reported too.

    python bench/replan_latency.py [--quick] [--events N] [--orders N] [--departures]

Last line: JSON with p50_ms and p99_ms. Target: p99 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from cloud.plant import parse_orders, parse_plant
from cloud.replan import Engine, PlanPublisher, Replanner, ResourceLost
from contract.downlink import StationSchedule
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto

REPAIR = timedelta(hours=4)


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 events (same plant size)")
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--departures", action="store_true", help="congested due dates (plant_scale)")
    args = ap.parse_args(argv)
    events = 10 if args.quick else args.events
    plant_doc, orders_doc = synthetic_plant(args.seed, args.orders, args.departures)
    plant = parse_plant(plant_doc)
    orders = parse_orders(orders_doc, plant)
    clock = FakeClock(NOW)
    t0 = time.perf_counter()
    engine = Engine(plant, orders, NOW, frozen=timedelta(minutes=30), seed=args.seed)
    print(f"initial plan: {len(orders)} orders in {time.perf_counter() - t0:.2f} s")
    with PrivateMosquitto() as broker:
        watcher = Watcher(broker.port, plant.site)
        settings = BrokerSettings.from_url(broker.url)
        with PlanPublisher(settings, plant.site) as publisher:
            replanner = Replanner(
                engine,
                publisher=publisher,
                clock=clock,
                quiet=timedelta(0),
                max_delay=timedelta(0),
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
            with replanner:
                for m in loaded[:events]:
                    version = publisher.versions[m]
                    done = replanner.stats.completed
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
                    clock.advance(60)
        watcher.close()
    lat = np.array(latency) * 1000
    summary = {
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
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
