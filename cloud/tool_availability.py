"""When a tool is there for the plan: its service limit, its way to the machine, or missing.

`ToolWatch.check(now)` looks at every tool of the tag directory and tells the replanner
(through `submit`) what changed, as `ResourceLost` / `ResourceBack` triggers of the tool resource:

- **service** (`tool_service`): at or past a service limit (`cloud.status.tooling.life`: the
  resource's `service_cycles` / `service_hours`) the tool is out from now until a service is
  recorded (a `tool_service` correction), whether or not the plan needs it;
- **transfer** (`tool_transfer`): the plan's next job of the tool (running, or starting within
  the plant's `tooling.lookahead_min`) holds machine M, the tool's place is known and is not M,
  and the plant model has a transfer time T from that place to M (`tooling.transfers`): the
  tool is out until it can be at M.
  In the crib, or last seen by one crib gate reader only: now + T(crib -> M). On machine M':
  now + T(M' -> M). In delivery (out of the crib since t): t + T(crib -> M);
- **missing** (`tool_missing`): last seen by one gate reader only and no transfer time known
  for the move: out until read again (at a machine or through the gate).

What was told is kept while the tool stays where it was when told, even once the plan no longer
needs it there (the plan moved the job because of it: reopening the tool would move the job back,
and so on). A move of the tool (read at a machine, through the gate) or a recorded service is
`ResourceBack` at once, and the rule is applied afresh. A tool never seen is not held: on a new
installation that would be every tool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloud.plant_tooling import CRIB
from cloud.status import ResourceStatus
from cloud.status.tooling import CRIB as IN_CRIB
from cloud.status.tooling import DELIVERY, DUE, MACHINE, ToolState, life

__all__ = ["Hold", "ToolWatch"]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Hold:
    """A tool out of the plan: why, from when, until when (None: until told back)."""

    reason: str
    at: datetime
    until: datetime | None
    #: where the tool was when told: the hold stands while it stays there
    place: tuple[Any, ...]


def _place_key(state: ToolState | None) -> tuple[Any, ...]:
    if state is None:
        return ()
    return (state.place, state.station, state.since, state.unpaired_at)


class ToolWatch:
    """Tools held out of the plan, and the triggers that tell the replanner (module docstring)."""

    def __init__(
        self,
        status: ResourceStatus,
        submit: Callable[[Any], None],
        jobs_of: Callable[[str], Iterable[Any]],
    ) -> None:
        self.status = status
        self.submit = submit
        self.jobs_of = jobs_of
        self.told: dict[str, Hold] = {}

    def check(self, now: datetime) -> None:
        """Applies the rule to every tool of the tag directory at `now` (event time)."""
        from cloud.replan import ResourceBack, ResourceLost

        master = self.status.master
        stamp = now.isoformat().replace("+00:00", "Z")
        tools = sorted((e.ref, tag) for tag, e in master.tags.items() if e.kind == "tool")
        for tool, tag in tools:
            state = self.status.tools.get(tag)
            want = self._want(tool, state, now, stamp)
            told = self.told.get(tool)
            if want is None:
                if told is None or (
                    told.reason != "tool_service" and told.place == _place_key(state)
                ):
                    continue  # nothing told, or a transfer / missing whose tool has not moved
                del self.told[tool]
                self.submit(ResourceBack(tool, now))
                continue
            if told is not None and (told.reason, told.place) == (want.reason, want.place):
                continue
            if told is not None:
                self.submit(ResourceBack(tool, now))
            self.told[tool] = want
            self.submit(ResourceLost(tool, want.at, want.until, reason=want.reason))  # type: ignore[arg-type]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Tool id -> `out` (the reason told, or None), `until` and `life` (its state).

        For the gap report; life is taken at the status's newest event time.
        """
        master = self.status.master
        warn_at = master.plant.tooling.warn_at if master.plant is not None else 0.9
        now = self.status.latest
        out: dict[str, dict[str, Any]] = {}
        for tag, entry in list(master.tags.items()):
            resource = master.resources.get(entry.ref)
            if entry.kind != "tool" or resource is None:
                continue
            state = self.status.tools.get(tag)
            limits = (resource.service_cycles, resource.service_hours)
            told = self.told.get(resource.id)
            until = told.until if told is not None else None
            out[resource.id] = {
                "out": told.reason if told is not None else None,
                "until": until.isoformat().replace("+00:00", "Z") if until else None,
                "life": life(state, *limits, warn_at, now)["state"],
            }
        return out

    def _want(self, tool: str, state: ToolState | None, now: datetime, stamp: str) -> Hold | None:
        master = self.status.master
        plant = master.plant
        resource = master.resources.get(tool)
        if plant is None or resource is None or state is None:
            return None
        key = _place_key(state)
        used = life(state, resource.service_cycles, resource.service_hours, 1.0, stamp)
        if used["state"] == DUE:
            return Hold("tool_service", now, None, key)
        target = self._next_machine(tool, now, timedelta(minutes=plant.tooling.lookahead_min))
        if target is None:
            return None
        source, since = self._source(state, now)
        unpaired = state.unpaired_reader is not None
        if source is None:
            return Hold("tool_missing", now, None, key) if unpaired else None
        minutes = plant.tooling.transfer_min(source, target)
        if minutes is None:
            return Hold("tool_missing", now, None, key) if unpaired else None
        if minutes == 0:
            return None
        until = since + timedelta(minutes=minutes)
        return Hold("tool_transfer", since, until, key) if until > now else None

    def _source(self, state: ToolState, now: datetime) -> tuple[str | None, datetime]:
        """Where a transfer to the machine starts, and when (None: the place is not known)."""
        master = self.status.master
        if state.unpaired_reader is not None or state.place == IN_CRIB:
            return CRIB, now
        if state.place == DELIVERY and state.since is not None:
            return CRIB, _utc(state.since)
        if state.place == MACHINE and state.station is not None:
            machine = master.machines.get(state.station)
            return (machine.id if machine is not None else state.station), now
        return None, now

    def _next_machine(self, tool: str, now: datetime, lookahead: timedelta) -> str | None:
        """The machine of the tool's job running now or starting soonest within `lookahead`."""
        horizon = now + lookahead
        best: tuple[datetime, str] | None = None
        for job in self.jobs_of(tool):
            start, end = _utc(job.start), _utc(job.end)
            if end <= now or start > horizon:
                continue
            machines = getattr(job, "machines", ())
            candidate = (start, machines[0] if machines else "")
            if best is None or candidate < best:
                best = candidate
        if best is None:
            return None
        return best[1] or "?"
