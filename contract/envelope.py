"""Event contract v1: the envelope, the payload of every event type, and the wire messages.

This module is the one definition of what crosses the wire. The agent builds events with
`Event`, batches them into an `events` message (`encode_batch`), the cloud parses that message
with `parse_batch`, and confirms what it settled with a `settled` message (`encode_settlement`,
`parse_settlement`). `docs/asyncapi.yaml` describes the same messages as JSON Schemas, and
`tests/contract/test_docs_agree.py` checks that both accept and reject the same documents.

Identity: an event is identified by its source store's `instance` (a random 128-bit id made when
the store is first created) and `seq` (monotonic within the instance, never reused). Time: `time`
is the device's wall clock (UTC); `mono_ns` and `boot` are the device's monotonic clock and its
time base. Each message carries the same triple for the moment it was sent, so the cloud can
place an event on its own clock (`corrected_time`) even when the Pi's wall clock is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from contract.errors import (
    MalformedMessage,
    MessageTooLarge,
    SchemaViolation,
    UnknownEventType,
    UnsupportedVersion,
)
from contract.fields import (
    BOOT_RE,
    ID_RE,
    INSTANCE_RE,
    MAX_SEQ,
    STRICT_JSON,
    check_keys,
    check_time,
    fail,
    integer,
    loads,
    match,
    parse_time,
    string_field,
    valid_key,
)
from contract.payloads import (
    EVENT_TYPES,
    PAYLOAD_VALIDATORS,
    validate_payload,
)

__all__ = [
    "CONTRACT_VERSION",
    "EVENT_TYPES",
    "MAX_EVENTS_PER_MESSAGE",
    "MAX_MESSAGE_BYTES",
    "Batch",
    "Event",
    "SentStamp",
    "asks_resend",
    "corrected_epoch_us",
    "corrected_time",
    "encode_batch",
    "encode_settlement",
    "event_key",
    "parse_batch",
    "parse_event",
    "parse_settlement",
    "parse_time",
    "validate_payload",
]

CONTRACT_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 1_048_576
MAX_EVENTS_PER_MESSAGE: Final = 5_000

#: One encoder for every event body: building one per call costs more than the encoding.
_CANONICAL: Final = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


# --- the envelope -----------------------------------------------------------------------------

_EVENT_REQUIRED = frozenset(
    {"v", "type", "source", "agent", "instance", "seq", "time", "mono_ns", "boot", "payload"}
)
_EVENT_ALLOWED = _EVENT_REQUIRED | {"station"}


class Event(NamedTuple):
    """One fact from the shop floor, in the contract's envelope.

    A named tuple rather than a frozen dataclass: ingest builds one per event, and a frozen
    dataclass's `__init__` costs several times as much for the same immutability.
    """

    type: str
    source: str
    agent: str
    instance: str
    seq: int
    time: str
    mono_ns: int
    boot: str
    payload: dict[str, Any]
    station: str | None = None
    v: int = CONTRACT_VERSION

    @property
    def key(self) -> tuple[str, int]:
        """The event's identity: (source instance, sequence number)."""
        return (self.instance, self.seq)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (no `station` key when there is none)."""
        out: dict[str, Any] = {
            "v": self.v,
            "type": self.type,
            "source": self.source,
            "agent": self.agent,
            "instance": self.instance,
            "seq": self.seq,
            "time": self.time,
            "mono_ns": self.mono_ns,
            "boot": self.boot,
            "payload": self.payload,
        }
        if self.station is not None:
            out["station"] = self.station
        return out

    def to_json(self) -> str:
        """Compact JSON text of the envelope, as stored in the outbox and the event log."""
        return _CANONICAL.encode(self.to_dict())

    def validate(self) -> Event:
        """Checks every field; returns self or raises a `SchemaViolation`."""
        parse_event(self.to_dict())
        return self


# Ids seen valid before: a batch repeats its agent, sources, instance and boot in every event,
# and a set lookup costs a fraction of a regular-expression match. Bounded; cleared when full.
_GOOD_IDS: Final[set[str]] = set()
_GOOD_INSTANCES: Final[set[str]] = set()
_GOOD_BOOTS: Final[set[str]] = set()
_GOOD_LIMIT: Final = 65_536


def _known(obj: dict[str, Any], name: str, pattern: Any, good: set[str], where: str) -> str:
    value = obj[name]
    if type(value) is str and value in good:
        return value
    string_field(obj, name, pattern, where)
    if len(good) >= _GOOD_LIMIT:
        good.clear()
    good.add(value)
    return value  # type: ignore[no-any-return]


def event_key(item: Any) -> tuple[str, int] | None:
    """The (instance, seq) of a decoded item that may be no valid event, when both are in bounds.

    The one way to take a key from input that failed validation (its dead letter, the
    settlement of a broken message): a key out of the contract's bounds is no key at all.
    """
    if type(item) is dict:
        return valid_key(item.get("instance"), item.get("seq"))
    return None


def parse_event(obj: Any, where: str = "event") -> Event:
    """Validates a decoded envelope and returns it as an `Event`."""
    if not isinstance(obj, dict):
        raise fail(where, f"{type(obj).__name__} is not an object")
    keys = obj.keys()
    # The common case first (ingest validates every event): messages are built only on failure.
    if keys != _EVENT_REQUIRED and keys != _EVENT_ALLOWED:
        check_keys(obj, _EVENT_REQUIRED, _EVENT_ALLOWED, where)
    if obj["v"] != CONTRACT_VERSION or type(obj["v"]) is not int:
        raise fail(f"{where}.v", f"{obj['v']!r} is not contract version {CONTRACT_VERSION}")
    event_type = obj["type"]
    if type(event_type) is not str or event_type not in PAYLOAD_VALIDATORS:
        raise UnknownEventType(
            f"{where}.type: {event_type!r} is not one of {', '.join(EVENT_TYPES)}"
        )
    station = obj.get("station")
    if station is not None:
        _known(obj, "station", ID_RE, _GOOD_IDS, where)
    payload = obj["payload"]
    if type(payload) is not dict:
        raise fail(f"{where}.payload", f"{type(payload).__name__} is not an object")
    PAYLOAD_VALIDATORS[event_type](payload, f"{where}.payload")
    seq, mono_ns = obj["seq"], obj["mono_ns"]
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        integer(seq, f"{where}.seq", 1)
    if type(mono_ns) is not int or not 0 <= mono_ns <= MAX_SEQ:
        integer(mono_ns, f"{where}.mono_ns")
    time_text = obj["time"]
    if type(time_text) is not str or not check_time(time_text):
        parse_time(time_text, f"{where}.time")  # raises with the reason
    return Event(
        type=event_type,
        source=_known(obj, "source", ID_RE, _GOOD_IDS, where),
        agent=_known(obj, "agent", ID_RE, _GOOD_IDS, where),
        instance=_known(obj, "instance", INSTANCE_RE, _GOOD_INSTANCES, where),
        seq=seq,
        time=time_text,
        mono_ns=mono_ns,
        boot=_known(obj, "boot", BOOT_RE, _GOOD_BOOTS, where),
        payload=payload,
        station=station,
    )


# --- the `events` message (agent -> cloud) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentStamp:
    """The publishing agent's clocks at the moment it sent a message."""

    time: str
    mono_ns: int
    boot: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"time": self.time, "mono_ns": self.mono_ns, "boot": self.boot}


