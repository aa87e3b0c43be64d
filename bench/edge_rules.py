"""Edge rules benchmark: signal to output on the agent, beside the round trip through the cloud.

One station agent (real outbox, uplink, station role and rule engine on emulated pins: gpiozero's
`MockFactory`) and the cloud (ingest, SQLite event log, status, stack-light reactions) on a
private Mosquitto, in one process. Output pins are time-stamped when they change
(`perf_counter_ns`), inputs are driven the way a machine would drive them:

1. edge rule, input trigger: the rule's input pulled low -> the rule's output on (the headline
   figure; target p99 < 10 ms);
2. edge rule, event trigger: the run input released -> the station's poll records the
   `machine.signal` -> a rule on that event sets the red lamp (includes the poll and the input's
   debounce), and the rule engine's own part of it (the recorded event to the lamp);
3. the reference, through the cloud: the run input pulled low -> event -> outbox -> MQTT ->
   ingest and commit -> status -> the cloud's stack-light reaction -> MQTT -> agent -> the green
   lamp on (same poll and debounce as 2).

Prints one line per path with p50 and p99 and the ratio to the cloud's round trip, then a JSON
line with `p50_ms` and `p99_ms` (path 1) and the others.

    .venv/bin/python bench/edge_rules.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpiozero.pins.mock import MockPin  # noqa: E402

from agent.config import parse_config  # noqa: E402
from agent.runtime import Agent, start_role  # noqa: E402
from agent.uplink import Uplink  # noqa: E402
from cloud.ingest import Ingest  # noqa: E402
from cloud.reactions import FloorReactions  # noqa: E402
from cloud.stack_lights import StackLights  # noqa: E402
from cloud.status import ResourceStatus  # noqa: E402
from cloud.store import EventLog  # noqa: E402
from hardware.factory import EmulatedHardware  # noqa: E402
from taktline.mqtt import BrokerSettings  # noqa: E402
from taktline.private_broker import PrivateMosquitto  # noqa: E402

SITE, AREA, AGENT, STATION = "plant1", "bench", "pi-bench-01", "assy-01"
RUN, DOOR, PERMISSIVE = 17, 13, 26
GREEN, AMBER, RED = 16, 20, 21
CONFIG = f"""
agent = "{AGENT}"
site = "{SITE}"
area = "{AREA}"
hardware = "emulated"
heartbeat_s = 3600

[[station]]
id = "{STATION}"
debounce_s = 0.002
inputs = {{ run = {RUN} }}
stack_light = {{ green = {GREEN}, amber = {AMBER}, red = {RED} }}

[[rule]]
id = "guard"
when = {{ input = {DOOR} }}
do = {{ output = {PERMISSIVE}, on = true }}

