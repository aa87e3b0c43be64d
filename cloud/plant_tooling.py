"""The plant model's `tooling` section: how long a tool takes to reach a machine, when to warn.

`transfers` lists the minutes to carry a tool from the tool crib (`"crib"`) or from one machine
to a machine; a machine -> machine time holds both ways unless the other way is listed too. A
place is the word `crib` or a machine, named by its resource id or its station id (kept as the
resource id). `lookahead_min` (default 30) is how soon the plan must need a tool for where it
is to matter. `warn_at` is the share of a tool's service limit (its resource's `service_cycles`
or `service_hours`) from which the Tooling page and the gap report warn. Validation reports every
problem with its path through the plant reader's `fail`, like the rest of the plant model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["CRIB", "MAX_TRANSFER_MIN", "Tooling", "parse_tooling"]

#: The tool crib's place name in transfers (and in the status, `cloud.status.tooling.CRIB`).
CRIB: Final = "crib"
#: A transfer longer than a day is a typo, not a walk across the plant.
MAX_TRANSFER_MIN: Final = 24 * 60.0
_KEYS: Final = frozenset({"transfers", "warn_at", "lookahead_min"})
_TRANSFER_KEYS: Final = frozenset({"from", "to", "minutes"})


@dataclass(frozen=True)
class Tooling:
    """Tool transfer minutes by (from, to) and the tool-life warning threshold."""

    transfers: Mapping[tuple[str, str], float] = field(default_factory=dict)
    warn_at: float = 0.9
    #: how soon the plan must need a tool for its place to matter (a transfer, or missing)
    lookahead_min: float = 30.0

    def transfer_min(self, source: str, target: str) -> float | None:
        """Minutes to carry a tool from `source` (crib or machine id) to machine `target`.

        0 when it is there already; None when the plant model gives no time for the move.
        """
        if source == target:
            return 0.0
        found = self.transfers.get((source, target))
        if found is None and source != CRIB:
            found = self.transfers.get((target, source))
        return found


def parse_tooling(
    raw: Any, machines: Mapping[str, str], fail: Callable[[str, str], None]
) -> Tooling:
    """Reads the `tooling` section; `machines` maps station ids and machine ids to machine ids."""
    path = "plant.tooling"
    if raw is None:
        return Tooling()
    if not isinstance(raw, dict):
        fail(path, "must be an object")
        return Tooling()
    for key in sorted(set(raw) - _KEYS):
        fail(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(_KEYS))})")
    warn_at = raw.get("warn_at", 0.9)
    if not _finite(warn_at) or not 0 < warn_at <= 1:
        fail(f"{path}.warn_at", f"must be a share in (0, 1], e.g. 0.9, got {warn_at!r}")
        warn_at = 0.9
    lookahead: Any = raw.get("lookahead_min", 30.0)
    if not _finite(lookahead) or not 0 < lookahead <= MAX_TRANSFER_MIN:
        fail(f"{path}.lookahead_min", f"must be minutes in (0, 1440], got {lookahead!r}")
        lookahead = 30.0
    listed = raw.get("transfers", [])
    if not isinstance(listed, list):
        fail(f"{path}.transfers", "must be a list of {from, to, minutes}")
        listed = []
    known = ", ".join(sorted({CRIB, *machines.values()}))
    transfers: dict[tuple[str, str], float] = {}
    for index, item in enumerate(listed):
        p = f"{path}.transfers[{index}]"
        if not isinstance(item, dict):
            fail(p, "must be an object with from, to and minutes")
            continue
        for key in sorted(set(item) - _TRANSFER_KEYS):
            fail(f"{p}.{key}", "unknown key (known: from, minutes, to)")
        ends: list[str | None] = []
        for key in ("from", "to"):
            place = item.get(key)
            if not isinstance(place, str):
                fail(f"{p}.{key}", f"is required: the crib or a machine, got {place!r}")
                ends.append(None)
            elif place == CRIB:
                if key == "to":
                    fail(f"{p}.to", "must be a machine: a transfer brings a tool to a machine")
                ends.append(None if key == "to" else CRIB)
            elif place not in machines:
                fail(f"{p}.{key}", f"unknown place {place!r} (known: {known})")
                ends.append(None)
            else:
                ends.append(machines[place])
        minutes: Any = item.get("minutes")
        if not _finite(minutes) or not 0 <= minutes <= MAX_TRANSFER_MIN:
            fail(f"{p}.minutes", f"must be minutes in [0, {MAX_TRANSFER_MIN:g}], got {minutes!r}")
            continue
        source, target = ends
        if source is None or target is None:
            continue
        if source == target:
            fail(p, f"goes from {source!r} to itself")
        elif (source, target) in transfers:
            fail(p, f"a second transfer from {source!r} to {target!r}")
        else:
            transfers[(source, target)] = float(minutes)
    return Tooling(transfers=transfers, warn_at=float(warn_at), lookahead_min=float(lookahead))


def _finite(v: Any) -> bool:
    return type(v) is int or (type(v) is float and math.isfinite(v))