@dataclass(frozen=True, slots=True)
class Batch:
    """A parsed `events` message: valid events, and the ones that failed with their reason."""

    agent: str
    sent: SentStamp
    events: list[Event]
    rejected: list[tuple[dict[str, Any] | Any, str]]
    #: Each valid event's JSON text as it arrived (parallel to `events`): what the log stores,
    #: so ingest never re-encodes an event.
    bodies: list[str] = field(default_factory=list)
    #: Each valid event as decoded (parallel to `events`), for the status fold.
    items: list[dict[str, Any]] = field(default_factory=list)


def encode_batch(agent: str, sent: SentStamp, event_json: Iterable[str]) -> bytes:
    """Builds an `events` message from events already serialised by `Event.to_json`."""
    head = json.dumps(
        {"v": CONTRACT_VERSION, "agent": agent, "sent": sent.to_dict()}, separators=(",", ":")
    )
    return (head[:-1] + ',"events":[' + ",".join(event_json) + "]}").encode()


_BATCH_KEYS = frozenset({"v", "agent", "sent", "events"})
_SENT_KEYS = frozenset({"time", "mono_ns", "boot"})


def _decode(raw: bytes, limit: int) -> dict[str, Any]:
    if len(raw) > limit:
        raise MessageTooLarge(f"message of {len(raw)} bytes exceeds the limit of {limit} bytes")
    obj = loads(raw)
    if not isinstance(obj, dict):
        raise MalformedMessage(f"message is a JSON {type(obj).__name__}, not an object")
    return obj


