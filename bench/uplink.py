"""Uplink benchmark: the durable path from `append()` to the cloud's commit, beside its references.

Runs on a private Mosquitto (the same one the tests use), with the agent in its own process and
the cloud (ingest + SQLite event log + status) in this one, and measures:

1. the disk's fsync rate (the hardware limit of a durable append) and the outbox's append rate
   with `synchronous=FULL` beside it;
2. the drain rate of a backlog (100,000 events; 20,000 with --quick) from outbox to cloud log,
   beside the naive baseline: one paho QoS 1 publish per event to a bare subscriber (no outbox,
   no validation, no log);
3. end-to-end latency at 500 events/s live (append to cloud commit; p50/p99), beside the naive
   baseline's publish-to-receipt latency at the same rate;
4. back-pressure: sends per event while a 40,000-event backlog drains with a short resend
   timeout (0.2 s, far below the time the cloud needs for the window in flight), beside the same
   drain with a timeout that never fires (1.0 sends per event, the floor): the adaptive resend
   sends only the oldest batch again, after four times the confirmation time it sees.

Prints one line per measurement with the ratio to its reference, then a JSON line with
`drain_events_per_s` and `live_p99_ms` (targets: >= 30,000/s and < 100 ms).

    .venv/bin/python bench/uplink.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from agent.outbox import Outbox  # noqa: E402
from agent.uplink import Uplink  # noqa: E402
from cloud.ingest import Ingest  # noqa: E402
from cloud.status import ResourceStatus  # noqa: E402
from cloud.store import EventLog, LogRecord  # noqa: E402
from contract import AgentPath  # noqa: E402
from taktline.mqtt import BrokerSettings  # noqa: E402
from taktline.private_broker import PrivateMosquitto  # noqa: E402

AGENT = "pi-bench-01"
PATH = AgentPath("plant1", "bench", AGENT)
PAYLOAD = {"signal": "cycle", "count": 1}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1. fsync and append -------------------------------------------------------------------------


def fsync_rate(folder: Path, seconds: float) -> float:
    path = folder / "fsync.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        os.write(fd, b"x" * 200)
        os.fsync(fd)
        count += 1
    os.close(fd)
    return count / (time.perf_counter() - start)


def append_rate(folder: Path, seconds: float) -> float:
    with Outbox(folder / "append.db", agent=AGENT) as outbox:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            outbox.append("machine.signal", PAYLOAD, source=AGENT, station="m1")
            count += 1
        return count / (time.perf_counter() - start)


# --- the agent side, in its own process ----------------------------------------------------------


def _agent_drain(
    outbox_path: str, url: str, ready: Any, resend_after_s: float = 10.0, sends: Any = None
) -> None:
    outbox = Outbox(outbox_path, agent=AGENT, synchronous="NORMAL")
    ready.wait()
    with Uplink(outbox, PATH, BrokerSettings.from_url(url), resend_after_s=resend_after_s) as up:
        up.wait_until_drained(600)
        if sends is not None:
            sends.put((up.stats.events_sent, up.stats.resends))
    outbox.close()


def _agent_live(outbox_path: str, url: str, rate: float, seconds: float) -> None:
    outbox = Outbox(outbox_path, agent=AGENT)
    with Uplink(outbox, PATH, BrokerSettings.from_url(url)) as uplink:
        uplink.wait_for_connection(10)
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            outbox.append("machine.signal", PAYLOAD, source=AGENT, station="m1")
        uplink.wait_until_drained(60)
    outbox.close()


def _naive_publisher(url_port: int, count: int, rate: float | None) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    start = time.perf_counter()
    infos: deque[mqtt.MQTTMessageInfo] = deque()
    for n in range(count):
        if rate is not None:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        # Backpressure as a careful naive client would apply it: at most 1,000 unacknowledged.
        while len(infos) >= 1000:
            infos.popleft().wait_for_publish(60)
        body = json.dumps({"t": time.time(), "n": n, "payload": PAYLOAD}).encode()
        infos.append(client.publish("naive/events", body, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


# --- the cloud side, here ------------------------------------------------------------------------


class CloudProbe:
    """Ingest into a real event log, timing every commit."""

    def __init__(self, folder: Path, url: str, *, timed: bool = False) -> None:
        self.timed = timed  # per-event latency: the live run; the drain measures throughput only
        self.log = EventLog(folder / "cloud.db")
        self.log.register_agent(AGENT, PATH.site, PATH.area)
        self.committed = 0
        self.latencies_ms: list[float] = []
        self.first = 0.0
        self.last = 0.0
        self.ingest = Ingest(
            self.log,
            ResourceStatus(),
            BrokerSettings.from_url(url),
            site=PATH.site,
            on_commit=self._on_commit,
        )

    def _on_commit(self, records: list[LogRecord]) -> None:
        now = time.time()
        if not self.committed:
            self.first = time.perf_counter()
        self.committed += len(records)
        self.last = time.perf_counter()
        if not self.timed:
            return
        for record in records:
            made = datetime.fromisoformat(record.device_time[:-1]).replace(tzinfo=UTC)
            self.latencies_ms.append((now - made.timestamp()) * 1000)

    def wait_for(self, count: int, timeout: float) -> None:
        """Blocks until `count` events are committed; raises after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.committed < count and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.committed < count:
            raise RuntimeError(f"only {self.committed} of {count} events reached the cloud")


