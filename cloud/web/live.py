"""Live pushes: the status and the plan as Server-Sent Events (`GET /api/events`).

One asyncio task per connected page, no thread: every `PUSH_INTERVAL_S` it looks at the status's
version and the plan's signature (both cheap reads) and sends what changed — `event: status`
with the whole status, `event: plan` with a small summary the Plan and Gap pages fetch again
on. Bursts of changes coalesce into one push per interval; a `: keep-alive` comment goes out
after `KEEPALIVE_S` of quiet. The encoded status is cached per status version (`StatusFeed`),
so fifty pages and `GET /api/status` share one snapshot and one encoding per change, its times
on the plant's clock (`zoned.PlantZone`) as every other JSON answer's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cloud.status import ResourceStatus
from cloud.web.parts import Snapshot
from cloud.web.plan_view import PlanView
from cloud.web.zoned import PlantZone

__all__ = ["KEEPALIVE_S", "PUSH_INTERVAL_S", "Live", "StatusFeed"]

PUSH_INTERVAL_S: Final = 0.25
KEEPALIVE_S: Final = 15.0
#: Without a status to watch, the status is pushed this often.
UNWATCHED_PUSH_S: Final = 1.0


class StatusFeed:
    """The status snapshot encoded as JSON, computed once per status version."""

    def __init__(
        self, snapshot: Snapshot, status: ResourceStatus | None, zone: PlantZone | None = None
    ) -> None:
        self._snapshot = snapshot
        self._status = status
        self._zone = zone
        self._cache: tuple[int, bytes] | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def zoned(self) -> bool:
        """Whether `encoded()` writes the plant's times already (a zone was given)."""
        return self._zone is not None

    def version(self) -> int | None:
        """The status's version (None: no status to watch)."""
        return self._status.version if self._status is not None else None

    def _encode(self) -> bytes:
        if self._zone is not None:
            return self._zone.encode(self._snapshot())
        return msgspec.json.encode(self._snapshot())

    async def encoded(self) -> bytes:
        """The current status as JSON bytes (NaN and Infinity written as null)."""
        if self._status is None:
            return await run_in_threadpool(self._encode)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # concurrent readers of a new version wait for one encoding
            version = self._status.version  # read first: a change meanwhile re-encodes next time
            cached = self._cache
            if cached is not None and cached[0] == version:
                return cached[1]
            body = await run_in_threadpool(self._encode)
            self._cache = (version, body)
            return body


class Live:
    """The live side of the application: the status feed, the plan view, the stop signal."""

    def __init__(self, feed: StatusFeed, plan: PlanView) -> None:
        self.feed = feed
        self.plan = plan
        #: Set when the server stops: every open stream ends within one push interval.
        self.stopping = threading.Event()

    async def stream(self) -> AsyncIterator[bytes]:
        """The event stream of one page, until it goes away or the server stops."""
        seen: Any = object()
        plan_seen: tuple[Any, ...] | None = None
        quiet_since = time.monotonic()
        unwatched_at = 0.0
        while not self.stopping.is_set():
            sent = False
            version: float | None = self.feed.version()
            now = time.monotonic()
            if version is None and now - unwatched_at >= UNWATCHED_PUSH_S:
                unwatched_at, version = now, now  # no status to watch: push once a second
            if version is not None and version != seen:
                seen = version
                yield b"event: status\ndata: " + await self.feed.encoded() + b"\n\n"
                sent = True
            plan_now = self.plan.signature()
            if plan_now != plan_seen:
                plan_seen = plan_now
                yield b"event: plan\ndata: " + msgspec.json.encode(self.plan.event()) + b"\n\n"
                sent = True
            if sent:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(PUSH_INTERVAL_S)  # coalesce bursts into one push

    def routes(self) -> list[Route]:
        """`GET /api/events`."""

        async def events(request: Request) -> Response:
            return StreamingResponse(
                self.stream(),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )

        return [Route("/api/events", events, methods=["GET"])]
