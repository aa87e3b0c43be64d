"""Lorry volume: events per hour the lorry unit's sampling rule records on the emulated route.

The emulated receiver (`hardware/gpsd_emu.py`) drives the route of `hardware/nmea/make_logs.py`
back and forth (700 m of stop-and-go: two turns, a stop at each dock) for one hour of a fake
clock, `--speed` times faster than the log (2: up to 86 km/h); the real `LorryUnit` polls it with
the default `[lorry]` rule. Prints the positions per hour by reason and a JSON line. The figure
bounds the outbox a dead zone fills (docs/lorry.md).

    .venv/bin/python bench/lorry_volume.py [--speed 1] [--hours 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from agent.config import AgentConfig
from agent.roles.lorry import LorryUnit, parse_lorry
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from hardware.gpsd_emu import GpsdEmulator
from hardware.nmea.make_logs import LOGS
from taktline.clock import FakeClock


def measure(speed: float, hours: float) -> dict[str, object]:
    clock = FakeClock()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatedHardware(clock) as hardware,
        GpsdEmulator(LOGS["drive.nmea"], clock=clock, shuttle=True, epoch_s=1 / speed) as emu,
    ):
        hardware.gpsd = emu.address
        config = AgentConfig("pi-lorry-01", "plant1", "logistics", outbox=Path(tmp) / "o.db")
        agent = Agent(config, clock=clock)
        try:
            with LorryUnit(
                agent, parse_lorry({"id": "lorry-01"}, "bench", Path(tmp)), hardware
            ) as lorry:
                for _ in range(int(hours * 3600 * 4)):
                    lorry.poll()
                    clock.advance(0.25)
                reasons = dict(sorted(lorry.reasons.items()))
            events = agent.outbox.depth()
        finally:
            agent.outbox.close()
    return {
        "speed": speed,
        "positions_per_h": round(sum(reasons.values()) / hours),
        "events_per_h": round(events / hours),
        "reasons": reasons,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=1.0, help="route speed factor")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours")
    args = parser.parse_args()
    result = measure(args.speed, args.hours)
    print(f"route x{args.speed}: {result['positions_per_h']} positions/h {result['reasons']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
