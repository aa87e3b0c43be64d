"""Line feeding by AMR/AGV: kanban signals and planned needs become VDA 5050 orders, tracked.

Two sources of transports: a workstation's kanban signal (a card tapped empty, a smart bin below
its threshold: one container of the loop's material from its supermarket to the point of use,
due `lead_min` after the signal) and a planned material need (each planned step using one of
`Transport.materials`, sent `lead_min` before the step starts, due at its start). A request waits
until an AGV of the fleet is free (ONLINE by its retained `connection`, no transport of its own
under way), then goes out as an `order` on `uagv/v2/{manufacturer}/{serial}/order` — a `pick`
at the pick node, a `drop` at the point of use — recorded first as `transport.order`. The AGV's
`state` messages move it on (`contract.vda5050.transport_state`): `accepted`, `driving`, `done`
or `failed`, each change recorded once as `transport.state`, never backwards; an AGV going
OFFLINE or CONNECTIONBROKEN fails its transport under way. A failed transport is sent again (up
to `MAX_ATTEMPTS` in all), and a failed one or one not done `late_after_min` after it was due
(`late`) is a `MaterialLate` replan trigger for the step needing the material (for a kanban
signal: the next planned step using it at that point of use).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from cloud.calloff.requirement import Need
from cloud.plant import Agv, Plant
from cloud.recorder import CloudRecorder
from cloud.replan.triggers import MaterialLate, Trigger
from cloud.status.logistics import TransportState
from contract.logistics import vda5050_topic
from contract.vda5050 import (
    VERSION,
    Action,
    ActionParameter,
    Edge,
    Node,
    Order,
    decode_connection,
    decode_state,
    transport_state,
)
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = ["MAX_ATTEMPTS", "Request", "Transports"]

log = logging.getLogger(__name__)

#: Tries of one need (the first transport and the ones sent after a failure).
MAX_ATTEMPTS: Final = 3
_RANK: Final = {"sent": 0, "accepted": 1, "driving": 2, "done": 3, "failed": 3}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_TOPIC: Final = re.compile(r"^uagv/v2/([^/]+)/([^/]+)/(state|connection)$")


@dataclass(frozen=True, slots=True)
class Request:
    """A transport to send once an AGV is free."""

    material: str
    pick: str
    drop: str
    quantity: float
    reason: str
    order: str | None
    step: str | None
    due: datetime
    attempt: int = 1


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Transports:
    """Turns signals and needs into VDA 5050 orders and AGV states into transport states."""

    def __init__(
        self,
        recorder: CloudRecorder,
        plant: Callable[[], Plant | None],
        *,
        publish: Callable[[str, bytes], None] | None = None,
        submit: Callable[[Trigger], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.recorder = recorder
        self.plant = plant
        self.publish = publish
        self.submit = submit
        self.clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._needs: list[Need] = []
        self._queue: list[Request] = []
        self._attempts: dict[tuple[str, str, str], int] = {}
        self._requests: dict[str, Request] = {}
        self._headers: dict[tuple[str, str], int] = {}
        #: Each AGV's last VDA 5050 connection state (ONLINE, OFFLINE, CONNECTIONBROKEN).
        self.connections: dict[tuple[str, str], str] = {}
        self.triggers = 0

    @property
    def ledger(self) -> dict[str, TransportState]:
        """The transports as the status folded them from the log."""
        return self.recorder.status.logistics.transports

    # --- sources -----------------------------------------------------------------------------

    def planned(self, needs: Sequence[Need]) -> None:
        """The plan's material needs (after every replan)."""
        with self._lock:
            self._needs = list(needs)

    def signals(self, events: Iterable[dict[str, Any]]) -> int:
        """Kanban signals among committed events become requests; returns how many."""
        plant = self.plant()
        if plant is None or not plant.transport.agvs:
            return 0
        made = 0
        for event in events:
            kind, payload = event.get("type"), event.get("payload", {})
            if kind == "kanban.empty":
                loop = next((x for x in plant.kanban.values() if payload["card"] in x.cards), None)
            elif kind == "bin.level" and payload.get("below"):
                loop = next((x for x in plant.kanban.values() if payload["bin"] in x.bins), None)
            else:
                continue
            if loop is None:
                continue
            material = plant.materials.get(loop.material)
            drop = (material.point_of_use if material else "") or event.get("station") or "line"
            need = self._next_need(loop.material, drop)
            now = self.clock.now()
            self._enqueue(
                Request(
                    loop.material,
                    loop.supermarket or plant.transport.pick,
                    drop,
                    float(loop.container_qty),
                    "kanban",
                    need.order if need else None,
                    need.step if need else None,
                    now + timedelta(minutes=plant.transport.lead_min),
                )
            )
            made += 1
        return made

    def _next_need(self, material: str, drop: str) -> Need | None:
        now = self.clock.now()
        with self._lock:
            later = [
                n
                for n in self._needs
                if n.material == material and n.point_of_use == drop and n.needed >= now
            ]
        return min(later, key=lambda n: n.needed, default=None)

    def _enqueue(self, request: Request) -> None:
        with self._lock:
            self._queue.append(request)

    # --- the clock's work (on the link's thread) ---------------------------------------------

    def tick(self) -> None:
        """Planned needs that are due, free AGVs, late transports."""
        plant = self.plant()
        if plant is None or not plant.transport.agvs:
            return
        now = self.clock.now()
        lead = timedelta(minutes=plant.transport.lead_min)
        with self._lock:
            fed = set(plant.transport.materials)
            # what the log says was sent already (a restart forgets `_attempts`, not the log)
            for t in self.ledger.values():
                if t.order["reason"] == "plan":
                    key = (t.order["order"], t.order["step"], t.order["material"])
                    self._attempts.setdefault(key, 1)
            for need in self._needs:
                key = (need.order, need.step, need.material)
                if need.material in fed and key not in self._attempts and need.needed - lead <= now:
                    self._attempts[key] = 1
                    self._queue.append(
                        Request(
                            need.material,
                            plant.transport.pick,
                            need.point_of_use,
                            need.quantity,
                            "plan",
                            need.order,
                            need.step,
                            max(need.needed, now),
                        )
                    )
            self._assign(plant)
            self._late(plant, now)

    def _free(self, plant: Plant) -> list[Agv]:
        busy = {
            (t.order["manufacturer"], t.order["serial"])
            for t in self.ledger.values()
            if not t.is_over
        }
        return [
            a
            for a in plant.transport.agvs
            if (a.manufacturer, a.serial) not in busy
            and self.connections.get((a.manufacturer, a.serial)) == "ONLINE"
        ]

    def _assign(self, plant: Plant) -> None:
        free = self._free(plant)
        while self._queue and free:
            request = self._queue.pop(0)
            self._send(free.pop(0), request)

    def _send(self, agv: Agv, request: Request) -> str:
        tid = f"tr-{secrets.token_hex(6)}"
        payload = {
            "transport": tid,
            "manufacturer": agv.manufacturer,
            "serial": agv.serial,
            "material": request.material,
            "pick": request.pick,
            "drop": request.drop,
            "quantity": request.quantity,
            "reason": request.reason,
            "order": request.order,
            "step": request.step,
            "due": utc_iso(request.due),
        }
        self.recorder.record("transport.order", payload)
        self._requests[tid] = request
        key = (agv.manufacturer, agv.serial)
        header = self._headers.get(key, 0)
        self._headers[key] = header + 1
        order = _order(agv, tid, header, request, utc_iso(self.clock.now()))
        if self.publish is not None:
            self.publish(vda5050_topic(agv.manufacturer, agv.serial, "order"), order)
        return tid

    def _late(self, plant: Plant, now: datetime) -> None:
        after = timedelta(minutes=plant.transport.late_after_min)
        for tid, t in list(self.ledger.items()):
            if t.is_over or t.late or _when(t.order["due"]) + after > now:
                continue
            self._record(tid, "late", f"not done {plant.transport.late_after_min:g} min after due")
            self._trigger(t, now + after)

    # --- the AGVs' messages ------------------------------------------------------------------

    def on_message(self, topic: str, raw: bytes) -> None:
        """A VDA 5050 `state` or `connection` message from an AGV."""
        match = _TOPIC.fullmatch(topic)
        if match is None:
            return
        agv = (match[1], match[2])
        try:
            if match[3] == "connection":
                self._connection(agv, decode_connection(raw).connectionState)
                return
            state = decode_state(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("AGV %s/%s: %s message not understood: %s", *agv, match[3], exc)
            return
        with self._lock:
            known = self.ledger.get(state.orderId)
            if known is None or known.is_over:
                return
            seen = transport_state(state, state.orderId)
            if seen is None or _RANK[seen[0]] <= _RANK[known.state]:
                return
            self._record(state.orderId, seen[0], seen[1])
            if seen[0] == "failed":
                self._failed(state.orderId, known)
            plant = self.plant()
            if plant is not None:
                self._assign(plant)

    def _connection(self, agv: tuple[str, str], state: str) -> None:
        """An AGV's connection: a transport of one that went away has failed."""
        with self._lock:
            self.connections[agv] = state
            if state == "ONLINE":
                return
            for tid, known in list(self.ledger.items()):
                mine = (known.order["manufacturer"], known.order["serial"]) == agv
                if mine and not known.is_over:
                    self._record(tid, "failed", f"the AGV is {state}")
                    self._failed(tid, known)

    def _failed(self, tid: str, known: TransportState) -> None:
        plant = self.plant()
        now = self.clock.now()
        lead = timedelta(minutes=plant.transport.lead_min if plant is not None else 15.0)
        self._trigger(known, now + lead)
        request = self._requests.get(tid) or _request_of(known)
        if request.attempt < MAX_ATTEMPTS:
            self._queue.append(replace(request, attempt=request.attempt + 1, due=now + lead))

    def _trigger(self, known: TransportState, ready: datetime) -> None:
        order, step = known.order["order"], known.order["step"]
        if order is None or step is None or self.submit is None:
            return
        self.triggers += 1
        self.submit(MaterialLate(order, step, known.order["material"], ready))

    def _record(self, tid: str, state: str, detail: str) -> None:
        payload = {"transport": tid, "state": state, "detail": _CONTROL.sub(" ", detail)[:200]}
        self.recorder.record("transport.state", payload)


def _request_of(known: TransportState) -> Request:
    o = known.order
    return Request(
        o["material"], o["pick"], o["drop"], o["quantity"], o["reason"], o["order"], o["step"],
        _when(o["due"]),
    )  # fmt: skip


def _order(agv: Agv, tid: str, header: int, request: Request, stamp: str) -> bytes:
    """The VDA 5050 order: pick at the pick node, one edge, drop at the point of use."""
    load = ActionParameter("loadId", f"{request.material}@{request.drop}"[:200])
    pick = Node(
        nodeId=request.pick,
        sequenceId=0,
        released=True,
        actions=(Action(actionType="pick", actionId=f"{tid}-pick", blockingType="HARD",
                        actionParameters=(load,)),),
    )  # fmt: skip
    drop = Node(
        nodeId=request.drop,
        sequenceId=2,
        released=True,
        actions=(Action(actionType="drop", actionId=f"{tid}-drop", blockingType="HARD",
                        actionParameters=(load,)),),
    )  # fmt: skip
    edge = Edge(
        edgeId=f"{request.pick}->{request.drop}"[:200],
        sequenceId=1,
        released=True,
        startNodeId=request.pick,
        endNodeId=request.drop,
    )
    order = Order(
        headerId=header,
        timestamp=stamp,
        version=VERSION,
        manufacturer=agv.manufacturer,
        serialNumber=agv.serial,
        orderId=tid,
        orderUpdateId=0,
        nodes=(pick, drop),
        edges=(edge,),
    )
    return msgspec.json.encode(order)
