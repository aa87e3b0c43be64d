"""Hand corrections recorded by the cloud itself, as events in its own log.

A person fixes a forgotten badge-out, a wrong stop reason, a tool's place, missed counts or a
wrong event through the API; the cloud records that as a new `correction` event (who, why, when
the corrected fact happened), never by editing history. The recorder is one of the cloud's own
sources (`cloud.recorder`): its sequence continues after a restart, and it commits and folds
under ingest's write lock, so the status folds in log order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from cloud.correction_input import InputRefused, check_words, plant_zone, read_time
from cloud.recorder import AGENT, CloudRecorder, EventRefused, last_key
from cloud.status import ResourceStatus
from cloud.store import EventLog
from taktline.clock import Clock, utc_iso

__all__ = ["AGENT", "SOURCE", "CorrectionRecorder", "CorrectionRefused", "last_key"]

SOURCE: Final = "cloud-corrections"
_FIELDS: Final = ("correction", "by", "reason", "at", "station", "tag", "value", "voids")


class CorrectionRefused(EventRefused):
    """A correction breaks the contract (unknown kind, no author, a bad value)."""


class CorrectionRecorder:
    """Records corrections: validate, append once to the log, fold into the status."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
        on_recorded: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._recorder = CloudRecorder(
            event_log, status, SOURCE, clock=clock, write_lock=write_lock
        )
        self.log = event_log
        self.status = status
        #: told each stored correction once it is folded (the cloud's floor reactions)
        self.on_recorded = on_recorded

    @property
    def instance(self) -> str:
        """The recorder's instance id (kept across restarts)."""
        return self._recorder.instance

    @property
    def seq(self) -> int:
        """The sequence number of the newest correction."""
        return self._recorder.seq

    def record(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Records one correction; returns the stored event.

        `at` is ISO 8601: with an offset as given, without one a wall-clock time in the plant's
        time zone; none means now.

        Raises:
            CorrectionRefused: said in words; nothing reached the log.
        """
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise CorrectionRefused(f"unknown field(s): {', '.join(unknown)}")
        payload = {key: fields.get(key) for key in _FIELDS}
        try:
            check_words(payload)
            if payload["at"] in (None, ""):
                payload["at"] = utc_iso(self._recorder.clock.now())
            else:
                payload["at"] = utc_iso(read_time(payload["at"], plant_zone(self.status)))
        except InputRefused as exc:
            raise CorrectionRefused(f"{exc}; nothing was recorded") from exc
        station = payload["station"] if isinstance(payload["station"], str) else None
        self._check_known(payload)
        try:
            stored = self._recorder.record("correction", payload, station)
        except EventRefused as exc:
            raise CorrectionRefused(str(exc)) from exc
        if self.on_recorded is not None:
            self.on_recorded(stored)
        return stored

    def _check_known(self, payload: Mapping[str, Any]) -> None:
        """Refuses, before anything is recorded, a station, operator or tool the plant lacks.

        The log is append-only, so a typo (`cut-1`) would stay in it for good.

        Known stations are the plant model's machines and every station an event named; known
        tags are the tag directory's (a badge for a badge-out, a tool for a tool's place). With
        no plant model loaded only the stations are checked, against those events named.
        """
        master = self.status.master
        seen = set(self.status.station_names())
        stations = set(master.machines) | seen
        if master.plant is None and not stations:
            return
        kind, station, tag = payload["correction"], payload["station"], payload["tag"]
        if isinstance(station, str) and station not in stations:
            raise CorrectionRefused(_unknown("station", station, stations))
        if kind == "tool_location" and isinstance(payload["value"], str):
            place = payload["value"]
            if place != "crib" and place not in stations:
                raise CorrectionRefused(_unknown("place", place, stations | {"crib"}))
        if master.plant is None or not isinstance(tag, str):
            return
        if kind == "badge_out" and master.operator_of(tag) is None:
            badges = {
                f"{(r.name or r.id) if (r := master.operator_of(t)) else e.ref} ({t})"
                for t, e in master.tags.items()
                if e.kind == "badge"
            }
            raise CorrectionRefused(_unknown("operator badge", tag, badges))
        if kind in ("tool_location", "tool_service") and master.tool_of(tag) is None:
            tools = {t for t, e in master.tags.items() if e.kind == "tool"}
            raise CorrectionRefused(_unknown("tool tag", tag, tools))


def _unknown(what: str, value: str, known: set[str]) -> str:
    listed = sorted(known)
    more = f" and {len(listed) - 12} more" if len(listed) > 12 else ""
    names = ", ".join(listed[:12]) + more if listed else "none"
    return f"{what} {value!r} is not known to the plant (known: {names}); nothing was recorded"
