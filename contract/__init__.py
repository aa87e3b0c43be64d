"""The event contract: envelope, payloads, wire messages and topics (v1).

Imported by agent, cloud, demo and tests; imports none of them.
"""

from contract.downlink import ScheduledJob, StackLightCommand, StationSchedule
from contract.envelope import (
    CONTRACT_VERSION,
    EVENT_TYPES,
    MAX_EVENTS_PER_MESSAGE,
    MAX_MESSAGE_BYTES,
    Batch,
    Event,
    SentStamp,
    asks_resend,
    corrected_time,
    encode_batch,
    encode_settlement,
    parse_batch,
    parse_event,
    parse_settlement,
    parse_time,
    validate_payload,
)
from contract.errors import (
    ContractError,
    InvalidTagId,
    MalformedMessage,
    MessageTooLarge,
    SchemaViolation,
    UnknownEventType,
)
from contract.status import AGENT_STATES, AgentStatus
from contract.tags import tag_id_from_cascade, tag_id_from_uid, validate_tag_id
from contract.topics import (
    NAMESPACE,
    AgentPath,
    TopicError,
    parse_agent_topic,
    station_schedule_topic,
    subscription,
)

__all__ = [
    "AGENT_STATES",
    "CONTRACT_VERSION",
    "EVENT_TYPES",
    "MAX_EVENTS_PER_MESSAGE",
    "MAX_MESSAGE_BYTES",
    "NAMESPACE",
    "AgentPath",
    "AgentStatus",
    "Batch",
    "ContractError",
    "Event",
    "InvalidTagId",
    "MalformedMessage",
    "MessageTooLarge",
    "ScheduledJob",
    "SchemaViolation",
    "SentStamp",
    "StackLightCommand",
    "StationSchedule",
    "TopicError",
    "UnknownEventType",
    "asks_resend",
    "corrected_time",
    "encode_batch",
    "encode_settlement",
    "parse_agent_topic",
    "parse_batch",
    "parse_event",
    "parse_settlement",
    "parse_time",
    "station_schedule_topic",
    "subscription",
    "tag_id_from_cascade",
    "tag_id_from_uid",
    "validate_payload",
    "validate_tag_id",
]
