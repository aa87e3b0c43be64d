"""What the plan routes and the live push read of the replanner: plan, state, decisions.

The plan is the one last published to the planners (the retained plan message) and, without a
publisher, computed once per completed replan under the replanner's lock; its JSON encoding is
cached beside it, since a 2,000-order plan is megabytes, and so is its gzip encoding (compressing
8 MB takes a fifth of a second: once per plan, not once per page load). `version` is bumped
after every replan (`changed`, the replanner's `on_replan`) and every edit through the API; with
manual mode and the pending decisions it is the signature the live push compares.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from cloud.plant import Order
from cloud.replan import OrderDesk, Replanner
from cloud.web.zoned import PlantZone
from contract.downlink import PlanSnapshot
from contract.topics import plan_topic

__all__ = ["NO_PLAN", "PlanView", "iso"]

#: What every plan route answers when the cloud runs without orders to plan.
NO_PLAN: Final = "no plan: start the cloud with --plant and --orders"


def iso(moment: datetime) -> str:
    """A UTC time as the API writes it: 2026-03-23T06:30:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _order_fields(order: Order) -> dict[str, Any]:
    return {
        "product": order.product,
        "quantity": order.quantity,
        "due": iso(order.due),
        "release": iso(order.release) if order.release else None,
        "priority": order.priority,
    }


class PlanView:
    """Reads one replanner and its order desk (either may be absent)."""

    def __init__(
        self, replanner: Replanner | None, desk: OrderDesk | None, zone: PlantZone | None = None
    ) -> None:
        self.replanner = replanner
        self.desk = desk
        #: The plant's zone the encoded plan's times are written in (None: UTC, as published).
        self.zone = zone
        self.version = 0
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._published: tuple[bytes, dict[str, Any]] | None = None
        self._encoded: tuple[dict[str, Any], bytes] | None = None
        self._packed: tuple[bytes, bytes] | None = None
        self._cache_lock = threading.Lock()

    def has_plan(self) -> bool:
        """Whether there is a plan to read (a web replica's: once the leader's arrived)."""
        return self.replanner is not None

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

    # --- reading -----------------------------------------------------------------------------

    def _decoded(self, body: bytes) -> dict[str, Any]:
        """The schedule document of a published plan `body`, decoded once per body."""
        with self._cache_lock:
            if self._published is not None and self._published[0] is body:
                return self._published[1]
        document = dict(PlanSnapshot.decode(body).plan)
        with self._cache_lock:
            self._published = (body, document)
        return document

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
            return self._decoded(body)
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

    def document_bytes(self) -> bytes:
        """`document()` encoded as JSON (times on the plant's clock), encoded once per plan."""
        document = self.document()
        with self._cache_lock:
            if self._encoded is not None and self._encoded[0] is document:
                return self._encoded[1]
        zone = self.zone
        body = zone.encode(document) if zone is not None else msgspec.json.encode(document)
        with self._cache_lock:
            self._encoded = (document, body)
        return body

    def document_gzip(self) -> bytes:
        """`document_bytes()` gzip-compressed, compressed once per plan."""
        body = self.document_bytes()
        with self._cache_lock:
            if self._packed is not None and self._packed[0] is body:
                return self._packed[1]
        packed = gzip.compress(body, compresslevel=5, mtime=0)
        with self._cache_lock:
            self._packed = (body, packed)
        return packed

    def order_causes(self, order: str) -> dict[str, Any] | None:
        """One order of the current plan and why it is off its due date (None: not planned)."""
        for row in self.document().get("orders", []):
            if row.get("order") == order:
                keys = ("order", "status", "due", "end", "earliness_min", "tardiness_min")
                out = {k: row.get(k) for k in keys}
                out["cause"] = row.get("cause")
                out["causes"] = list(row.get("causes", []))
                return out
        return None

    def export_name(self) -> str:
        """The file name of a plan download: plan-SITE-TIME.json."""
        assert self.replanner is not None
        now = self.replanner.clock.now().strftime("%Y%m%dT%H%M%SZ")
        return f"plan-{self.replanner.engine.plant.site}-{now}.json"

    def state(self) -> dict[str, Any]:
        """What the Plan page needs besides the plan: now, manual mode, resources and groups."""
        replanner = self.replanner
        assert replanner is not None
        plant = replanner.engine.plant
        return {
            "now": iso(replanner.clock.now()),
            "manual": {"on": replanner.manual is not None, "by": replanner.manual},
            "policy": self.desk.policy if self.desk is not None else None,
            "pending": len(self.desk.pending) if self.desk is not None else 0,
            "replans": replanner.stats.completed,
            "version": self.version,
            "resources": [
                {"id": r.id, "kind": r.kind, "name": r.name, "calendar": r.calendar}
                for r in plant.resources
            ],
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

    def audit(self) -> list[dict[str, Any]]:
        """Who did what, when, oldest first."""
        assert self.replanner is not None
        return [asdict(entry) for entry in list(self.replanner.audit)]
