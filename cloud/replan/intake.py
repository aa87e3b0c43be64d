"""ERP intake: orders and order changes by file drop (CSV / JSON) or by the REST API.

Every row is checked on its own (unknown product, non-positive quantity, duplicate order id,
unparsable date, ...); if any row is bad the whole file is rejected with the reasons per row and
nothing of it is applied. JSON follows `docs/schemas/orders.schema.json` plus an optional
top-level `"cancel": [order ids]`; CSV has the columns `id, product, quantity, due` and optional
`release, priority, earliness_weight, tardiness_weight, customer, action` (`action` = `cancel`
cancels).

A new id creates an order. A known id with other values is a change: under policy `ask` it waits
for a planner's decision (`OrderDesk.decide`: `new` or `adjust`), otherwise the policy decides.
Decisions record who made them and when (`Replanner.audit`). With a `PlanningRecorder` the desk
writes every accepted order, change, decision and cancellation to the event log as `plan.*`
events before it acts on them, so a restart loses none of them (`cloud.replan.record`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cloud.plant import (
    MAX_ORDERS_PER_BATCH,
    Order,
    OrderBatchTooLarge,
    Plant,
    PlantInvalid,
    parse_orders,
)
from cloud.replan.errors import OrderFileRejected, UnknownOrder
from cloud.replan.record import OrderFact, PlanningRecorder
from cloud.replan.replanner import Replanner
from cloud.replan.triggers import OrderCancelled, OrderChanged, OrderCreated
from contract.errors import ContractError
from contract.fields import loads
from taktline.supervise import Worker

__all__ = ["OrderDesk", "OrderFolderWatcher", "PendingChange", "parse_order_file", "submit_orders"]

log = logging.getLogger(__name__)

Policy = Literal["ask", "new", "adjust"]
_NUMERIC = {"quantity": int, "priority": int, "earliness_weight": float, "tardiness_weight": float}


def _rows_from_csv(text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        for key in list(row):
            if row[key] == "":
                del row[key]
            elif key in _NUMERIC:
                # a value that does not convert stays text: the row check names it
                with contextlib.suppress(ValueError):
                    row[key] = _NUMERIC[key](row[key])
        rows.append(row)
    return rows


def _whole_file(fmt: str, reason: str) -> OrderFileRejected:
    return OrderFileRejected(fmt, [{"row": 0, "order": None, "reasons": [reason]}])


def _json_rows(text: str) -> tuple[list[Any], list[str]]:
    try:
        data = loads(text, "order file")
    except ContractError as exc:
        raise _whole_file("json", str(exc)) from exc
    if not isinstance(data, dict):
        raise _whole_file("json", "must be a JSON object with an 'orders' list")
    rows, cancels = data.get("orders", []), data.get("cancel", [])
    if not isinstance(rows, list):
        raise _whole_file("json", "'orders' must be a list of order objects")
    if not isinstance(cancels, list) or not all(isinstance(x, str) and x for x in cancels):
        raise _whole_file("json", "'cancel' must be a list of order ids")
    return rows, cancels


def parse_order_file(
    text: str,
    fmt: Literal["csv", "json"],
    plant: Plant,
    *,
    now: datetime | None = None,
    limit: int = MAX_ORDERS_PER_BATCH,
) -> tuple[list[Order], list[str]]:
    """Checks every row; returns (orders, ids to cancel) or raises `OrderFileRejected`.

    With `now`, due dates and releases must lie within the plant's planning horizon. More than
    `limit` rows raise `OrderBatchTooLarge` (nothing is read).
    """
    cancels: list[str] = []
    bad: list[dict[str, object]] = []
    if fmt == "json":
        rows, cancels = _json_rows(text)
    else:
        rows = []
        try:
            read = _rows_from_csv(text)
        except csv.Error as exc:
            raise _whole_file("csv", f"not CSV: {exc}") from exc
        for row in read:
            if str(row.pop("action", "")).lower() == "cancel":
                cancels.append(str(row.get("id", "")))
            else:
                rows.append(row)
    if len(rows) + len(cancels) > limit:
        raise OrderBatchTooLarge(len(rows) + len(cancels), limit)
    orders: list[Order] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        reasons: list[str] = []
        oid = row.get("id") if isinstance(row, dict) else None
        if not isinstance(oid, str | None):
            reasons.append(f"order id {oid!r} is not a string")
            oid = None
        if oid in seen:
            reasons.append(f"duplicate order id {oid!r}")
        product = row.get("product") if isinstance(row, dict) else None
        if isinstance(row, dict) and (
            not isinstance(product, str) or product not in plant.products
        ):
            reasons.append(f"unknown product {product!r}")
        try:
            parsed = parse_orders({"orders": [row]}, plant, now=now)
        except PlantInvalid as exc:
            reasons += [str(e).replace("orders.0", "row") for e in exc.errors]
            parsed = []
        if reasons:
            bad.append({"row": n, "order": oid, "reasons": reasons})
        else:
            orders.extend(parsed)
        if isinstance(oid, str):
            seen.add(oid)
    if bad:
        raise OrderFileRejected(fmt, bad)
    return orders, cancels


@dataclass(frozen=True)
class PendingChange:
    """A changed order waiting for a planner's decision."""

    order: Order
    received: str
    source: str
    submitted_by: str = ""