_DECODER: Final = STRICT_JSON
_SPACE: Final = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, pos: int) -> int:
    found = _SPACE.match(text, pos)
    return found.end() if found is not None else pos


def _split_message(raw: bytes) -> tuple[dict[str, Any], list[str]] | None:
    """Decodes a message in one pass, keeping the text of each item of its `events` array.

    The result equals `json.loads(raw)`; `None` means "not the plain shape" (not UTF-8, invalid
    JSON, a repeated key, an `events` that is not an array), and the caller falls back to
    `json.loads` for the decision and the error message.
    """
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    scan, skip = _DECODER.raw_decode, _skip_space
    obj: dict[str, Any] = {}
    spans: list[str] = []
    try:
        pos = skip(text, 0)
        if text[pos : pos + 1] != "{":
            return None
        pos = skip(text, pos + 1)
        closed = text[pos : pos + 1] == "}"
        pos += closed
        while not closed:
            if text[pos : pos + 1] != '"':
                return None
            key, pos = scan(text, pos)
            pos = skip(text, pos)
            if text[pos : pos + 1] != ":" or key in obj:
                return None
            pos = skip(text, pos + 1)
            if key == "events":
                if text[pos : pos + 1] != "[":
                    return None
                items: list[Any] = []
                pos = skip(text, pos + 1)
                done = text[pos : pos + 1] == "]"
                pos += done
                while not done:
                    item, end = scan(text, pos)
                    items.append(item)
                    spans.append(text[pos:end])
                    pos = skip(text, end)
                    mark = text[pos : pos + 1]
                    if mark == ",":
                        pos = skip(text, pos + 1)
                    elif mark == "]":
                        pos, done = pos + 1, True
                    else:
                        return None
                obj[key] = items
            else:
                obj[key], pos = scan(text, pos)
            pos = skip(text, pos)
            mark = text[pos : pos + 1]
            if mark == ",":
                pos = skip(text, pos + 1)
            elif mark == "}":
                pos, closed = pos + 1, True
            else:
                return None
    except (ValueError, RecursionError):  # the fall-back decoder says which
        return None
    if skip(text, pos) != len(text):
        return None
    return obj, spans


def parse_batch(
    raw: bytes, limit: int = MAX_MESSAGE_BYTES, *, versions: Collection[int] = (CONTRACT_VERSION,)
) -> Batch:
    """Parses an `events` message.

    A broken message (not JSON, wrong envelope, too large) raises a `ContractError`; a single bad
    event inside a good message is returned in `Batch.rejected` with its reason, so the good events
    of the same message are not held hostage by it. A message whose version `v` is an integer
    not in `versions` raises `UnsupportedVersion` (a newer agent during a rolling upgrade: its
    events must not be confirmed, only kept).
    """
    split = _split_message(raw) if len(raw) <= limit else None
    if split is None:
        obj, spans = _decode(raw, limit), None
    else:
        obj, spans = split
    if isinstance(obj, dict) and type(obj.get("v")) is int and obj["v"] not in versions:
        raise UnsupportedVersion(
            f"message.v: contract version {obj['v']} is not one this side reads "
            f"({', '.join(map(str, versions))})"
        )
    check_keys(obj, _BATCH_KEYS, _BATCH_KEYS, "message")
    if obj["v"] not in versions or type(obj["v"]) is not int:
        raise fail("message.v", f"{obj['v']!r} is not contract version {CONTRACT_VERSION}")
    agent = match(obj["agent"], ID_RE, "message.agent")
    sent = obj["sent"]
    if not isinstance(sent, dict):
        raise fail("message.sent", "is not an object")
    check_keys(sent, _SENT_KEYS, _SENT_KEYS, "message.sent")
    parse_time(sent["time"], "message.sent.time")
    stamp = SentStamp(
        time=sent["time"],
        mono_ns=integer(sent["mono_ns"], "message.sent.mono_ns"),
        boot=match(sent["boot"], BOOT_RE, "message.sent.boot"),
    )
    items = obj["events"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS_PER_MESSAGE:
        raise fail("message.events", f"must be a list of 1 to {MAX_EVENTS_PER_MESSAGE} events")
    events: list[Event] = []
    bodies: list[str] = []
    valid: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any] | Any, str]] = []
    for index, item in enumerate(items):
        try:
            event = parse_event(item, f"events[{index}]")
        except SchemaViolation as exc:
            rejected.append((item, str(exc)))
            continue
        events.append(event)
        valid.append(item)
        bodies.append(spans[index] if spans is not None else event.to_json())
    return Batch(
        agent=agent, sent=stamp, events=events, rejected=rejected, bodies=bodies, items=valid
    )


