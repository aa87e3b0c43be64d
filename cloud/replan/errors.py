"""The replanning package's exception tree, named after the rule that was broken."""

from __future__ import annotations

from cloud.errors import CloudError

__all__ = ["ManualModeActive", "OrderFileRejected", "ReplanError", "UnknownOrder"]


class ReplanError(CloudError):
    """Base of every error the replanning loop raises on purpose."""


class UnknownOrder(ReplanError, KeyError):
    """An order id that the plan (or the pending decisions) does not know."""


class ManualModeActive(ReplanError, RuntimeError):
    """An operation that needs manual mode off (or on) was asked for in the other mode."""


class OrderFileRejected(ReplanError, ValueError):
    """An order file or request had bad rows; nothing of it was applied.

    Attributes:
        rows: per rejected row, its number (1-based), the order id if readable, and the reasons.
    """

    def __init__(self, source: str, rows: list[dict[str, object]]) -> None:
        self.source = source
        self.rows = rows
        super().__init__(f"{source}: {len(rows)} row(s) rejected, nothing applied")
