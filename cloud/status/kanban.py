"""The e-kanban state: each loop's cards, the smart bins, replenishment signals, lost cards, sizing.

Folded from `kanban.empty`, `kanban.card`, `bin.level` (agents) and `kanban.loop` (a planner's
loop size or safety factor, recorded by the cloud) in log order; like the rest of the status the
fold keeps raw card tags and bin ids and never reads a clock. What needs the plant model's loops
(`cloud.plant.KanbanLoop`), the plan's demand or the time is decided when shown (`render`):

- a card's state is `full` until its first tap; `empty` (tapped at the line or a supermarket
  board), `in_transit`, `at_supplier`, then `full` again;
- a loop's replenishment signals are its cards in state `empty` (one container each) and its
  bins below their threshold, oldest first;
- a lost-card alarm is a card unseen (no event of it) for `lost_after` x the loop's lead time; a
  card never seen counts from the first kanban event the cloud folded;
- the loop size: `recommended` = ceil(demand x lead time x (1 + safety) / container quantity),
  demand being the plan's use of the loop's material (`StatusMaster.demand`, product units per
  minute, times `per_unit`), beside `cards` (the planner's size, else the cards in the plant model)
  and `in_loop` (the cards the plant model lists).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from contract.kanban import KANBAN_VALIDATORS

if TYPE_CHECKING:
    from cloud.plant import KanbanLoop
    from cloud.status.master import StatusMaster

__all__ = ["KANBAN_TYPES", "KanbanLedger", "recommended_cards", "render_kanban"]

KANBAN_TYPES: Final = frozenset(KANBAN_VALIDATORS)
#: Planner actions on loops kept in memory (the log keeps them all).
ACTIONS_KEPT: Final = 1000


@dataclass
class CardState:
    """Where one card is, since when, and who saw it last."""

    state: str
    since: str
    station: str | None
    source: str
    taps: int = 0


@dataclass
class BinState:
    """A smart bin's last crossing."""

    quantity: float
    threshold: float
    below: bool
    rate_per_h: float
    at: str
    station: str | None
    agent: str


@dataclass
class LoopSetting:
    """A planner's size or safety factor of a loop (None: the plant model's)."""

    cards: int | None = None
    safety: float | None = None
    by: str = ""
    at: str = ""
    reason: str = ""


@dataclass
class KanbanLedger:
    """Cards, bins and planner settings by loop, in log order."""

    cards: dict[str, CardState] = field(default_factory=dict)
    bins: dict[str, BinState] = field(default_factory=dict)
    settings: dict[str, LoopSetting] = field(default_factory=dict)
    actions: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ACTIONS_KEPT))
    first_at: str | None = None
    events: int = 0

    def apply(self, event: Mapping[str, Any], at: str) -> str | None:
        """Folds one kanban, bin or loop event recorded at `at`; returns a one-line change."""
        kind = event["type"]
        payload = event["payload"]
        self.events += 1
        if self.first_at is None or at < self.first_at:
            self.first_at = at
        if kind == "kanban.loop":
            loop = str(payload["loop"])
            setting = self.settings.setdefault(loop, LoopSetting())
            if payload["cards"] is not None:
                setting.cards = int(payload["cards"])
            if payload["safety"] is not None:
                setting.safety = float(payload["safety"])
            setting.by, setting.at, setting.reason = payload["by"], at, payload["reason"]
            self.actions.append({"at": at, **payload})
            return (
                f"kanban loop {loop}: set by {payload['by']} ({payload['reason'] or 'no reason'})"
            )
        if kind == "bin.level":
            name = str(payload["bin"])
            self.bins[name] = BinState(
                payload["quantity"],
                payload["threshold"],
                payload["below"],
                payload["rate_per_h"],
                at,
                event.get("station"),
                event["agent"],
            )
            state = "low: replenish" if payload["below"] else "stocked"
            return f"bin {name} {state} ({payload['quantity']:g} pieces)"
        if kind in ("kanban.empty", "kanban.card"):
            card = str(payload["card"])
            state = "empty" if kind == "kanban.empty" else str(payload["state"])
            known = self.cards.get(card)
            taps = (known.taps if known else 0) + 1
            self.cards[card] = CardState(state, at, event.get("station"), event["source"], taps)
            if state == "empty":
                return f"kanban card {card} empty: replenish"
            return f"kanban card {card} {state}"
        return None  # rule.fired: in the log, nothing to fold


