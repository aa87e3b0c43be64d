"""The planners' REST routes: the plan, the gap report, order intake, decisions, manual mode.

A thin layer over `cloud.replan` (see docs/replan.md): it reads the replanner's current plan and
gap report, hands order files to `submit_orders`, decisions to the `OrderDesk` and manual edits
to the `Replanner`, and maps their errors to HTTP codes. Who did it is taken from the request (a
`user` field in the body or an `X-User` header; no login yet) and recorded by the desk and the
replanner in their audit. The HTTP plumbing (sockets, headers, the live push) stays in
`server.py`; this module only turns (method, path, body, user) into a `Reply`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from cloud.plant import Order
from cloud.replan import (
    ManualModeActive,
    OrderDesk,
    OrderFileRejected,
    Replanner,
    UnknownOrder,
    submit_orders,
)
from contract.downlink import PlanSnapshot
from contract.topics import plan_topic

__all__ = ["NO_PLAN", "PLAN_ROUTES", "PlanApi", "Reply"]

#: What every plan route answers when the cloud runs without orders to plan.
NO_PLAN: Final = "no plan: start the cloud with --plant and --orders"
#: (method, path) of every route this module serves (part of the server's `ROUTES`).
PLAN_ROUTES: Final = (
    ("get", "/api/plan"),
    ("get", "/api/plan/state"),
    ("get", "/api/plan/export"),
    ("post", "/api/plan/steps/{order}/{step}"),
    ("get", "/api/gaps"),
    ("post", "/api/orders"),
    ("get", "/api/decisions"),
    ("post", "/api/decisions/{order}"),
    ("post", "/api/manual"),
    ("get", "/api/audit"),
)
_GET: Final = {path for method, path in PLAN_ROUTES if method == "get"}
_MAX_USER: Final = 100


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Reply:
    """An answer: HTTP code, a JSON value, extra headers."""

    code: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def _error(code: int, message: str, **extra: Any) -> Reply:
    return Reply(code, {"error": message, **extra})


def _order_fields(order: Order) -> dict[str, Any]:
    return {
        "product": order.product,
        "quantity": order.quantity,
        "due": _iso(order.due),
        "release": _iso(order.release) if order.release else None,
        "priority": order.priority,
    }


class PlanApi:
    """Serves the plan routes for one replanner and its order desk (either may be absent)."""

    def __init__(self, replanner: Replanner | None, desk: OrderDesk | None) -> None:
        self.replanner = replanner
        self.desk = desk
        #: Bumped after every replan (`changed`) and every edit made here; pushed to the pages.
        self.version = 0
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._published: tuple[bytes, dict[str, Any]] | None = None
        self._cache_lock = threading.Lock()

    # --- the live push -----------------------------------------------------------------------

    def changed(self, *_: object) -> None:
        """Marks the plan changed (the replanner's `on_replan`); cheap, never blocks."""
        self.version += 1

    def signature(self) -> tuple[Any, ...] | None:
        """What the pages redraw on: the version, manual mode, the pending decisions."""
        if self.replanner is None:
            return None
        pending = tuple(sorted(self.desk.pending)) if self.desk is not None else ()
        return (self.version, self.replanner.manual, pending)

    def event(self) -> dict[str, Any]:
        """The data of a `plan` push (small: the pages fetch what they show)."""
        assert self.replanner is not None
        return {
            "version": self.version,
            "replans": self.replanner.stats.completed,
            "manual": self.replanner.manual,
            "pending": len(self.desk.pending) if self.desk is not None else 0,
        }

    # --- dispatch ----------------------------------------------------------------------------

    @staticmethod
    def serves(method: str, path: str) -> bool:
        """Whether (method, raw URL path) is one of the plan routes."""
        if method == "get":
            return path in _GET
        if method != "post":
            return False
        parts = path.strip("/").split("/")
        decision = parts[:2] == ["api", "decisions"] and len(parts) == 3
        move = parts[:3] == ["api", "plan", "steps"] and len(parts) == 5
        return path in ("/api/orders", "/api/manual") or decision or move

    def get(self, path: str) -> Reply:
        """Answers a GET of one of the plan routes."""
        replanner = self.replanner
        if replanner is None:
            return _error(404, NO_PLAN)
        if path == "/api/plan":
            return Reply(200, self.document())
        if path == "/api/plan/export":
            now = replanner.clock.now().strftime("%Y%m%dT%H%M%SZ")
            name = f"plan-{replanner.engine.plant.site}-{now}.json"
            disposition = f'attachment; filename="{name}"'
            return Reply(200, self.document(), {"Content-Disposition": disposition})
        if path == "/api/plan/state":
            return Reply(200, self.state())
        if path == "/api/gaps":
            return Reply(200, replanner.gap_report)
        if path == "/api/decisions":
            return Reply(200, self.decisions())
        if path == "/api/audit":
            return Reply(200, [asdict(entry) for entry in list(replanner.audit)])
        return _error(404, f"no such route: GET {path}")

    def post(self, path: str, raw: bytes, header_user: str | None) -> Reply:
        """Answers a POST of one of the plan routes (`raw`: the JSON body)."""
        if self.replanner is None:
            return _error(409, NO_PLAN)
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            return _error(400, f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        user = body.pop("user", None) or header_user
        if not isinstance(user, str) or not user.strip() or len(user) > _MAX_USER:
            return _error(400, "say who you are: a 'user' field or an X-User header (1-100 chars)")
        user = user.strip()
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if self.desk is None and (path == "/api/orders" or parts[1] == "decisions"):
            return _error(409, "no order desk: this server takes no orders")
        if path == "/api/orders":
            reply = self._orders(body, user)
        elif path == "/api/manual":
            reply = self._manual(body, user)
        elif parts[:2] == ["api", "decisions"]:
            reply = self._decide(parts[2], body, user)
        else:
            reply = self._move(parts[3], parts[4], body, user)
        if reply.code < 300:
            self.changed()
        return reply

    # --- reading -----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The current plan as a schedule document: the one last published to the planners.

        Without a publisher it is computed, once per completed replan, under the replanner's
        lock; the published one costs the replanner nothing (the resource check of a
        2,000-order plan takes seconds, and a replan would wait for it).
        """
        replanner = self.replanner
        assert replanner is not None
        publisher = replanner.publisher
        body = publisher.retained(plan_topic(publisher.site)) if publisher is not None else None
        if body is not None:
            with self._cache_lock:
                if self._published is not None and self._published[0] is body:
                    return self._published[1]
            document = dict(PlanSnapshot.decode(body).plan)
            with self._cache_lock:
                self._published = (body, document)
            return document
        # The replanner's lock keeps a replan from changing the engine while it is read (the
        # order desk reaches into the replanner the same way).
        with replanner._lock:
            key = replanner.stats.completed
            with self._cache_lock:
                if self._cache is not None and self._cache[0] == key:
                    return self._cache[1]
            document = replanner.document()
        with self._cache_lock:
            self._cache = (key, document)
        return document

    def state(self) -> dict[str, Any]:
        """What the Plan page needs besides the plan: now, manual mode, resources and groups."""
        replanner = self.replanner
        assert replanner is not None
        plant = replanner.engine.plant
        return {
            "now": _iso(replanner.clock.now()),
            "manual": {"on": replanner.manual is not None, "by": replanner.manual},
            "policy": self.desk.policy if self.desk is not None else None,
            "pending": len(self.desk.pending) if self.desk is not None else 0,
            "replans": replanner.stats.completed,
            "version": self.version,
            "resources": [{"id": r.id, "kind": r.kind, "name": r.name} for r in plant.resources],
            "groups": {g.id: list(g.members) for g in plant.groups.values()},
        }

    def decisions(self) -> list[dict[str, Any]]:
        """Changed orders waiting for a planner: what came in beside what is planned now."""
        if self.desk is None or self.replanner is None:
            return []
        known = self.replanner.engine.orders
        out = []
        for oid, change in sorted(dict(self.desk.pending).items()):
            current = known.get(oid)
            out.append(
                {
                    "order": oid,
                    "received": change.received,
                    "source": change.source,
                    "new": _order_fields(change.order),
                    "current": _order_fields(current) if current is not None else None,
                }
            )
        return out

    # --- changing ----------------------------------------------------------------------------

    def _orders(self, body: dict[str, Any], user: str) -> Reply:
        assert self.desk is not None
        try:
            result = submit_orders(self.desk, body, user)
        except OrderFileRejected as exc:
            return _error(422, str(exc), rows=exc.rows)
        except UnknownOrder as exc:  # a cancel of an order the plan does not hold
            reason = str(exc.args[0]) if exc.args else str(exc)
            rows = [{"row": 0, "order": None, "reasons": [reason]}]
            return _error(422, f"api: nothing applied: {reason}", rows=rows)
        return Reply(202, result)

    def _manual(self, body: dict[str, Any], user: str) -> Reply:
        assert self.replanner is not None
        on = body.get("on")
        if not isinstance(on, bool):
            return _error(400, "'on' must be true or false")
        if on:
            self.replanner.enter_manual(user)
        else:
            self.replanner.leave_manual(user)
        return Reply(200, {"on": self.replanner.manual is not None, "by": self.replanner.manual})

    def _decide(self, order: str, body: dict[str, Any], user: str) -> Reply:
        assert self.desk is not None
        decision = body.get("decision")
        if decision not in ("new", "adjust"):
            return _error(400, "'decision' must be 'new' or 'adjust'")
        try:
            self.desk.decide(order, decision, user)
        except UnknownOrder:
            return _error(404, f"no change of order {order!r} waits for a decision")
        return Reply(200, {"order": order, "decision": decision, "by": user})

    def _move(self, order: str, step: str, body: dict[str, Any], user: str) -> Reply:
        assert self.replanner is not None
        text = body.get("start")
        try:
            start = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return _error(400, f"'start' must be an ISO time, not {text!r}")
        if start.tzinfo is None:
            return _error(400, f"'start' needs a time zone (Z for UTC): {text!r}")
        if self.replanner.manual is None:
            return _error(409, 'manual edits need manual mode: POST /api/manual {"on": true}')
        try:
            outcome = self.replanner.move_step(order, step, start.astimezone(UTC), user)
        except ManualModeActive as exc:
            return _error(409, str(exc))
        except UnknownOrder:
            return _error(404, f"{order}/{step} is not in the plan")
        return Reply(
            200,
            {
                "order": order,
                "step": step,
                "start": _iso(start),
                "by": user,
                "path": outcome.path,
                "orders_moved": outcome.orders_moved,
            },
        )
