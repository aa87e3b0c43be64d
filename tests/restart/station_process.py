"""One station agent as its own process, for the restart tests: `python -m ... CONFIG.json`.

Runs the agent's real station role on emulated chips and pins (`EmulatedHardware`), reads commands
on stdin — `ticket HEX` (a job ticket tapped), `run` / `stop` (the run signal), `breakdown` (the
stop-reason button), `cycles N` (N pulses of the cycle input), `quit` — and prints `HOLD station
version digest` each time the station takes a new schedule version (digest: SHA-256 of its jobs),
`STATS json` with the uplink's counters on `stats`, and `READY` once the role runs.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.config import parse_config
from agent.runtime import Agent, start_role
from contract import StationSchedule
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import Tag
from taktline.clock import SystemClock

RUN, BREAKDOWN, CYCLE = 17, 6, 22


def digest(schedule: StationSchedule) -> str:
    """What a station holds, comparable across processes."""
    jobs = [(j.order, j.step, j.start, j.end) for j in schedule.jobs]
    return hashlib.sha256(json.dumps(jobs).encode()).hexdigest()[:16]


def main(path: str) -> None:
    raw = json.loads(Path(path).read_text())
    config = parse_config(raw, "agent.toml", Path(path).parent)
    clock = SystemClock()
    hardware = EmulatedHardware(clock)
    chip = hardware.add_mfrc522(0, 0, reset_pin=25)
    pins = hardware.pin_factory()
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            print(line, flush=True)

    with hardware, Agent(config, clock=clock) as agent:
        role: Any = start_role(agent, hardware)
        stop = threading.Event()

        def watch() -> None:
            held: dict[str, int] = {}
            while not stop.is_set():
                for sid, station in role.stations.items():
                    schedule = station.schedule
                    if schedule is not None and held.get(sid) != schedule.version:
                        held[sid] = schedule.version
                        say(f"HOLD {sid} {schedule.version} {digest(schedule)}")
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        say("READY")
        try:
            for line in sys.stdin:
                words = line.split()
                if not words:
                    continue
                if words[0] == "ticket":
                    tag = chip.add_tag(Tag(bytes.fromhex(words[1])))
                    time.sleep(0.4)
                    chip.remove_tag(tag)
                elif words[0] == "run":
                    pins.pin(RUN).drive_low()
                elif words[0] == "stop":
                    pins.pin(RUN).drive_high()
                elif words[0] == "cycles":
                    for _ in range(int(words[1])):
                        pins.pin(CYCLE).drive_low()
                        time.sleep(0.06)  # longer than the debounce and the poll
                        pins.pin(CYCLE).drive_high()
                        time.sleep(0.06)
                elif words[0] == "breakdown":
                    pins.pin(BREAKDOWN).drive_low()
                    time.sleep(0.2)
                    pins.pin(BREAKDOWN).drive_high()
                elif words[0] == "stats":
                    stats = asdict(agent.uplink.stats)
                    stats["depth"] = agent.outbox.depth()
                    stats["recorded"] = agent.outbox.next_seq - 1  # events of this instance
                    say(f"STATS {json.dumps(stats)}")
                elif words[0] == "quit":
                    break
                say(f"DONE {words[0]}")
        finally:
            stop.set()
            role.stop()


if __name__ == "__main__":
    main(sys.argv[1])