class NaiveSubscriber:
    """The baseline's receiving end: counts messages and their publish-to-receipt latency."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.latencies_ms: list[float] = []
        self.first = 0.0
        self.last = 0.0
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe("naive/events", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.ready.wait(10)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        if not self.count:
            self.first = time.perf_counter()
        self.count += 1
        self.last = time.perf_counter()
        self.latencies_ms.append((now - json.loads(message.payload)["t"]) * 1000)

    def wait_for(self, count: int, timeout: float) -> None:
        """Blocks until `count` messages arrived or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        """Disconnects."""
        self.client.loop_stop()
        self.client.disconnect()


# --- the runs ------------------------------------------------------------------------------------


def drain(folder: Path, broker: PrivateMosquitto, backlog: int) -> tuple[float, float]:
    outbox_path = folder / "backlog.db"
    with Outbox(outbox_path, agent=AGENT, synchronous="NORMAL") as outbox:
        for _ in range(backlog):
            outbox.append("machine.signal", PAYLOAD, source=AGENT, station="m1")
    (folder / "drain").mkdir()
    cloud = CloudProbe(folder / "drain", broker.url)
    with cloud.ingest:
        cloud.ingest.wait_for_connection(10)
        ready = mp.Event()
        agent = mp.Process(target=_agent_drain, args=(str(outbox_path), broker.url, ready))
        agent.start()
        start = time.perf_counter()
        ready.set()
        cloud.wait_for(backlog, 600)
        ours = backlog / (time.perf_counter() - start)
        agent.join(60)
    naive_sub = NaiveSubscriber(broker.port)
    start = time.perf_counter()
    publisher = mp.Process(target=_naive_publisher, args=(broker.port, backlog, None))
    publisher.start()
    naive_sub.wait_for(backlog, 600)
    naive = naive_sub.count / (time.perf_counter() - start)
    publisher.join(60)
    naive_sub.close()
    return ours, naive


def sends_per_event(
    folder: Path, broker: PrivateMosquitto, backlog: int, resend_after_s: float, name: str
) -> tuple[float, int, int]:
    """(events sent / backlog, resends, duplicates at the cloud) for one drain."""
    outbox_path = folder / f"{name}.db"
    with Outbox(outbox_path, agent=AGENT, synchronous="NORMAL") as outbox:
        for _ in range(backlog):
            outbox.append("machine.signal", PAYLOAD, source=AGENT, station="m1")
    (folder / name).mkdir()
    cloud = CloudProbe(folder / name, broker.url)
    with cloud.ingest:
        cloud.ingest.wait_for_connection(10)
        ready = mp.Event()
        sends: Any = mp.Queue()
        agent = mp.Process(
            target=_agent_drain, args=(str(outbox_path), broker.url, ready, resend_after_s, sends)
        )
        agent.start()
        ready.set()
        cloud.wait_for(backlog, 600)
        sent, resends = sends.get(timeout=120)
        agent.join(60)
        duplicates = cloud.ingest.stats.duplicates
    return sent / backlog, int(resends), int(duplicates)


