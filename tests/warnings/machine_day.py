"""A machine's events in event time, as the demo's simulated machines make them (demo/floor.py):
runs of 5 to 15 cycles, each `cycle_s x uniform(0.85, 1.3)` apart, then a stop — a changeover
(another job ticket) three times in ten, else a short wait for parts. `slower(t)` multiplies the
cycle time from the start on (1.0: a healthy machine); the drift a test injects."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def machine_day(
    station: str,
    cycle_s: float,
    hours: float,
    *,
    seed: int = 1,
    tickets: tuple[str, ...] = ("0A020001", "0A020002"),
    slower: Callable[[float], float] = lambda hours: 1.0,
) -> Iterator[tuple[dict[str, Any], str]]:
    """(event, time) pairs of one machine over `hours` from `START`."""
    rng = random.Random(seed)
    t = 0.0
    end = hours * 3600.0

    def event(kind: str, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {"type": kind, "station": station, "payload": payload}, _iso(
            START + timedelta(seconds=t)
        )

    ticket = rng.choice(tickets)
    yield event("job.ticket", {"tag": ticket, "action": "start"})
    while t < end:
        yield event("machine.signal", {"signal": "run", "on": True})
        for _ in range(rng.randint(5, 15)):
            t += cycle_s * rng.uniform(0.85, 1.3) * slower(t / 3600.0)
            yield event("machine.signal", {"signal": "cycle", "count": 1})
        yield event("machine.signal", {"signal": "run", "on": False})
        if rng.random() < 0.3:
            t += rng.uniform(1, 3)
            yield event("job.ticket", {"tag": ticket, "action": "end"})
            ticket = rng.choice(tickets)
            yield event("job.ticket", {"tag": ticket, "action": "start"})
        else:
            t += rng.uniform(0.5, 2)
