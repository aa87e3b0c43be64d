"""The API's times on the plant's clock: ISO 8601 with the plant's UTC offset, one owner.

The cloud's parts keep and compute times in UTC (the event log, the MQTT payloads, the plan
document as published stay so); the REST API answers them as the plant's people read them:
`2026-03-23T07:30:00+01:00`, the same moment with the offset of the plant model's time zone at
that moment (summer time included). `PlantZone` knows the zone (the master data's plant, else the
planner's plant, else UTC) and rewrites an encoded JSON document: every string that is a whole
UTC time (`...Z` or `...+00:00`, to the second or finer) becomes the local form, keeping its
precision; other strings (ids that embed a time, texts, dates) are left alone. `ZonedTimes` is the
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

__all__ = ["QUOTED_UTC", "ZONED", "PlantZone", "ZonedTimes", "plant_zone"]

#: A whole UTC time as the cloud's parts write it (seconds optional, fraction up to ns) as a JSON
#: string in encoded bytes, quotes included (not after a backslash: that quote is escaped).
QUOTED_UTC: Final = re.compile(
    rb'(?<!\\)"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d{1,9}))?)?(?:Z|\+00:00))"'
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

    def encode(self, value: Any) -> bytes:
        """`value` encoded as JSON (NaN and Infinity as null, as `bodies`), times localised."""
        return self.localize(msgspec.json.encode(value))

    def localize(self, body: bytes) -> bytes:
        """A JSON document's bytes with every UTC time string on the plant's clock.

        Works on the encoding, not on decoded values: a time is a whole JSON string (value or
        key), quotes included, so the bytes say where each one is; the 2,000-order plan (8 MB)
        takes a tenth of a second where a walk over its decoded values took half a second.
        """
        tz = self.tz
        seen: dict[bytes, bytes] = {}

        def one(match: re.Match[bytes]) -> bytes:
            text = match[1]
            done = seen.get(text)
            if done is None:
                digits = len(match[2] or b"")
                spec = _SPEC.get(digits, "microseconds" if digits else "seconds")
                moment = datetime.fromisoformat(text.decode().replace("Z", "+00:00"))
                done = b'"' + moment.astimezone(tz).isoformat(timespec=spec).encode() + b'"'
                seen[text] = done
            return done

        return QUOTED_UTC.sub(one, body)

    def recode(self, body: bytes) -> bytes:
        """`localize`, the big documents' answers kept.

        A big document comes again as the same bytes object (a cached encoding whose route
        did not localise it itself): answered from the last few.
        """
        name = self.name
        with self._lock:
            for seen, zone, out in self._recoded:
                if seen is body and zone == name:
                    return out
        out = self.localize(body)
        if len(body) >= 65536:
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
