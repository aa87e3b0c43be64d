"""The report routes: the resource status report of a period as JSON, or one table as CSV.

`GET /api/report?from=ISO&to=ISO` and `GET /api/report.csv?table=machines|processes|downtime&
from=..&to=..` fold the event log for the period against the current plant model
(`cloud.report.Reports`); a missing or unreadable period is a 400 naming the parameter. Without
a `Reports` (no event log given to the web server) both answer 404 with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from cloud.report import TABLES, PeriodInvalid, Reports, parse_moment, table_csv

__all__ = ["REPORT_ROUTES", "Answer", "ReportApi"]

#: (method, path) of the report routes; the OpenAPI document lists them too.
REPORT_ROUTES: Final = (("get", "/api/report"), ("get", "/api/report.csv"))
NO_REPORTS: Final = "reports are not enabled: the web server was given no event log"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: code, body, content type."""

    code: int
    body: bytes
    content_type: str


def _json(code: int, value: object) -> Answer:
    return Answer(code, json.dumps(value, indent=1).encode(), "application/json")


class ReportApi:
    """Serves the report routes over one `Reports` (absent: 404)."""

    def __init__(self, reports: Reports | None) -> None:
        self.reports = reports

    @staticmethod
    def serves(method: str, path: str) -> bool:
        """Whether (method, URL path) is a report route."""
        return (method, path) in REPORT_ROUTES

    def get(self, path: str, query: str) -> Answer:
        """Answers a GET of a report route with its query string."""
        if self.reports is None:
            return _json(404, {"error": NO_REPORTS})
        params = {key: values[0] for key, values in parse_qs(query).items()}
        table = params.get("table", "")
        if path.endswith(".csv") and table not in TABLES:
            return _json(400, {"error": f"table must be one of {', '.join(TABLES)}"})
        try:
            start = parse_moment(params.get("from"), "from")
            end = parse_moment(params.get("to"), "to")
            report = self.reports.build(start, end)
        except PeriodInvalid as exc:
            return _json(400, {"error": str(exc)})
        if path.endswith(".csv"):
            return Answer(200, table_csv(report, table).encode(), "text/csv; charset=utf-8")
        return _json(200, report.to_dict())
