"""A simulated AMR/AGV that speaks VDA 5050 v2 over MQTT: takes orders, drives, picks, drops.

The vehicle side of VDA 5050, small: it publishes its `connection` (ONLINE, retained; the MQTT
will says CONNECTIONBROKEN), takes an `order` on `uagv/v2/{manufacturer}/{serial}/order`,
and works through it node by node — accepted (standing, every node and edge still to go, the
actions WAITING), driving each edge, running each node's actions (`pick`, `drop`: RUNNING, then
FINISHED) — publishing a `state` at every change, and every `state_every_s` while idle. What it
holds is state a test can read (`order_id`, `position`, `carrying`, `states_sent`); `fail_next()`
makes the next order's `drop` FAILED with a FATAL error (a blocked aisle), `stall_next()` makes
it stop on the next edge without ever arriving (late). Run one as a process:

    python -m hardware.agv_sim --broker mqtt://127.0.0.1:1883 --manufacturer acme --serial agv-1
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import msgspec

from contract.logistics import vda5050_topic
from contract.vda5050 import (
    VERSION,
    ActionState,
    BatteryState,
    Connection,
    EdgeState,
    Error,
    ErrorReference,
    NodeState,
    Order,
    SafetyState,
    State,
    decode_order,
)
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker

__all__ = ["SimulatedAgv", "main"]

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SimulatedAgv:
    """One simulated vehicle on a broker (a context manager)."""

    def __init__(
        self,
        broker: BrokerSettings,
        manufacturer: str,
        serial: str,
        *,
        step_s: float = 0.3,
        state_every_s: float = 5.0,
        home: str = "home",
    ) -> None:
        self.manufacturer, self.serial = manufacturer, serial
        self.step_s = step_s
        self.state_every_s = state_every_s
        self.position = home
        self.order_id = ""
        self.carrying: str | None = None
        self.states_sent = 0
        self.orders_taken: list[str] = []
        self._fail_next = False
        self._stall_next = False
        self._orders: list[Order] = []
        self._lock = threading.Lock()
        self._headers = {"state": 0, "connection": 0}
        self._nodes: tuple[NodeState, ...] = ()
        self._edges: tuple[EdgeState, ...] = ()
        self._actions: dict[str, ActionState] = {}
        self._driving = False
        self._errors: tuple[Error, ...] = ()
        self._last_seq = 0
        self._order_update = 0
        will = (self._topic("connection"), self._connection("CONNECTIONBROKEN"))
        self._session = Session(
            broker, f"agv-{manufacturer}-{serial}", on_connect=self._connected, will=will
        )
        self._session.client.on_message = self._message
        self.worker = Worker(f"agv-{serial}", self._run, backoff_s=0.2, backoff_max_s=5.0)

    # --- what tests drive ----------------------------------------------------------------------

    def fail_next(self) -> None:
        """The next order's drop fails (a FATAL error): the transport is `failed`."""
        self._fail_next = True

    def stall_next(self) -> None:
        """The next order stops on its first edge and never arrives: the transport is late."""
        self._stall_next = True

    @property
    def is_connected(self) -> bool:
        """Whether the vehicle's session is up."""
        return self._session.is_connected

    def start(self, wait_s: float = 10.0) -> SimulatedAgv:
        """Connects and starts the vehicle's loop; waits up to `wait_s` for the broker."""
        self.worker.start()
        deadline = time.monotonic() + wait_s
        while not self._session.is_connected and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def close(self) -> None:
        """Says OFFLINE and disconnects."""
        if self._session.is_connected:
            self._session.client.publish(
                self._topic("connection"), self._connection("OFFLINE"), qos=1, retain=True
            )
        self.worker.stop(5)

    def __enter__(self) -> SimulatedAgv:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- MQTT ----------------------------------------------------------------------------------

    def _topic(self, name: str) -> str:
        return vda5050_topic(self.manufacturer, self.serial, name)

    def _header(self, name: str) -> int:
        self._headers[name] += 1
        return self._headers[name]

    def _connection(self, state: Any) -> bytes:
        message = Connection(
            headerId=self._headers["connection"],
            timestamp=_now(),
            version=VERSION,
            manufacturer=self.manufacturer,
            serialNumber=self.serial,
            connectionState=state,
        )
        return msgspec.json.encode(message)

    def _connected(self) -> None:
        self._header("connection")
        client = self._session.client
        client.publish(self._topic("connection"), self._connection("ONLINE"), qos=1, retain=True)
        client.subscribe(self._topic("order"), 0)
        self._publish_state()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic != self._topic("order"):
            return  # amqtt sends retained messages of others' wildcards to every client
        try:
            order = decode_order(bytes(message.payload))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("AGV %s: order not understood: %s", self.serial, exc)
            return
        with self._lock:
            self._orders.append(order)

    def _publish_state(self) -> None:
        state = State(
            headerId=self._header("state"),
            timestamp=_now(),
            version=VERSION,
            manufacturer=self.manufacturer,
            serialNumber=self.serial,
            orderId=self.order_id,
            orderUpdateId=self._order_update,
            lastNodeId=self.position,
            lastNodeSequenceId=self._last_seq,
            nodeStates=self._nodes,
            edgeStates=self._edges,
            driving=self._driving,
            actionStates=tuple(self._actions.values()),
            batteryState=BatteryState(batteryCharge=80.0, charging=False),
            operatingMode="AUTOMATIC",
            errors=self._errors,
            safetyState=SafetyState(eStop="NONE", fieldViolation=False),
        )
        self._session.client.publish(self._topic("state"), msgspec.json.encode(state), qos=0)
        self.states_sent += 1

    # --- driving an order ----------------------------------------------------------------------

    def _work(self, order: Order, worker: _Pumping) -> None:
        fail, self._fail_next = self._fail_next, False
        stall, self._stall_next = self._stall_next, False
        self.order_id, self._order_update = order.orderId, order.orderUpdateId
        self.orders_taken.append(order.orderId)
        self._errors = ()
        self._nodes = tuple(NodeState(nodeId=n.nodeId, sequenceId=n.sequenceId, released=True)
                            for n in order.nodes)  # fmt: skip
        self._edges = tuple(EdgeState(edgeId=e.edgeId, sequenceId=e.sequenceId, released=True)
                            for e in order.edges)  # fmt: skip
        self._actions = {
            a.actionId: ActionState(actionId=a.actionId, actionStatus="WAITING",
                                    actionType=a.actionType)
            for n in order.nodes for a in n.actions
        }  # fmt: skip
        self._publish_state()  # accepted
        for index, node in enumerate(order.nodes):
            if index > 0:  # drive the edge to this node
                self._driving = True
                self._publish_state()
                if stall:
                    return  # stopped on the edge; it never arrives
                if worker.wait(self.step_s):
                    return
                self._edges = self._edges[1:]
                self._driving = False
            self.position, self._last_seq = node.nodeId, node.sequenceId
            self._nodes = self._nodes[1:]
            for action in node.actions:
                self._act(action.actionId, action.actionType, "RUNNING")
                if worker.wait(self.step_s):
                    return
                if fail and action.actionType == "drop":
                    self._errors = (
                        Error(
                            errorType="blockedDropStation",
                            errorLevel="FATAL",
                            errorReferences=(
                                ErrorReference(
                                    referenceKey="orderId", referenceValue=order.orderId
                                ),
                            ),
                            errorDescription=f"the drop station {node.nodeId} is blocked",
                        ),
                    )
                    self._act(action.actionId, action.actionType, "FAILED", "station blocked")
                    return
                if action.actionType == "pick":
                    self.carrying = order.orderId
                elif action.actionType == "drop":
                    self.carrying = None
                self._act(action.actionId, action.actionType, "FINISHED")

    def _act(self, action_id: str, kind: str, status: Any, result: str = "") -> None:
        self._actions[action_id] = ActionState(
            actionId=action_id, actionStatus=status, actionType=kind, resultDescription=result
        )
        self._publish_state()

    def _run(self, worker: Worker) -> None:
        session = self._session
        try:
            while not worker.stopping:
                if not session.connect(lambda: worker.stopping):
                    break
                last = time.monotonic()
                while not worker.stopping and session.run_once(0.01):
                    with self._lock:
                        order = self._orders.pop(0) if self._orders else None
                    if order is not None:
                        self._work(order, _Pumping(worker, session))
                        last = time.monotonic()
                    elif time.monotonic() - last >= self.state_every_s:
                        self._publish_state()
                        last = time.monotonic()
                    worker.beat()
        finally:
            session.disconnect()


class _Pumping:
    """The worker's `wait`, but the network loop runs meanwhile (states go out at once)."""

    def __init__(self, worker: Worker, session: Session) -> None:
        self._worker, self._session = worker, session

    def wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._worker.stopping:
                return True
            self._session.run_once(0.01)
        self._worker.beat()
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one simulated AGV until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m hardware.agv_sim", description=__doc__)
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--manufacturer", required=True)
    parser.add_argument("--serial", required=True)
    parser.add_argument("--step-s", type=float, default=1.0, help="seconds per edge and action")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    settings = BrokerSettings.from_url(args.broker)
    with SimulatedAgv(settings, args.manufacturer, args.serial, step_s=args.step_s):
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
