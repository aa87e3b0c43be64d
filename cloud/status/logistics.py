"""The logistics state: each supplier's current call-off, and each AMR/AGV transport's state.

Folded from the cloud's own `calloff.issued`, `transport.order` and `transport.state` events
(`contract.logistics`) in log order, like the rest of the status: a restart folds the same
events, so the call-off versions go on where they were and no unchanged call-off is re-issued.
A transport is `sent` when its order went out, then `accepted`, `driving`, `done` or `failed` as
the AGV's state messages say; `late` marks it without changing its progress. The newest
`TRANSPORTS_KEPT` transports are kept (the log keeps them all).

`match_delivery` holds an inbound delivery against its supplier's call-off: the promised ship
time is the earliest `ship_by` of the call-off's lines for the delivery's materials; a delivery
loaded after it `shipped_late`; a late delivery is put down to `shipping` when it shipped late,
else to the `road`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from contract.logistics import LOGISTICS_VALIDATORS

__all__ = [
    "LOGISTICS_TYPES",
    "LogisticsLedger",
    "TransportState",
    "match_delivery",
    "render_logistics",
]

LOGISTICS_TYPES: Final = frozenset(LOGISTICS_VALIDATORS)
TRANSPORTS_KEPT: Final = 1000
#: Versions of each supplier's call-off kept in memory (version, issued, changes).
HISTORY_KEPT: Final = 20
#: States after which a transport is over (its AGV is free again).
FINAL: Final = frozenset({"done", "failed"})


@dataclass
class TransportState:
    """One transport: its order, where it is, since when, and whether it is late."""

    order: dict[str, Any]
    state: str
    since: str
    sent: str
    late: bool = False
    detail: str = ""
    history: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def is_over(self) -> bool:
        """Done or failed."""
        return self.state in FINAL

    def to_dict(self, transport: str) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "transport": transport,
            **{k: self.order[k] for k in self.order if k != "transport"},
            "state": self.state,
            "since": self.since,
            "sent": self.sent,
            "late": self.late,
            "detail": self.detail,
            "history": [{"at": a, "state": s, "detail": d} for a, s, d in self.history],
        }


@dataclass
class LogisticsLedger:
    """Call-offs by supplier and transports by id, in log order."""

    calloffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    transports: dict[str, TransportState] = field(default_factory=dict)

    def apply(self, kind: str, payload: Mapping[str, Any], at: str) -> str | None:
        """Folds one logistics event recorded at `at`; returns a one-line change."""
        if kind == "calloff.issued":
            supplier = str(payload["supplier"])
            self.calloffs[supplier] = {**payload, "issued": at}
            kept = self.history.setdefault(supplier, deque(maxlen=HISTORY_KEPT))
            version, changed = payload["version"], payload["changes"]
            kept.append({"version": version, "issued": at, "changes": changed})
            return (
                f"call-off {supplier} v{payload['version']}: {len(payload['lines'])} line(s), "
                f"{len(payload['sequence'])} in sequence, ship by {payload['ship_by'] or '-'}"
            )
        if kind == "transport.order":
            tid = str(payload["transport"])
            self.transports[tid] = TransportState(dict(payload), "sent", at, at, history=[])
            self.transports[tid].history.append((at, "sent", ""))
            while len(self.transports) > TRANSPORTS_KEPT:
                del self.transports[next(iter(self.transports))]
            return (
                f"transport {tid}: {payload['material']} {payload['pick']} -> {payload['drop']}"
                f" by {payload['serial']} ({payload['reason']})"
            )
        if kind == "transport.state":
            tid = str(payload["transport"])
            known = self.transports.get(tid)
            if known is None:
                return None
            state, detail = str(payload["state"]), str(payload["detail"])
            known.history.append((at, state, detail))
            if state == "late":
                known.late = True
            else:
                known.state, known.since, known.detail = state, at, detail
            return f"transport {tid} {state}" + (f": {detail}" if detail else "")
        return None


def render_logistics(ledger: LogisticsLedger) -> dict[str, Any]:
    """The call-offs (newest version, with the versions before) and transports, newest first."""
    calloffs = {
        supplier: {**document, "versions": list(ledger.history.get(supplier, ()))}
        for supplier, document in sorted(ledger.calloffs.items())
    }
    transports = [t.to_dict(tid) for tid, t in reversed(ledger.transports.items())]
    return {"calloffs": calloffs, "transports": transports}


def match_delivery(
    shown: dict[str, Any], loaded_at: str | None, calloff: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`shown` (a delivery as the status shows it) with its call-off's promise and the blame."""
    materials = set(shown.get("materials", ()))
    lines = (calloff or {}).get("lines", ())
    promised = [line["ship_by"] for line in lines if line["material"] in materials]
    ship_by = min(promised, default=None)
    shipped_late = None
    if ship_by is not None and loaded_at is not None:
        shipped_late = _stamp(loaded_at) > _stamp(ship_by)
    blame = None
    if shown.get("late") and shipped_late is not None:
        blame = "shipping" if shipped_late else "road"
    return {
        **shown,
        "calloff_version": (calloff or {}).get("version"),
        "ship_by": ship_by,
        "shipped_late": shipped_late,
        "late_blame": blame,
    }


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
