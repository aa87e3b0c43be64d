"""The agent's exception tree, named after the rule that was broken."""

from __future__ import annotations

__all__ = [
    "AgentError",
    "ConfigError",
    "OutboxCorrupt",
    "OutboxFull",
    "PinUnavailable",
    "PlcUnavailable",
]


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(AgentError, ValueError):
    """The agent's configuration file is missing a value or has a wrong one."""


class OutboxFull(AgentError, OSError):
    """The outbox holds its maximum number of unconfirmed events; the new event was rejected."""


class OutboxCorrupt(AgentError, OSError):
    """The outbox file exists but is not a Taktline outbox (or is from an incompatible version)."""


class PinUnavailable(AgentError, OSError):
    """A GPIO pin named in the config cannot be claimed (not on the header, or in use)."""


class PlcUnavailable(AgentError, ConnectionError):
    """A PLC did not answer, refused a request, or has no node or register the config names."""
