"""VDA 5050 v2 messages: what the cloud sends an AMR/AGV and what the AGV reports back.

The subset of VDA 5050 2.0 a line-feeding master control needs, as msgspec structs (the type is
the decoder and the encoder): `Order` (nodes and edges to travel, actions at the nodes — here a
`pick` at the supermarket and a `drop` at the point of use), `State` (the AGV's progress: the
nodes and edges still to travel, whether it drives, each action's status, errors) and
`Connection` (ONLINE / OFFLINE / CONNECTIONBROKEN, the AGV's retained MQTT will). Field names
are the specification's (camelCase); fields the specification makes optional and Taktline does
not use are left out of the structs and ignored when decoding, so a real AGV's full state
decodes. `transport_state` reads one state as Taktline's transport states.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

__all__ = [
    "ACTION_STATUSES",
    "VERSION",
    "Action",
    "ActionParameter",
    "ActionState",
    "BatteryState",
    "Connection",
    "Edge",
    "EdgeState",
    "Error",
    "ErrorReference",
    "Node",
    "NodeState",
    "Order",
    "SafetyState",
    "State",
    "decode_connection",
    "decode_order",
    "decode_state",
    "transport_state",
]

#: The protocol version Taktline speaks (the topic's major version is `v2`).
VERSION: Final = "2.0.0"
ACTION_STATUSES: Final = ("WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED")

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Seq = Annotated[int, msgspec.Meta(ge=0, lt=2**32)]
ActionStatus = Literal["WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED"]


class _Message(msgspec.Struct, frozen=True, kw_only=True):
    """The header every VDA 5050 message carries."""

    headerId: Seq
    timestamp: str
    version: str
    manufacturer: Id
    serialNumber: Id


class ActionParameter(msgspec.Struct, frozen=True):
    """One key/value parameter of an action (e.g. the load's id)."""

    key: Id
    value: str | float | bool


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """An action at a node: `pick`, `drop` (VDA 5050 predefined action types)."""

    actionType: Id
    actionId: Id
    blockingType: Literal["NONE", "SOFT", "HARD"]
    actionParameters: tuple[ActionParameter, ...] = ()


class Node(msgspec.Struct, frozen=True, kw_only=True):
    """A node of the order's graph (even sequence ids)."""

    nodeId: Id
    sequenceId: Seq
    released: bool
    actions: tuple[Action, ...] = ()


class Edge(msgspec.Struct, frozen=True, kw_only=True):
    """An edge between two nodes (odd sequence ids)."""

    edgeId: Id
    sequenceId: Seq
    released: bool
    startNodeId: Id
    endNodeId: Id
    actions: tuple[Action, ...] = ()


class Order(_Message, frozen=True, kw_only=True):
    """`uagv/v2/{manufacturer}/{serialNumber}/order`: where to go and what to do there."""

    orderId: Id
    orderUpdateId: Seq
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


class NodeState(msgspec.Struct, frozen=True, kw_only=True):
    """A node the AGV still has to reach."""

    nodeId: Id
    sequenceId: Seq
    released: bool


class EdgeState(msgspec.Struct, frozen=True, kw_only=True):
    """An edge the AGV still has to travel."""

    edgeId: Id
    sequenceId: Seq
    released: bool


class ActionState(msgspec.Struct, frozen=True, kw_only=True):
    """Where one action of the order is."""

    actionId: Id
    actionStatus: ActionStatus
    actionType: str = ""
    resultDescription: str = ""


class ErrorReference(msgspec.Struct, frozen=True, kw_only=True):
    """What an error refers to (`orderId`, `actionId`, `nodeId` ...)."""

    referenceKey: str
    referenceValue: str


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """An error the AGV reports."""

    errorType: str
    errorLevel: Literal["WARNING", "FATAL"]
    errorReferences: tuple[ErrorReference, ...] = ()
    errorDescription: str = ""


class BatteryState(msgspec.Struct, frozen=True, kw_only=True):
    """The battery."""

    batteryCharge: Annotated[float, msgspec.Meta(ge=0, le=100)]
    charging: bool


class SafetyState(msgspec.Struct, frozen=True, kw_only=True):
    """Emergency stop and protective field."""

    eStop: Literal["AUTOACK", "MANUAL", "REMOTE", "NONE"]
    fieldViolation: bool


class State(_Message, frozen=True, kw_only=True):
    """`uagv/v2/{manufacturer}/{serialNumber}/state`: the AGV's progress on its order."""

    orderId: str
    orderUpdateId: Seq
    lastNodeId: str
    lastNodeSequenceId: Seq
    nodeStates: tuple[NodeState, ...]
    edgeStates: tuple[EdgeState, ...]
    driving: bool
    actionStates: tuple[ActionState, ...]
    batteryState: BatteryState
    operatingMode: Literal["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL", "SERVICE", "TEACHIN"]
    errors: tuple[Error, ...]
    safetyState: SafetyState


class Connection(_Message, frozen=True, kw_only=True):
    """`uagv/v2/{manufacturer}/{serialNumber}/connection` (retained; also the MQTT will)."""

    connectionState: Literal["ONLINE", "OFFLINE", "CONNECTIONBROKEN"]


_ORDER = msgspec.json.Decoder(Order)
_STATE = msgspec.json.Decoder(State)
_CONNECTION = msgspec.json.Decoder(Connection)


def decode_order(raw: bytes) -> Order:
    """An order from its JSON; raises `msgspec.ValidationError` / `DecodeError`."""
    return _ORDER.decode(raw)


def decode_state(raw: bytes) -> State:
    """A state from its JSON; raises `msgspec.ValidationError` / `DecodeError`."""
    return _STATE.decode(raw)


def decode_connection(raw: bytes) -> Connection:
    """A connection message from its JSON."""
    return _CONNECTION.decode(raw)


def transport_state(state: State, order_id: str) -> tuple[str, str] | None:
    """What `state` says of the order `order_id`: (transport state, detail), None if nothing.

    `failed`: an action of the order FAILED, or a FATAL error; `done`: every action FINISHED and
    no node or edge left; `driving`; else `accepted` (the AGV holds the order).
    """
    if state.orderId != order_id:
        return None
    for error in state.errors:
        if error.errorLevel == "FATAL":
            return "failed", f"{error.errorType}: {error.errorDescription}"[:200]
    for action in state.actionStates:
        if action.actionStatus == "FAILED":
            what = action.resultDescription or "failed"
            return "failed", f"{action.actionType or action.actionId}: {what}"[:200]
    finished = all(a.actionStatus == "FINISHED" for a in state.actionStates)
    if finished and not state.nodeStates and not state.edgeStates:
        return "done", f"at {state.lastNodeId}"[:200]
    if state.driving:
        return "driving", f"from {state.lastNodeId}"[:200]
    return "accepted", f"at {state.lastNodeId}"[:200]
