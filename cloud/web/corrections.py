"""The corrections routes: the corrections folded so far, and a new hand correction.

`POST /api/corrections` records a correction as a new event in the cloud's log (through
`CorrectionRecorder`, which checks it against the contract: 422 with the reason) and answers the
stored envelope (201); `by` is the logged-in user or the token's name, never the body's. Without
a recorder the POST answers 404. `GET /api/corrections/choices` lists what a correction form
offers: the kinds, stations, operators by name, machines, tools, stop reasons and the plant's
time zone (in which a time without an offset is read).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.correction_input import choices
from cloud.corrections import CorrectionRecorder, CorrectionRefused
from cloud.web.bodies import Body, json_body, json_response
from cloud.web.guard import actor
from cloud.web.parts import Snapshot
from cloud.web.problems import Problem

__all__ = ["CorrectionBody", "routes"]

NO_CORRECTIONS: Final = "corrections are not enabled on this server"


class CorrectionBody(Body):
    """A hand correction (docs/status.md says what each kind does with `value`)."""

    correction: str | None = None
    reason: str | None = None
    at: str | None = None
    station: str | None = None
    tag: str | None = None
    value: Any = None
    voids: list[Any] | None = None


def routes(snapshot: Snapshot, recorder: CorrectionRecorder | None) -> list[Route]:
    """The corrections routes."""

    async def listed(request: Request) -> Response:
        status = await run_in_threadpool(snapshot)
        return json_response(status.get("corrections", []))

    async def offered(request: Request) -> Response:
        if recorder is None:
            raise Problem(404, NO_CORRECTIONS)
        return json_response(await run_in_threadpool(choices, recorder.status))

    async def record(request: Request) -> Response:
        if recorder is None:
            raise Problem(404, NO_CORRECTIONS)
        body = await json_body(request, CorrectionBody)
        try:
            fields = {**msgspec.to_builtins(body), "by": actor(request)}
            stored = await run_in_threadpool(recorder.record, fields)
        except CorrectionRefused as exc:
            raise Problem(422, str(exc)) from exc
        return json_response(stored, 201)

    return [
        Route("/api/corrections", listed, methods=["GET"]),
        Route("/api/corrections", record, methods=["POST"]),
        Route("/api/corrections/choices", offered, methods=["GET"]),
    ]
