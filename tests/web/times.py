"""What the API's times are in UTC, for comparing answers with the cloud's own UTC documents.

The API writes times with the plant's offset (cloud/web/zoned.py); the parts behind it keep UTC
with `Z`. `utc(value)` turns every ISO 8601 time with an offset in a JSON value back into the
UTC form with `Z`, keeping its precision — written here on its own, not with the code it checks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["OFFSET_TIME", "utc"]

#: An ISO 8601 date and time with an offset or `Z` (group 1: the fraction's digits).
OFFSET_TIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d+))?)?(?:Z|[+-]\d{2}:\d{2})\Z"
)


def _one(text: str) -> str:
    match = OFFSET_TIME.match(text)
    if match is None:
        return text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    digits = len(match[1] or "")
    spec = {0: "seconds", 3: "milliseconds"}.get(digits, "microseconds")
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def utc(value: Any) -> Any:
    """`value` with every time string in UTC (`Z`)."""
    if isinstance(value, str):
        return _one(value)
    if isinstance(value, dict):
        return {utc(k): utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc(v) for v in value]
    return value