class OrderDesk:
    """Turns accepted orders into triggers; holds changes that wait for a planner.

    With a `recorder`, every order, change, decision and cancellation is a `plan.*` event in the
    log before it is acted on (all of one file or request in one transaction); a restart hands
    the desk the pending changes again (`restore`).
    """

    def __init__(
        self,
        replanner: Replanner,
        *,
        policy: Policy = "ask",
        recorder: PlanningRecorder | None = None,
    ) -> None:
        self.replanner = replanner
        self.policy = policy
        self.recorder = recorder
        self.pending: dict[str, PendingChange] = {}
        #: The orders as the desk last accepted them (the engine learns them at the next replan).
        self.known: dict[str, Order] = dict(replanner.engine.orders)
        # the REST API and the drop folder's watcher accept from their own threads
        self._lock = threading.RLock()

    @property
    def plant(self) -> Plant:
        """The plant orders are checked against."""
        return self.replanner.engine.plant

    def restore(self, pending: dict[str, PendingChange]) -> None:
        """Takes back the changes that waited for a decision when the cloud stopped."""
        self.pending = dict(pending)

    def accept(
        self, orders: list[Order], cancels: list[str], user: str, source: str
    ) -> dict[str, Any]:
        """Applies checked orders: creations, changes (by policy), cancellations."""
        with self._lock:
            return self._accept(orders, cancels, user, source)

    def _accept(
        self, orders: list[Order], cancels: list[str], user: str, source: str
    ) -> dict[str, Any]:
        known = self.known
        out: dict[str, list[str]] = {"created": [], "changed": [], "pending": [], "cancelled": []}
        for oid in cancels:
            if oid not in known:
                raise UnknownOrder(f"order {oid!r} is not in the plan")
        facts: list[OrderFact] = []
        for order in orders:
            old = known.get(order.id)
            if old is None:
                facts.append(OrderFact("created", order, user, source))
                out["created"].append(order.id)
            elif old != order:
                if self.policy == "ask":
                    facts.append(OrderFact("pending", order, user, source))
                    out["pending"].append(order.id)
                else:
                    by = f"policy:{self.policy}"
                    facts.append(OrderFact("changed", order, by, source, self.policy, user))
                    out["changed"].append(order.id)
        gone = [(oid, user, source) for oid in cancels]
        if self.recorder is not None:
            self.recorder.orders(facts, gone)  # in the log first: nothing acts on an unkept fact
        for fact in facts:
            self._act(fact)
        for oid, _, _ in gone:
            known.pop(oid, None)
            self.pending.pop(oid, None)
            self.replanner.submit(OrderCancelled(oid))
            self.replanner._record(user, "cancel_order", order=oid, source=source)
            out["cancelled"].append(oid)
        return out

    def promote(
        self,
        created: list[Order],
        changed: list[Order],
        cancels: list[str],
        user: str,
        source: str,
    ) -> dict[str, list[str]]:
        """A planner's own order changes (a promoted what-if scenario): applied, not pending.

        Creations, changes (decided `adjust` by `user`: started and frozen steps stay) and
        cancellations, recorded in one transaction with who and `source`, then acted on.
        """
        with self._lock:
            for order in changed:
                if order.id not in self.known:
                    raise UnknownOrder(f"order {order.id!r} is not in the plan")
            for oid in cancels:
                if oid not in self.known:
                    raise UnknownOrder(f"order {oid!r} is not in the plan")
            facts = [OrderFact("created", order, user, source) for order in created]
            facts += [OrderFact("changed", o, user, source, "adjust", user) for o in changed]
            gone = [(oid, user, source) for oid in cancels]
            if self.recorder is not None:
                self.recorder.orders(facts, gone)
            for oid, _, _ in gone:  # a split cancels the order before its lots are created
                self.known.pop(oid, None)
                self.pending.pop(oid, None)
                self.replanner.submit(OrderCancelled(oid))
                self.replanner._record(user, "cancel_order", order=oid, source=source)
            for fact in facts:
                self._act(fact)
            return {
                "created": [o.id for o in created],
                "changed": [o.id for o in changed],
                "cancelled": list(cancels),
            }

    def decide(self, order_id: str, decision: Literal["new", "adjust"], user: str) -> None:
        """A planner's decision on a pending change (recorded with who and when)."""
        with self._lock:
            change = self.pending.get(order_id)
            if change is None:
                raise UnknownOrder(f"no change of order {order_id!r} waits for a decision")
            submitter = change.submitted_by or user
            fact = OrderFact("changed", change.order, user, change.source, decision, submitter)
            if self.recorder is not None:
                self.recorder.orders([fact])
            self._act(fact)

    def _act(self, fact: OrderFact) -> None:
        order = fact.order
        if fact.action == "created":
            self.known[order.id] = order
            self.replanner._record(fact.by, "order_created", order=order.id, source=fact.source)
            self.replanner.submit(OrderCreated(order))
        elif fact.action == "pending":
            when = self.replanner.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            self.pending[order.id] = PendingChange(order, when, fact.source, fact.by)
            self.replanner._record(
                fact.by, "order_change_pending", order=order.id, source=fact.source
            )
        else:
            assert fact.decision is not None
            self.known[order.id] = order
            self.pending.pop(order.id, None)
            self.replanner._record(
                fact.by,
                f"order_change_{fact.decision}",
                order=order.id,
                submitted_by=fact.submitted_by,
            )
            self.replanner.submit(OrderChanged(order, fact.decision))