def recommended_cards(loop: KanbanLoop, demand_per_min: float, safety: float) -> int:
    """Cards = demand x lead time x (1 + safety) / container quantity, rounded up (at least 1)."""
    need = demand_per_min * loop.per_unit * loop.lead_time_min * (1 + safety)
    return max(1, math.ceil(need / loop.container_qty - 1e-9))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def render_kanban(
    ledger: KanbanLedger, master: StatusMaster, now: datetime | None
) -> dict[str, Any]:
    """The loops as shown at `now`: cards by state, signals, lost cards, size; JSON-ready."""
    plant = master.plant
    loops: dict[str, Any] = {}
    known: set[str] = set()
    for loop in plant.kanban.values() if plant is not None else ():
        known.update(loop.cards)
        setting = ledger.settings.get(loop.id, LoopSetting())
        safety = loop.safety if setting.safety is None else setting.safety
        planned = master.demand.get(loop.material)
        expected = master.forecast.get(loop.material)
        # sized by the larger: the plan's next 24 h, or the forecast where the order book is thin
        demand = max((d for d in (planned, expected) if d is not None), default=None)
        cards: list[dict[str, Any]] = []
        lost: list[dict[str, Any]] = []
        limit = timedelta(minutes=loop.lost_after * loop.lead_time_min)
        for tag in loop.cards:
            card = ledger.cards.get(tag)
            seen = card.since if card is not None else ledger.first_at
            row: dict[str, Any] = {
                "card": tag,
                "state": card.state if card is not None else "full",
                "since": card.since if card is not None else None,
                "station": card.station if card is not None else None,
            }
            if now is not None and seen is not None and now - _when(seen) > limit:
                row["lost"] = True
                lost.append({"card": tag, "last_seen": card.since if card else None})
            cards.append(row)
        signals = [
            {"kind": "card", "card": c["card"], "since": c["since"], "quantity": loop.container_qty}
            for c in cards
            if c["state"] == "empty"
        ]
        for name in loop.bins:
            state = ledger.bins.get(name)
            if state is not None and state.below:
                signals.append(
                    {
                        "kind": "bin",
                        "bin": name,
                        "since": state.at,
                        "quantity": state.quantity,
                        "threshold": state.threshold,
                    }
                )
        signals.sort(key=lambda s: s["since"] or "")
        counts = {state: 0 for state in ("full", "empty", "in_transit", "at_supplier")}
        for row in cards:
            counts[row["state"]] += 1
        loops[loop.id] = {
            "material": loop.material,
            "replenished_by": loop.supplier or loop.supermarket,
            "container_qty": loop.container_qty,
            "lead_time_min": loop.lead_time_min,
            "safety": safety,
            "in_loop": len(loop.cards),
            "cards": setting.cards if setting.cards is not None else len(loop.cards),
            "demand_per_h": None if planned is None else round(planned * loop.per_unit * 60, 3),
            "forecast_per_h": None if expected is None else round(expected * loop.per_unit * 60, 3),
            "sized_by": None
            if demand is None
            else ("plan" if planned is not None and demand == planned else "forecast"),
            "recommended": None if demand is None else recommended_cards(loop, demand, safety),
            "by_state": counts,
            "card_list": cards,
            "signals": signals,
            "lost": lost,
            "set_by": setting.by or None,
        }
    bins = {
        name: {
            "quantity": b.quantity,
            "threshold": b.threshold,
            "below": b.below,
            "rate_per_h": b.rate_per_h,
            "at": b.at,
            "station": b.station,
        }
        for name, b in sorted(ledger.bins.items())
    }
    return {
        "now": _iso(now) if now is not None else None,
        "loops": loops,
        "bins": bins,
        "unknown_cards": sorted(set(ledger.cards) - known),
        "actions": list(ledger.actions)[-20:],
    }