[[rule]]
id = "stopped-red"
when = {{ event = "machine.signal", signal = "run", on = false }}
do = {{ stack_light = "red", station = "{STATION}" }}
"""


class StampedPin(MockPin):  # type: ignore[misc]
    """A mock output pin that notes when it went high (for the latency measurement)."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self.high_at: int | None = None
        self.changed = threading.Event()

    def _change_state(self, value: bool) -> bool:
        changed: bool = super()._change_state(value)
        if changed and value:
            self.high_at = time.perf_counter_ns()
            self.changed.set()
        return changed

    def arm(self) -> None:
        """Forgets the last time: the next rise is measured."""
        self.high_at = None
        self.changed.clear()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(
    trigger: Any, pin: StampedPin, reset: Any, rounds: int, timeout: float = 5.0
) -> list[float]:
    """Latencies in ms of `rounds` triggers until `pin` goes high."""
    out: list[float] = []
    for _ in range(rounds):
        reset()
        time.sleep(0.01)
        pin.arm()
        start = time.perf_counter_ns()
        trigger()
        if not pin.changed.wait(timeout) or pin.high_at is None:
            raise RuntimeError("the output never came on")
        out.append((pin.high_at - start) / 1e6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 20 s)")
    args = parser.parse_args()
    rounds = 100 if args.quick else 500
    cloud_rounds = 30 if args.quick else 150
    with tempfile.TemporaryDirectory() as tmp, PrivateMosquitto() as broker:
        folder = Path(tmp)
        settings = BrokerSettings.from_url(broker.url, backoff_max_s=0.5)
        log = EventLog(folder / "cloud.db")
        log.register_agent(AGENT, SITE, AREA)
        log.register_device(f"{STATION}-io", AGENT, STATION)
        status = ResourceStatus()
        holder: dict[str, Any] = {}
        ingest = Ingest(
            log,
            status,
            settings,
            site=SITE,
            on_commit=lambda records: holder["reactions"].committed(records),
        )
        lights = StackLights(ingest.publish, ingest.path_of_station)
        holder["reactions"] = FloorReactions(status, lights=lights)
        text = f'broker = "{broker.url}"\noutbox = "{folder / "outbox.db"}"\n' + CONFIG
        config = parse_config(tomllib.loads(text), "bench", folder)
        hw = EmulatedHardware()
        factory = hw.pin_factory()
        pins = {n: factory.pin(n, pin_class=StampedPin) for n in (PERMISSIVE, GREEN, RED)}
        agent = Agent(config)
        agent.uplink = Uplink(agent.outbox, agent.path, settings)
        with ingest:
            ingest.wait_for_connection(10)
            agent.start()
            role: Any = start_role(agent, hw)
            try:
                time.sleep(0.5)
                door, run = factory.pin(DOOR), factory.pin(RUN)
                engine = agent.rules
                assert engine is not None

                def door_reset() -> None:
                    door.drive_high()
                    engine._devices[PERMISSIVE].off()

                rule_input = _measure(door.drive_low, pins[PERMISSIVE], door_reset, rounds)

                def run_on() -> None:
                    run.drive_low()
                    time.sleep(0.1)  # running: the cloud turns the light green

                before = len(engine.latencies_ns)
                rule_event = _measure(run.drive_high, pins[RED], run_on, cloud_rounds)
                handoff = [ns / 1e6 for ns in engine.latencies_ns[before:]]

                def run_off() -> None:
                    run.drive_high()
                    time.sleep(0.3)  # stopped: green goes off (red by the rule)

                cloud = _measure(run.drive_low, pins[GREEN], run_off, cloud_rounds)
            finally:
                role.stop()
                agent.stop()
                hw.close()
        log.close()
    p50, p99 = _pct(rule_input, 0.5), _pct(rule_input, 0.99)
    e50, e99 = _pct(rule_event, 0.5), _pct(rule_event, 0.99)
    c50, c99 = _pct(cloud, 0.5), _pct(cloud, 0.99)
    print(
        f"edge rule, input -> output ({rounds} firings):      p50 {p50:7.2f} ms, p99 {p99:7.2f} ms;"
        f" p99 / cloud round trip p99 = {p99 / c99:.3f} (target p99 < 10 ms)"
    )
    print(
        f"edge rule, event -> lamp ({cloud_rounds} firings, poll + debounce): p50 {e50:7.2f} ms,"
        f" p99 {e99:7.2f} ms; p99 / cloud p99 = {e99 / c99:.3f}"
    )
    h50, h99 = _pct(handoff, 0.5), _pct(handoff, 0.99)
    print(
        f"  of which the recorded event -> lamp in the rule engine: p50 {h50:7.3f} ms,"
        f" p99 {h99:7.3f} ms"
    )
    print(
        f"reference: through the cloud ({cloud_rounds} round trips):  p50 {c50:7.2f} ms, "
        f"p99 {c99:7.2f} ms (input -> event -> MQTT -> ingest -> light command -> lamp)"
    )
    result = {
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "rounds": rounds,
        "event_rule_p50_ms": round(e50, 3),
        "event_rule_p99_ms": round(e99, 3),
        "event_handoff_p50_ms": round(h50, 3),
        "event_handoff_p99_ms": round(h99, 3),
        "cloud_round_trip_p50_ms": round(c50, 2),
        "cloud_round_trip_p99_ms": round(c99, 2),
        "cloud_rounds": cloud_rounds,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
