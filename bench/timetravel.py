"""Benchmark: time travel — jump to random moments of a million-event log.

A 120-machine plant's log (`tests/store/plant_log.py`: badges, tools, run/stop, cycles) of
`--events` events, with status snapshots every `--snapshot-every` events as the running cloud
takes them (`CloudSettings.snapshot_every`, default 25,000). Each jump turns a random moment
into a log position (`EventLog.position_at`) and rebuilds the status there from the nearest
snapshot before it (`cloud.timetravel.TimeTravel`); beside it, in the same run, the reference:
the same status rebuilt from the start of the log (what a jump costs without snapshots). Both
must be equal at every jump.

    python bench/timetravel.py [--quick] [--events N] [--jumps N] [--db URL]

Last line: JSON with events, jumps, jump_p50_s, jump_max_s (target < 1 s), rebuild_p50_s,
speedup (rebuild / jump, median).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud.snapshots import Snapshotter
from cloud.status import ResourceStatus
from cloud.store import EventLog
from cloud.timetravel import TimeTravel
from tests.store.plant_log import log_of, moment


def _state(status: ResourceStatus) -> dict[str, Any]:
    state = status.snapshot()
    state.pop("applied")
    return state


def run(events: int, jumps: int, snapshot_every: int, database: str | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="taktline-timetravel-"))
    url: str | Path = database or folder / "cloud.db"
    with EventLog(url, synchronous="NORMAL") as log:
        began = time.perf_counter()
        log_of(log, events)
        print(f"log of {events:,} events written in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        snapshots = Snapshotter(log, every_events=snapshot_every)
        status = ResourceStatus()
        for upto in range(snapshot_every, events + 1, snapshot_every):
            status.rebuild(log.replay(after=upto - snapshot_every, until=upto))
            snapshots.take(status, upto)
        print(
            f"{events // snapshot_every} snapshots (one every {snapshot_every:,} events) "
            f"in {time.perf_counter() - began:.1f} s"
        )
        travel = TimeTravel(log)
        rng = random.Random(7)
        jump_s: list[float] = []
        rebuild_s: list[float] = []
        for _ in range(jumps):
            n = rng.randrange(events)
            when = datetime.fromisoformat(moment(n, 6).replace("Z", "+00:00"))
            began = time.perf_counter()
            found, landed = travel.status_at(when=when)
            jump_s.append(time.perf_counter() - began)
            began = time.perf_counter()
            reference = ResourceStatus()
            reference.rebuild(log.replay(until=landed.position))
            rebuild_s.append(time.perf_counter() - began)
            if landed.position != n + 1 or _state(found) != _state(reference):
                raise SystemExit(f"jump to event {n + 1} landed at {landed.position} or differs")
            print(
                f"jump to position {landed.position:>9,}: {jump_s[-1]:.3f} s "
                f"({landed.replayed:,} events after the snapshot at {landed.snapshot_pos:,}); "
                f"rebuild from the start {rebuild_s[-1]:.2f} s"
            )
    jump_p50, rebuild_p50 = statistics.median(jump_s), statistics.median(rebuild_s)
    return {
        "events": events,
        "snapshot_every": snapshot_every,
        "jumps": jumps,
        "jump_p50_s": round(jump_p50, 3),
        "jump_max_s": round(max(jump_s), 3),
        "rebuild_p50_s": round(rebuild_p50, 3),
        "speedup": round(rebuild_p50 / jump_p50, 1),
    }


def main() -> None:
    """Runs the benchmark and prints the result; the last line is JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events, 5 jumps")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jumps", type=int, default=10)
    parser.add_argument("--snapshot-every", type=int, default=25_000)
    parser.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    events, jumps, every = args.events, args.jumps, args.snapshot_every
    if args.quick:
        events, jumps, every = 100_000, 5, 20_000
    result = run(events, jumps, every, args.db)
    print(
        f"jump p50 {result['jump_p50_s']} s, max {result['jump_max_s']} s (target < 1 s); "
        f"rebuild from the start p50 {result['rebuild_p50_s']} s; {result['speedup']}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
