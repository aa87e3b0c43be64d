"""The API's times on the plant's clock: ISO 8601 with the plant's UTC offset, one owner.

The cloud's parts keep and compute times in UTC (the event log, the MQTT payloads, the plan
document as published stay so); the REST API answers them as the plant's people read them:
`2026-03-23T07:30:00+01:00`, the same moment with the offset of the plant model's time zone at
that moment (summer time included). `PlantZone` knows the zone (the master data's plant, else the
planner's plant, else UTC) and rewrites a JSON document: every string that is a whole UTC time
(`...Z` or `...+00:00`, to the second or finer) becomes the local form, keeping its precision;
other strings (ids that embed a time, texts, dates) are left alone. `ZonedTimes` is the
middleware that does it to every JSON answer (`application/json`, `application/problem+json`),
so no route formats a time itself; a body the route has localised already (the plan, the status
feed, which cache their encodings) says so in the scope (`ZONED`) and passes as it is, as does
one with a `Content-Encoding` (the plan's own gzip encoding, made from the localised bytes).
Inputs are not touched: routes read any ISO 8601 form (`taktline.clock.parse_moment`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from cloud.web.parts import WebParts

__all__ = ["UTC_TIME", "ZONED", "PlantZone", "ZonedTimes", "plant_zone"]

#: A whole UTC time as the cloud's parts write it (seconds optional, fraction up to ns).
UTC_TIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d{1,9}))?)?(?:Z|\+00:00)\Z"
)
#: The scope key a route sets when its JSON body holds plant-zone times already.
ZONED: Final = "taktline.zoned"
_JSON_TYPES: Final = (b"application/json", b"application/problem+json")
_SPEC: Final = {0: "seconds", 3: "milliseconds", 6: "microseconds"}


class PlantZone:
    """The plant's time zone, read when used (the master data can change it), and its texts."""

    def __init__(self, zone: Callable[[], str | None]) -> None:
        self._zone = zone
        self._cached: tuple[str, tzinfo] = ("UTC", UTC)
        self._recoded: list[tuple[bytes, str, bytes]] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The IANA name of the zone (UTC when none is known or it is not a zone)."""
        return self._name_and_tz()[0]

    @property
    def tz(self) -> tzinfo:
        """The zone as a `tzinfo`."""
        return self._name_and_tz()[1]

    def _name_and_tz(self) -> tuple[str, tzinfo]:
        name = self._zone() or "UTC"
        cached = self._cached
        if cached[0] == name:
            return cached
        try:
            found: tzinfo = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            name, found = "UTC", UTC  # the plant model's loader refuses a bad zone anyway
        self._cached = (name, found)
        return self._cached

    def text(self, moment: datetime, timespec: str = "seconds") -> str:
        """An aware moment as the API writes it: ISO 8601 with the plant's offset."""
        return moment.astimezone(self.tz).isoformat(timespec=timespec)

    def localize(self, value: Any) -> Any:
        """`value` (JSON-ready) with every UTC time string in the plant's zone, as a copy."""
        tz = self.tz
        seen: dict[str, str] = {}

        def one(text: str) -> str:
            if len(text) < 17 or len(text) > 36 or text[10:11] != "T":
                return text  # the fast path: most strings are no time
            done = seen.get(text)
            if done is not None:
                return done
            match = UTC_TIME.match(text)
            if match is None:
                seen[text] = text
                return text
            digits = len(match[1] or "")
            spec = _SPEC.get(digits, "microseconds" if digits else "seconds")
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            out = moment.astimezone(tz).isoformat(timespec=spec)
            seen[text] = out
            return out

        def walk(item: Any) -> Any:
            if isinstance(item, str):
                return one(item)
            if isinstance(item, dict):
                return {one(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
            if isinstance(item, list | tuple):
                return [walk(v) for v in item]
            return item

        return walk(value)

    def encode(self, value: Any) -> bytes:
        """`value` localised and encoded as JSON (NaN and Infinity as null, as `bodies`)."""
        return msgspec.json.encode(self.localize(value))

    def recode(self, body: bytes) -> bytes:
        """A JSON body with its UTC times in the plant's zone (the same bytes object: cached)."""
        name = self.name
        with self._lock:
            for seen, zone, out in self._recoded:
                if seen is body and zone == name:
                    return out
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return body  # not JSON after all: passed on as it is
        out = self.encode(value)
        if len(body) >= 65536:  # the big cached documents are sent again as the same object
            with self._lock:
                self._recoded = [(body, name, out), *self._recoded[:3]]
        return out


def plant_zone(parts: WebParts) -> PlantZone:
    """The zone of the cloud's plant: the master data's, else the planner's plant's, else UTC."""

    def name() -> str | None:
        if parts.master is not None:
            return parts.master.plant.timezone
        if parts.replanner is not None:
            return parts.replanner.engine.plant.timezone
        return None

    return PlantZone(name)


class ZonedTimes:
    """ASGI middleware: every JSON answer's UTC times in the plant's zone (`PlantZone`)."""

    def __init__(self, app: ASGIApp, zone: PlantZone) -> None:
        self.app = app
        self.zone = zone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Holds a JSON answer's body until it is whole, then sends it localised."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _rewritable(message) and not scope.get(ZONED):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            body = self.zone.recode(raw) if raw else raw
            headers = [
                (k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, held)


def _rewritable(start: Message) -> bool:
    kind = b""
    for key, value in start.get("headers", ()):
        name = key.lower()
        if name == b"content-encoding":
            return False
        if name == b"content-type":
            kind = value.split(b";")[0].strip().lower()
    return kind in _JSON_TYPES
