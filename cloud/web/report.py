"""The report routes: the resource status report of a period as JSON, or one table as CSV.

`GET /api/report?from=ISO&to=ISO` and `GET /api/report.csv?table=machines|processes|downtime&
from=..&to=..` fold the event log for the period against the current plant model
(`cloud.report.Reports`, in a worker thread); a missing or unreadable parameter is a 400 problem
naming it, and so is a period over 366 days. `GET /api/report/period?at=ISO` answers the
default period at `at` (default: now): the last completed shift with data (`cloud.report.shift`).
Without a `Reports` (no event log given to the web
server) both answer 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.report import TABLES, PeriodInvalid, Report, Reports, parse_moment, table_csv
from cloud.web.bodies import json_response
from cloud.web.problems import Problem

__all__ = ["NO_REPORTS", "routes"]

NO_REPORTS: Final = "reports are not enabled: the web server was given no event log"
#: The longest period a report may cover: the fold walks the calendar of the whole period.
MAX_PERIOD: Final = timedelta(days=366)


def _moment(request: Request, name: str) -> datetime:
    text = request.query_params.get(name)
    try:
        return parse_moment(text, name)
    except PeriodInvalid as exc:
        raise Problem(400, str(exc), errors=[{"path": name, "reason": str(exc)}]) from exc


def routes(reports: Reports | None) -> list[Route]:
    """The report routes over one `Reports` (absent: 404)."""

    def period(request: Request) -> tuple[datetime, datetime]:
        if reports is None:
            raise Problem(404, NO_REPORTS)
        start, end = _moment(request, "from"), _moment(request, "to")
        if end - start > MAX_PERIOD:
            reason = f"the period is longer than {MAX_PERIOD.days} days: ask for a shorter one"
            raise Problem(400, reason, errors=[{"path": "to", "reason": reason}])
        return start, end

    async def build(start: datetime, end: datetime) -> Report:
        assert reports is not None
        try:
            return await run_in_threadpool(reports.build, start, end)
        except PeriodInvalid as exc:
            raise Problem(400, str(exc)) from exc

    async def report(request: Request) -> Response:
        start, end = period(request)
        built = await build(start, end)
        return json_response(built.to_dict())

    async def default(request: Request) -> Response:
        if reports is None:
            raise Problem(404, NO_REPORTS)
        at = request.query_params.get("at")
        now = _moment(request, "at") if at is not None else datetime.now(UTC)
        found = await run_in_threadpool(reports.default_period, now)
        return json_response(found.to_dict())

    async def report_csv(request: Request) -> Response:
        if reports is None:
            raise Problem(404, NO_REPORTS)
        table = request.query_params.get("table", "")
        if table not in TABLES:
            reason = f"table must be one of {', '.join(TABLES)}"
            raise Problem(400, reason, errors=[{"path": "table", "reason": reason}])
        start, end = period(request)
        built = await build(start, end)
        return Response(
            table_csv(built, table).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route("/api/report", report, methods=["GET"]),
        Route("/api/report.csv", report_csv, methods=["GET"]),
        Route("/api/report/period", default, methods=["GET"]),
    ]