def live(
    folder: Path, broker: PrivateMosquitto, rate: float, seconds: float
) -> tuple[list[float], list[float]]:
    (folder / "live").mkdir()
    cloud = CloudProbe(folder / "live", broker.url, timed=True)
    count = int(rate * seconds)
    with cloud.ingest:
        cloud.ingest.wait_for_connection(10)
        agent = mp.Process(
            target=_agent_live, args=(str(folder / "live.db"), broker.url, rate, seconds)
        )
        agent.start()
        cloud.wait_for(count, seconds + 60)
        agent.join(60)
    naive_sub = NaiveSubscriber(broker.port)
    publisher = mp.Process(target=_naive_publisher, args=(broker.port, count, rate))
    publisher.start()
    naive_sub.wait_for(count, seconds + 60)
    publisher.join(60)
    naive_sub.close()
    return cloud.latencies_ms, naive_sub.latencies_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller backlog, shorter live run")
    args = parser.parse_args()
    backlog = 20_000 if args.quick else 100_000
    live_s = 5.0 if args.quick else 20.0
    rate = 500.0
    mp.set_start_method("fork")
    with tempfile.TemporaryDirectory(prefix="taktline-bench-") as tmp, PrivateMosquitto() as broker:
        folder = Path(tmp)
        fsyncs = fsync_rate(folder, 1.0 if args.quick else 3.0)
        appends = append_rate(folder, 1.0 if args.quick else 3.0)
        print(
            f"durable append (synchronous=FULL): {appends:9,.0f} events/s; "
            f"disk fsync limit {fsyncs:9,.0f}/s; ratio {appends / fsyncs:.2f}"
        )
        ours, naive = drain(folder, broker, backlog)
        print(
            f"backlog drain of {backlog:,} events:  {ours:9,.0f} events/s; "
            f"naive one-publish-per-event {naive:9,.0f}/s; ratio {ours / naive:.2f}"
        )
        lat, naive_lat = live(folder, broker, rate, live_s)
        p50, p99 = _pct(lat, 0.5), _pct(lat, 0.99)
        n50, n99 = _pct(naive_lat, 0.5), _pct(naive_lat, 0.99)
        print(
            f"live at {rate:.0f} events/s for {live_s:g} s: p50 {p50:6.1f} ms, p99 {p99:6.1f} ms "
            f"(append to cloud commit); naive publish-to-receipt p50 {n50:6.1f} ms, "
            f"p99 {n99:6.1f} ms; p99 ratio {p99 / n99:.2f}"
        )
        pressure = 40_000
        short, resends, duplicates = sends_per_event(folder, broker, pressure, 0.2, "short")
        floor, _, _ = sends_per_event(folder, broker, pressure, 600.0, "long")
        print(
            f"backlog of {pressure:,} with a 0.2 s resend timeout: {short:.2f} sends per event "
            f"({resends} resends, {duplicates:,} duplicates at the cloud); with a timeout that "
            f"never fires {floor:.2f}; ratio {short / floor:.2f} (target <= 1.2)"
        )
        result = {
            "sends_per_event_short_timeout": round(short, 3),
            "sends_per_event_floor": round(floor, 3),
            "resends_short_timeout": resends,
            "fsync_per_s": round(fsyncs),
            "append_events_per_s": round(appends),
            "drain_events_per_s": round(ours),
            "naive_drain_events_per_s": round(naive),
            "drain_ratio": round(ours / naive, 2),
            "live_rate_per_s": rate,
            "live_p50_ms": round(p50, 2),
            "live_p99_ms": round(p99, 2),
            "live_mean_ms": round(statistics.fmean(lat), 2),
            "naive_live_p50_ms": round(n50, 2),
            "naive_live_p99_ms": round(n99, 2),
            "backlog": backlog,
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