def corrected_time(event: Event, sent: SentStamp, received: datetime) -> tuple[datetime, str]:
    """Places an event on the receiver's clock.

    When the event and its message share a monotonic time base, the event happened
    `sent.mono_ns - event.mono_ns` before the message was sent, and the message was sent (to
    within the network latency) when it was received: that is independent of the device's wall
    clock. Otherwise (the device rebooted in between) the device's own wall time is all there is.
    Returns the time and how it was obtained (`"monotonic"` or `"device"`).
    """
    if event.boot == sent.boot and event.mono_ns <= sent.mono_ns:
        return received - timedelta(
            microseconds=(sent.mono_ns - event.mono_ns) // 1000
        ), "monotonic"
    return parse_time(event.time), "device"


def corrected_epoch_us(event: Event, sent: SentStamp, received_us: int) -> tuple[int, str]:
    """`corrected_time` in integer microseconds since the epoch (ingest's per-event fast path)."""
    if event.boot == sent.boot and event.mono_ns <= sent.mono_ns:
        return received_us - (sent.mono_ns - event.mono_ns) // 1000, "monotonic"
    device = parse_time(event.time)
    return (device - _EPOCH) // _MICROSECOND, "device"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


# --- the `settled` message (cloud -> agent) ---------------------------------------------------


def _ranges(seqs: Iterable[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def encode_settlement(keys: Iterable[tuple[str, int]], *, resend: bool = False) -> bytes:
    """Builds a `settled` message confirming events by (instance, seq) as ranges per instance.

    `resend=True` adds `"resend": true`: the cloud may have lost what was on its way to it (its
    broker session was gone when it connected), so the agent sends everything unconfirmed again
    now instead of after its resend timer.
    """
    by_instance: dict[str, list[int]] = {}
    for instance, seq in keys:
        by_instance.setdefault(instance, []).append(seq)
    settled = [
        {"instance": inst, "ranges": _ranges(seqs)} for inst, seqs in sorted(by_instance.items())
    ]
    message: dict[str, Any] = {"v": CONTRACT_VERSION, "settled": settled}
    if resend:
        message["resend"] = True
    return json.dumps(message, separators=(",", ":")).encode()


def asks_resend(raw: bytes) -> bool:
    """Whether a (valid) `settled` message asks the agent to send everything unconfirmed again."""
    if b'"resend"' not in raw:  # the common case, without decoding the message again
        return False
    obj = _decode(raw, MAX_MESSAGE_BYTES)
    return isinstance(obj, dict) and obj.get("resend") is True


_SETTLED_KEYS = frozenset({"v", "settled", "resend"})
_SETTLED_REQUIRED = frozenset({"v", "settled"})
_ENTRY_KEYS = frozenset({"instance", "ranges"})


def parse_settlement(raw: bytes) -> list[tuple[str, int, int]]:
    """Parses a `settled` message into (instance, first seq, last seq) ranges."""
    obj = _decode(raw, MAX_MESSAGE_BYTES)
    check_keys(obj, _SETTLED_REQUIRED, _SETTLED_KEYS, "settled")
    if "resend" in obj and not isinstance(obj["resend"], bool):
        raise fail("settled.resend", f"{obj['resend']!r} is not a boolean")
    if obj["v"] != CONTRACT_VERSION:
        raise fail("settled.v", f"{obj['v']!r} is not contract version {CONTRACT_VERSION}")
    if not isinstance(obj["settled"], list):
        raise fail("settled.settled", "is not a list")
    out: list[tuple[str, int, int]] = []
    for i, entry in enumerate(obj["settled"]):
        where = f"settled[{i}]"
        if not isinstance(entry, dict):
            raise fail(where, "is not an object")
        check_keys(entry, _ENTRY_KEYS, _ENTRY_KEYS, where)
        instance = match(entry["instance"], INSTANCE_RE, f"{where}.instance")
        if not isinstance(entry["ranges"], list):
            raise fail(f"{where}.ranges", "is not a list")
        for pair in entry["ranges"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise fail(f"{where}.ranges", f"{pair!r} is not a [first, last] pair")
            first = integer(pair[0], f"{where}.ranges", 1)
            last = integer(pair[1], f"{where}.ranges", first)
            out.append((instance, first, last))
    return out
