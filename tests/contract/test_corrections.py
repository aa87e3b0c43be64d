"""Correction payloads: each kind carries the value it needs and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from contract import ContractError, validate_payload

BASE: dict[str, Any] = {
    "by": "planner", "reason": "reader dead", "at": "2026-11-23T08:00:00Z",
    "station": "crimp-01", "tag": None, "voids": None,
}  # fmt: skip


@pytest.mark.parametrize("kind", ["cycles", "good", "scrap"])
def test_count_corrections_carry_a_count(kind: str) -> None:
    """Regression: `cycles` was checked against the signal names (`cycle`) and refused."""
    validate_payload("correction", {**BASE, "correction": kind, "value": 12})
    with pytest.raises(ContractError, match="value"):
        validate_payload("correction", {**BASE, "correction": kind, "value": None})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"correction": "stop_reason", "value": "lunch"}, "value"),
        ({"correction": "badge_out", "value": 3}, "value"),
        ({"correction": "void", "value": None}, "voids"),
        ({"correction": "tool_location", "value": "crib", "voids": ["a" * 32, 1]}, "voids"),
        ({"correction": "badge_out", "value": None, "by": ""}, "by"),
    ],
)
def test_bad_corrections_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError, match=field):
        validate_payload("correction", {**BASE, **changes})
