"""The cloud's exception tree, named after the rule that was broken."""

from __future__ import annotations

__all__ = ["CloudError", "ConfigError", "EarlierThanTheLog", "UnknownAgent"]


class CloudError(Exception):
    """Base of every error the cloud raises on purpose."""


class ConfigError(CloudError, ValueError):
    """The cloud's configuration is missing a value or has a wrong one."""


class UnknownAgent(CloudError, LookupError):
    """An agent or device is not in the device registry."""


class EarlierThanTheLog(CloudError, LookupError):
    """A moment asked for is older than the oldest event the log keeps (older ones archived)."""
