"""The andon routes: the board, and a supervisor's acknowledgement of one of its alarms.

`GET /api/andon` answers the board (`cloud.andon.build`) at the status's "now": the live status,
the plant model, the current plan (when the cloud plans) and the acknowledgements folded from
the log. `POST /api/andon/acks` with `{"alarm": ID}` records, as an `andon.ack` event, that the
logged-in user (or the token's name, never the body's) acknowledged an alarm now on the board
(201 with who and when); an alarm not on the board is a 404, one already acknowledged a 409
naming who did it. Without an event log to record in, the POST answers 404.

The board is built at most once per `FRESH_S` for the same status, plan and acknowledgements:
every TV on the floor reads it on each status push, and they share one build.

Time travel (docs/andon.md): `GET /api/andon?at=TIME` answers the board as it was at a past
moment — the status rebuilt from the log (`cloud.timetravel`), the acknowledgements made by
then — with `history` saying where it landed; `GET /api/andon/history` the span of the log the
page's time slider ranges over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.andon import Ack, AckRefused, AndonRecorder, build
from cloud.andon.board import stamp
from cloud.errors import EarlierThanTheLog
from cloud.web.bodies import Body, json_body, json_response, moment_param
from cloud.web.guard import actor
from cloud.web.parts import WebParts
from cloud.web.plan_view import PlanView
from cloud.web.problems import Problem

__all__ = ["AckBody", "routes"]

NO_ACKS: Final = "acknowledgements are not enabled on this server (it keeps no event log)"
#: How long a built board is answered again while nothing it shows changed (its clock moves on).
FRESH_S: Final = 1.0


class AckBody(Body):
    """`POST /api/andon/acks`: the id of an alarm on the board."""

    alarm: str


def routes(parts: WebParts, plan: PlanView) -> list[Route]:
    """The andon routes over the cloud's parts and its plan view."""
    recorder: AndonRecorder | None = parts.andon
    cache: list[Any] = [None, 0.0, None]  # key, when built (monotonic), board
    lock = threading.Lock()

    def board() -> dict[str, Any]:
        acks = recorder.acks() if recorder is not None else {}
        status = parts.status.version if parts.status is not None else None
        key = (status, plan.signature(), len(acks))
        with lock:
            if cache[0] == key and time.monotonic() - cache[1] < FRESH_S:
                return dict(cache[2])
        built = build_now(acks)
        with lock:
            cache[:] = [key, time.monotonic(), built]
        return built

    def build_now(acks: Mapping[str, Ack]) -> dict[str, Any]:
        snapshot = parts.snapshot()
        now_text = snapshot.get("now")
        now = (
            datetime.fromisoformat(now_text.replace("Z", "+00:00"))
            if isinstance(now_text, str)
            else datetime.now(UTC)
        )
        master = parts.master.plant if parts.master is not None else None
        document = plan.document() if plan.has_plan() else None
        return build(snapshot, master, document, acks, now)

    def board_then(when: datetime) -> dict[str, Any]:
        """The board at a past moment: the status as the cloud knew it then (time travel).

        Machines, stops, absences and late deliveries as they were; late orders need the plan
        of then, which only a replan from that state would give (`taktline rootcause --at`,
        the What-if page), so they are left out here — `history.note` says so.
        """
        assert parts.history is not None
        shown = parts.history.view(when=when)
        acks = recorder.acks() if recorder is not None else {}
        known = {k: a for k, a in acks.items() if a.at <= when}
        master = parts.master.plant if parts.master is not None else None
        built = build(shown, master, None, known, when)
        oldest, newest = parts.history.span()
        built["history"] = {
            **shown["moment"],
            "from": oldest,
            "to": newest,
            "note": "late orders are not shown for a past moment (they need the plan of then)",
        }
        return built

    async def andon(request: Request) -> Response:
        at = request.query_params.get("at")
        if at is None:
            return json_response(await run_in_threadpool(board))
        if parts.history is None:
            raise Problem(404, "this server keeps no event log to travel in")
        when = moment_param(at)
        try:
            return json_response(await run_in_threadpool(board_then, when))
        except EarlierThanTheLog as exc:
            raise Problem(404, str(exc)) from exc

    async def span(request: Request) -> Response:
        if parts.history is None:
            raise Problem(404, "this server keeps no event log to travel in")
        oldest, newest = await run_in_threadpool(parts.history.span)
        return json_response({"from": oldest, "to": newest})

    def acknowledge(alarm: str, by: str) -> dict[str, Any]:
        assert recorder is not None
        shown = board()
        found = next((a for a in shown["alarms"] if a["id"] == alarm), None)
        if found is None:
            raise Problem(404, f"no alarm {alarm!r} on the board (it may have ended)")
        if found["ack"] is not None:
            ack = found["ack"]
            raise Problem(409, f"already acknowledged by {ack['by']} at {ack['at']}", ack=ack)
        try:
            stored = recorder.acknowledge(alarm, found["kind"], by)
        except AckRefused as exc:
            raise Problem(422, str(exc)) from exc
        at = datetime.fromisoformat(stored["time"].replace("Z", "+00:00"))
        zone = parts.master.plant.tz if parts.master is not None else UTC
        return {"alarm": alarm, "kind": found["kind"], "by": by, "at": stamp(at, zone)}

    async def ack(request: Request) -> Response:
        if recorder is None:
            raise Problem(404, NO_ACKS)
        body = await json_body(request, AckBody)
        return json_response(await run_in_threadpool(acknowledge, body.alarm, actor(request)), 201)

    return [
        Route("/api/andon", andon, methods=["GET"]),
        Route("/api/andon/history", span, methods=["GET"]),
        Route("/api/andon/acks", ack, methods=["POST"]),
    ]
