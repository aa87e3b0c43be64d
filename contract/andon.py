"""The andon event: a supervisor acknowledged an alarm of the andon board.

Recorded by the cloud only (source `cloud-andon`, agent `cloud`), never accepted from an agent:

- `andon.ack`: `by` (the logged-in user or the API token's name) acknowledged the alarm whose id
  is `alarm`, of `kind` (`stop`, `absent`, `late_order` or `late_delivery`); the event's time is
  when. An alarm's id names what it is about and when it began (`stop:crimp-02:<start>`), so a
  new stop of the same machine is a new alarm, and the acknowledgements folded from the log
  (`cloud/andon/record.py`) survive a restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from contract.fields import check_keys, fail

__all__ = ["ALARM_KINDS", "ANDON_SOURCE", "ANDON_TYPES", "ANDON_VALIDATORS", "MAX_ALARM_ID"]

#: The source id of the cloud's andon recorder (its events' `source`; `agent` is `cloud`).
ANDON_SOURCE: Final = "cloud-andon"
#: What an alarm of the andon board is about (cloud/andon/board.py raises them).
ALARM_KINDS: Final = ("stop", "absent", "late_order", "late_delivery")
MAX_ALARM_ID: Final = 200
MAX_BY: Final = 100

_PRINTABLE: Final = re.compile(r"[^\x00-\x1f\x7f]+")
_ACK: Final = frozenset({"alarm", "kind", "by"})


def _printable(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise fail(where, f"must be 1 to {limit} characters")
    if not _PRINTABLE.fullmatch(value):
        raise fail(where, "must not hold control characters")
    return value


def _ack_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _ACK, _ACK, where)
    _printable(payload["alarm"], f"{where}.alarm", MAX_ALARM_ID)
    kind = payload["kind"]
    if type(kind) is not str or kind not in ALARM_KINDS:
        raise fail(f"{where}.kind", f"{kind!r} is not one of {', '.join(ALARM_KINDS)}")
    _printable(payload["by"], f"{where}.by", MAX_BY)


ANDON_VALIDATORS: Final = {"andon.ack": _ack_payload}
ANDON_TYPES: Final = frozenset(ANDON_VALIDATORS)
