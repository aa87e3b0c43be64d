"""A plant's event log for the store's tests: a 120-machine plant's badges, tools, runs, cycles."""

from __future__ import annotations

import json
import random

from cloud.store import EventLog, LogRecord

__all__ = ["INSTANCES", "log_of", "moment"]

INSTANCES = [f"{n:032x}" for n in range(1, 41)]


def moment(n: int, hour: int) -> str:
    """The n-th millisecond after `hour`:00 on the test day, in contract form."""
    seconds, milli = divmod(n, 1000)
    minutes, second = divmod(seconds, 60)
    return f"2026-11-23T{hour + minutes // 60:02d}:{minutes % 60:02d}:{second:02d}.{milli:03d}000Z"


def log_of(log: EventLog, count: int, seed: int = 3) -> None:
    """`count` events of a 120-machine plant: badges in and out, tools, run/stop, cycles."""
    rng = random.Random(seed)
    seqs = dict.fromkeys(INSTANCES, 0)
    records: list[LogRecord] = []
    for n in range(count):
        instance = rng.choice(INSTANCES)
        seqs[instance] += 1
        agent = f"pi-{INSTANCES.index(instance):02d}"
        station = f"m{INSTANCES.index(instance) * 3 + rng.randrange(3):03d}"
        roll = rng.random()
        if roll < 0.6:
            kind, payload = "machine.signal", {"signal": "cycle", "count": rng.randint(1, 4)}
        elif roll < 0.85:
            kind, payload = "machine.signal", {"signal": "run", "on": rng.random() < 0.5}
        elif roll < 0.95:
            kind, payload = "badge.read", {"tag": f"{rng.randrange(0x10000000, 0x10000040):08X}"}
        else:
            kind, payload = "tool.read", {"tag": f"{rng.randrange(0x20000000, 0x20000100):08X}"}
        at = moment(n, 6)
        body = {
            "v": 1, "type": kind, "source": agent, "agent": agent, "station": station,
            "instance": instance, "seq": seqs[instance], "time": at, "mono_ns": n,
            "boot": "b", "payload": payload,
        }  # fmt: skip
        records.append(
            LogRecord(
                instance, seqs[instance], kind, agent, agent, station, at, at, "monotonic", at,
                json.dumps(body, separators=(",", ":")), body,
            )
        )  # fmt: skip
        if len(records) == 20_000:
            log.commit(records, [])
            records = []
    log.commit(records, [])