def submit_orders(desk: OrderDesk, payload: Mapping[str, Any], user: str) -> dict[str, Any]:
    """The REST API's entry point: a JSON body as in the file drop; returns what happened.

    Raises:
        OrderFileRejected: some rows were bad (`.rows` has the reasons); nothing was applied.
        OrderBatchTooLarge: more orders than the batch limit; nothing was applied.
    """
    text = json.dumps(dict(payload), allow_nan=False)
    orders, cancels = parse_order_file(text, "json", desk.plant, now=desk.replanner.clock.now())
    return desk.accept(orders, cancels, user, "api")


def _reason_rows(exc: Exception) -> list[dict[str, Any]]:
    reasons = exc.errors if isinstance(exc, PlantInvalid) else [str(exc)]
    return [{"row": 0, "order": None, "reasons": list(reasons)}]


class OrderFolderWatcher:
    """Polls a drop folder: `*.csv` / `*.json` go to `done/` or to `rejected/` with reasons."""

    def __init__(
        self, folder: str | Path, desk: OrderDesk, *, user: str = "erp", poll_s: float = 1.0
    ) -> None:
        self.folder = Path(folder)
        self.desk = desk
        self.user = user
        self.poll_s = poll_s
        for sub in ("done", "rejected"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.worker = Worker("order-drop", self._run, backoff_s=poll_s, backoff_max_s=60.0)
        #: (size, mtime) of each file the previous scan left for not being settled yet.
        self._last_seen: dict[str, tuple[int, int]] = {}

    def scan_once(self, *, settled_only: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """Handles the files in the folder now; returns (file name, result or rejection).

        With `settled_only` (the polling thread), a file is handled only once its size and
        modification time are the same as at the previous scan: an ERP still writing a file is
        not read half-written (which would reject it). A writer that creates the file under
        another name (`*.tmp`, a dot file) and renames it when complete is handled at once.
        """
        results: list[tuple[str, dict[str, Any]]] = []
        seen: dict[str, tuple[int, int]] = {}
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in (".csv", ".json"):
                continue
            try:
                if not path.is_file():
                    continue
                stat = path.stat()
            except OSError:  # gone meanwhile
                continue
            mark = (stat.st_size, stat.st_mtime_ns)
            if settled_only and self._last_seen.get(path.name) != mark:
                seen[path.name] = mark  # new or still growing: handled at the next scan
                continue
            try:
                result = self._handle(path)
            except OSError:  # gone or unreadable now: the next scan tries again
                log.exception("order drop: cannot handle %s", path.name)
                continue
            results.append((path.name, result))
        self._last_seen = seen
        return results

    def _handle(self, path: Path) -> dict[str, Any]:
        """One file: applied and moved to `done/`, or moved to `rejected/` with its reasons.

        Whatever the bytes, the file leaves the folder and the watcher goes on: a file that is
        not UTF-8, not JSON or CSV, too large a batch, or that trips an error of ours, is
        rejected with the reason in `<name>.errors.json` beside it.
        """
        fmt: Literal["csv", "json"] = "csv" if path.suffix.lower() == ".csv" else "json"
        raw = path.read_bytes()
        try:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise _whole_file(fmt, f"not UTF-8 text: {exc}") from exc
            now = self.desk.replanner.clock.now()
            orders, cancels = parse_order_file(text, fmt, self.desk.plant, now=now)
            result = self.desk.accept(orders, cancels, self.user, f"file:{path.name}")
        except (OrderFileRejected, UnknownOrder, PlantInvalid) as exc:
            rows = exc.rows if isinstance(exc, OrderFileRejected) else _reason_rows(exc)
        except Exception as exc:  # a bug of ours must not stop the drop folder
            log.exception("order drop: %s failed", path.name)
            rows = [{"row": 0, "order": None, "reasons": [f"internal error: {exc!r}"]}]
        else:
            shutil.move(path, self.folder / "done" / path.name)
            return result
        target = self.folder / "rejected" / path.name
        shutil.move(path, target)
        target.with_suffix(target.suffix + ".errors.json").write_text(json.dumps(rows, indent=1))
        return {"rejected": rows}

    def start(self) -> OrderFolderWatcher:
        """Starts polling in a thread (a supervised worker: a fault is retried, never the end)."""
        self.worker.start()
        return self

    def close(self) -> None:
        """Stops polling."""
        self.worker.stop(5)

    def _run(self, worker: Worker) -> None:
        while not worker.wait(self.poll_s):
            self.scan_once(settled_only=True)
            worker.beat()
