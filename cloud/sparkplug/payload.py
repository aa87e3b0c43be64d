"""Sparkplug B payloads: the one module that knows protobuf, and the topics of the namespace.

The message classes come from the Sparkplug B definition (`sparkplug_b.proto` beside this file,
compiled into `_descriptor.py`) loaded into a private descriptor pool, so the bridge works with
whichever protobuf runtime is installed and never clashes with another copy of the definition in
the default pool. `encode()` builds a payload from `Metric` values; `decode()` reads one back
(tests and the NCMD handler use it). Metric values are typed by the Sparkplug data type: integers
up to 32 bits go in `int_value`, 64-bit ones in `long_value`, and so on, as the specification's
"Payload Metric Value" rules say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from cloud.sparkplug._descriptor import SPARKPLUG_B_PROTO

__all__ = [
    "NAMESPACE",
    "DataType",
    "DecodeError",
    "Metric",
    "Payload",
    "decode",
    "encode",
    "topic",
    "valid_id",
]

#: The first element of every Sparkplug B topic.
NAMESPACE: Final = "spBv1.0"

_pool = descriptor_pool.DescriptorPool()
_pool.Add(descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(SPARKPLUG_B_PROTO)))
#: The Sparkplug B `Payload` message class.
Payload: Any = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("org.eclipse.tahu.protobuf.Payload")
)


class DataType(IntEnum):
    """The Sparkplug B data types the bridge uses (their numbers from the definition's enum)."""

    Int32 = 3
    Int64 = 4
    UInt32 = 7
    UInt64 = 8
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13


_INT: Final = frozenset({DataType.Int32, DataType.UInt32})
_LONG: Final = frozenset({DataType.Int64, DataType.UInt64, DataType.DateTime})
for _type in DataType:  # the numbers above must be the definition's
    assert _pool.FindEnumTypeByName("org.eclipse.tahu.protobuf.DataType").values_by_name[
        _type.name
    ].number == int(_type), _type


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: its name, Sparkplug data type and value (None: a null value)."""

    name: str
    datatype: DataType
    value: bool | int | float | str | None


def _put(target: Any, metric: Metric, timestamp_ms: int) -> None:
    target.name = metric.name
    target.datatype = int(metric.datatype)
    target.timestamp = timestamp_ms
    value = metric.value
    if value is None:
        target.is_null = True
    elif metric.datatype is DataType.Boolean:
        target.boolean_value = bool(value)
    elif metric.datatype is DataType.String:
        target.string_value = str(value)
    elif metric.datatype is DataType.Double:
        target.double_value = float(value)
    elif metric.datatype in _INT:
        target.int_value = int(value) & 0xFFFFFFFF  # Int32: two's complement in a uint32
    elif metric.datatype in _LONG:
        target.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    else:  # pragma: no cover - every DataType member is handled above
        raise ValueError(f"metric {metric.name}: no value field for {metric.datatype!r}")


def encode(timestamp_ms: int, metrics: Iterable[Metric], seq: int | None = None) -> bytes:
    """A Sparkplug B payload: its timestamp, the metrics (each stamped too) and `seq`.

    `seq` is None for an NDEATH, which carries no sequence number.
    """
    payload = Payload(timestamp=timestamp_ms)
    if seq is not None:
        payload.seq = seq
    for metric in metrics:
        _put(payload.metrics.add(), metric, timestamp_ms)
    return bytes(payload.SerializeToString())


def value_of(metric: Any) -> bool | int | float | str | None:
    """The value of a decoded metric (None when null or without a value)."""
    if metric.is_null:
        return None
    field = metric.WhichOneof("value")
    if field is None:
        return None
    value = getattr(metric, field)
    if field == "int_value" and metric.datatype == DataType.Int32 and value >= 1 << 31:
        return int(value) - (1 << 32)
    if field == "long_value" and metric.datatype == DataType.Int64 and value >= 1 << 63:
        return int(value) - (1 << 64)
    return value  # type: ignore[no-any-return]


def decode(body: bytes) -> Any:
    """A `Payload` message from its bytes.

    Raises:
        DecodeError: the bytes are no Sparkplug B payload.
    """
    payload = Payload()
    payload.ParseFromString(body)
    return payload


def valid_id(text: str) -> bool:
    """Whether `text` may be a group, edge node or device id (a topic element, no wildcard)."""
    return bool(text) and not any(c in text for c in "/+#") and text.isprintable()


def topic(group: str, kind: str, node: str, device: str | None = None) -> str:
    """`spBv1.0/GROUP/KIND/NODE[/DEVICE]` (KIND: NBIRTH, DDATA, NCMD, ...)."""
    return "/".join([NAMESPACE, group, kind, node] + ([device] if device is not None else []))
