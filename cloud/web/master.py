"""The master-data routes: the plant model as a document, replaced whole or by section rows.

`GET /api/master` the document; `PUT /api/master` a whole new one (validated whole, nothing
applied on error); `POST /api/master/{section}` rows of one section as CSV (`text/csv`, UTF-8)
or JSON (`application/json`, a list of objects). Rejections carry every error with its row and
column (422); a CSV that is not UTF-8 or not readable as CSV is a 400.
"""

from __future__ import annotations

import csv
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.master import MasterData, MasterRejected
from cloud.web.bodies import decode, json_response, media_type, raw_body, require_json
from cloud.web.problems import Problem

__all__ = ["NO_MASTER", "routes"]

NO_MASTER: Final = "no master data loaded: start the cloud with --plant"


def _rejected(exc: MasterRejected) -> Problem:
    errors = exc.to_list()
    first = errors[0]["reason"] if errors else "rejected"
    return Problem(422, f"rejected, nothing applied: {first}", errors=errors)


def routes(master: MasterData | None) -> list[Route]:
    """The master-data routes over one `MasterData` (absent: 404)."""

    def loaded() -> MasterData:
        if master is None:
            raise Problem(404, NO_MASTER)
        return master

    async def document(request: Request) -> Response:
        return json_response(await run_in_threadpool(loaded().document))

    async def replace(request: Request) -> Response:
        data = loaded()
        require_json(request)
        new = decode(await raw_body(request), dict[str, Any])
        try:
            await run_in_threadpool(data.replace, new)
        except MasterRejected as exc:
            raise _rejected(exc) from exc
        return json_response({"ok": True})

    async def rows(request: Request) -> Response:
        data = loaded()
        section = request.path_params["section"]
        kind = media_type(request)
        if kind == "text/csv":
            raw = await raw_body(request)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise Problem(400, f"the CSV is not UTF-8: {exc}") from exc
            try:
                count = await run_in_threadpool(data.import_csv, section, text)
            except csv.Error as exc:  # e.g. a bare carriage return inside a row
                raise Problem(400, f"the CSV cannot be read: {exc}") from exc
            except MasterRejected as exc:
                raise _rejected(exc) from exc
        elif kind == "application/json":
            items = decode(await raw_body(request), list[dict[str, Any]])
            try:
                count = await run_in_threadpool(data.import_rows, section, items)
            except MasterRejected as exc:
                raise _rejected(exc) from exc
        else:
            got = request.headers.get("content-type") or "none"
            raise Problem(415, f"send rows as text/csv or application/json (not {got})")
        return json_response({"applied": count})

    return [
        Route("/api/master", document, methods=["GET"]),
        Route("/api/master", replace, methods=["PUT"]),
        Route("/api/master/{section}", rows, methods=["POST"]),
    ]
