"""The contract's exception tree: each class is named after the rule that was broken."""

from __future__ import annotations

__all__ = [
    "ContractError",
    "InvalidTagId",
    "MalformedMessage",
    "MessageTooLarge",
    "SchemaViolation",
    "UnknownEventType",
    "UnsupportedVersion",
]


class ContractError(ValueError):
    """A message or event does not follow the event contract."""


class MalformedMessage(ContractError):
    """The bytes are not a JSON object."""


class MessageTooLarge(ContractError):
    """The message is larger than the contract allows."""


class SchemaViolation(ContractError):
    """A field is missing, has the wrong type or a value outside its range."""


class UnknownEventType(SchemaViolation):
    """The event's `type` is not one the contract defines."""


class InvalidTagId(SchemaViolation):
    """A tag id is not a 4- or 7-byte UID in upper-case hex (no cascade tag, no BCC)."""


class UnsupportedVersion(SchemaViolation):
    """A message of a contract version this side does not read (a newer agent, say)."""
