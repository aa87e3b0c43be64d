"""The machine page's upcoming schedule: the plan's job steps on one machine from now on.

`upcoming(document, resource, now)` reads the schedule document (`PlanView.document()`, its
`resources` section: per resource id the job steps planned on it) and answers the steps on that
machine not yet ended at `now`, by start, at most `LIMIT`, each with its order, step, start and
end (UTC) and whether it runs now; `more` says how many were left out. The plan names steps by
order and step id; the ticket tags the floor scans are the status's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

__all__ = ["LIMIT", "upcoming"]

#: The most upcoming job steps the machine page lists.
LIMIT: Final = 20


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def upcoming(
    document: Mapping[str, Any] | None, resource: str | None, now: datetime, limit: int = LIMIT
) -> dict[str, Any]:
    """The steps on `resource` not ended at `now` (`planned`: False without a plan)."""
    if document is None or resource is None:
        return {"planned": False, "steps": [], "more": 0}
    found: list[tuple[datetime, datetime, Mapping[str, Any]]] = []
    for job in (document.get("resources") or {}).get(resource) or ():
        start, end = _moment(job.get("start")), _moment(job.get("end"))
        if start is not None and end is not None and end > now:
            found.append((start, end, job))
    found.sort(key=lambda item: (item[0], item[1], str(item[2].get("order"))))
    steps = [
        {
            "order": str(job.get("order")),
            "step": str(job.get("step")),
            "start": job.get("start"),
            "end": job.get("end"),
            "running": start <= now,
        }
        for start, end, job in found[:limit]
    ]
    return {"planned": True, "steps": steps, "more": max(0, len(found) - limit)}
