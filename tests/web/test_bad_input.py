"""Every malformed request is answered with a problem document (RFC 9457), never a closed socket.

The requests that once got no answer at all on the old http.server (issue 16) are each a case
here, over real HTTP to a server with every part: order bodies that are `null`, lack `orders`
or carry an `id` that is a list; `Content-Length: abc`; CSV that is not UTF-8 or has a bare
carriage return; JSON nested 200,000 deep on every JSON route; a report period before year 1.
Unknown fields are refused on every JSON route alike; JSON routes take only application/json;
status JSON never carries NaN or Infinity.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cloud.web.bodies import MAX_BODY
from tests.web.app import FullStack, full_stack

PROBLEM = "application/problem+json"
DEEP = b"[" * 200_000 + b"]" * 200_000
#: Every route that takes a JSON body, with a body it accepts (before any unknown field).
JSON_ROUTES: list[tuple[str, str, dict[str, Any] | list[Any]]] = [
    ("POST", "/api/orders", {"orders": []}),
    ("POST", "/api/manual", {"on": False}),
    ("POST", "/api/decisions/O-1", {"decision": "new"}),
    ("POST", "/api/plan/steps/O-1/crimp", {"start": "2026-03-23T06:00:00Z"}),
    ("POST", "/api/corrections", {"correction": "cycles", "reason": "r"}),
    ("PUT", "/api/master", {"site": "x"}),
    ("POST", "/api/master/tags", [{"tag": "0A0B0C0D"}]),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    with full_stack(tmp_path_factory.mktemp("web")) as running:
        yield running


def send(
    stack: FullStack,
    method: str,
    path: str,
    body: bytes | None = None,
    kind: str | None = "application/json",
) -> tuple[int, str, Any]:
    """(status, content type, parsed JSON or text) of one request."""
    address = urlsplit(stack.web.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Content-Type": kind} if kind else {}
    headers.update(stack.grants.bearer("ada", "admin"))  # bad input from whoever may send it
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    content_type = response.getheader("Content-Type", "")
    value = json.loads(raw, parse_constant=_refuse) if "json" in content_type else raw.decode()
    return response.status, content_type, value


def _refuse(name: str) -> None:
    raise AssertionError(f"{name} in a JSON answer")


def assert_problem(answer: tuple[int, str, Any], status: int, *words: str) -> dict[str, Any]:
    code, kind, body = answer
    assert (code, kind) == (status, PROBLEM), answer
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    for word in words:
        assert word in body["detail"], (word, body)
    return body  # type: ignore[no-any-return]


def order(**fields: Any) -> dict[str, Any]:
    row = {"id": "O-N", "product": "P", "quantity": 1, "due": "2031-01-01T00:00:00Z"}
    return {**row, **fields}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"null", "$"),
        (b'{"cancel": 5}', "$.cancel"),
        (b'{"cancel": ["O-1"]}', "$"),
        (b'{"orders": null}', "$.orders"),
        (json.dumps({"orders": [order(id=[1])]}).encode(), "$.orders[0].id"),
        (json.dumps({"orders": [order(colour="red")]}).encode(), "$.orders[0]"),
        (json.dumps({"orders": [order(quantity=2**64)]}).encode(), "$.orders[0].quantity"),
    ],
)
def test_a_bad_order_body_is_a_422_naming_the_path(
    stack: FullStack, body: bytes, path: str
) -> None:
    problem = assert_problem(send(stack, "POST", "/api/orders", body), 422)
    assert problem["errors"][0]["path"] == path


def test_content_length_that_is_not_a_number_is_a_400(stack: FullStack) -> None:
    address = urlsplit(stack.web.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: abc\r\n\r\n{}"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), raw
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 400


def test_csv_that_is_not_utf8_or_has_a_bare_cr_is_a_400(stack: FullStack) -> None:
    latin = "id,calendar,skills\nOP-JÜRGEN,two-shift,crimp\n".encode("latin-1")
    assert_problem(send(stack, "POST", "/api/master/operators", latin, "text/csv"), 400, "UTF-8")
    bare_cr = b"id,calendar,skills\nOP-EVA,two-shift,cr\rimp\n"
    answer = send(stack, "POST", "/api/master/operators", bare_cr, "text/csv")
    assert_problem(answer, 400, "CSV")
    # Still a working server: a good CSV row goes in.
    good = b"id,calendar,skills\nOP-EVA,two-shift,crimp\n"
    assert send(stack, "POST", "/api/master/operators", good, "text/csv")[:2] == (
        200,
        "application/json",
    )


@pytest.mark.parametrize(("method", "path", "accepted"), JSON_ROUTES)
def test_json_nested_200000_deep_is_a_400_on_every_json_route(
    stack: FullStack, method: str, path: str, accepted: Any
) -> None:
    assert_problem(send(stack, method, path, DEEP), 400, "deeper")
    moderately = b'{"a":' * 40 + b"1" + b"}" * 40  # below the recursion limit, above ours
    assert_problem(send(stack, method, path, moderately), 400, "deeper")


@pytest.mark.parametrize(("method", "path", "accepted"), JSON_ROUTES[:5])
def test_unknown_fields_are_refused_alike_on_every_json_route(
    stack: FullStack, method: str, path: str, accepted: Any
) -> None:
    # The plant model's own parser checks the master routes' documents (cloud/plant.py).
    body = {**accepted, "colour": "red"}
    problem = assert_problem(send(stack, method, path, json.dumps(body).encode()), 422)
    assert "colour" in problem["detail"] and problem["errors"][0]["path"] == "$"


@pytest.mark.parametrize(("method", "path", "accepted"), JSON_ROUTES)
def test_json_routes_take_only_application_json(
    stack: FullStack, method: str, path: str, accepted: Any
) -> None:
    body = json.dumps(accepted).encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        if path.startswith("/api/master/") and kind is None:
            continue
        assert_problem(send(stack, method, path, body, kind), 415)
    assert_problem(send(stack, method, path, b"{not json"), 400, "not JSON")


def test_a_body_over_the_limit_is_a_413(stack: FullStack) -> None:
    big = b'{"orders": [], "user": "' + b"x" * MAX_BODY + b'"}'
    assert_problem(send(stack, "POST", "/api/orders", big), 413)


def test_a_report_period_out_of_range_is_a_400(stack: FullStack) -> None:
    for query in (
        "from=0001-01-01T00:00:00%2B05:00&to=2026-03-23T14:00:00Z",
        "from=2026-03-23T06:00:00Z&to=0001-01-01T00:00:00%2B05:00",
        "from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z",
        "from=9999-12-30T00:00:00Z&to=9999-12-31T00:00:00Z",
        "from=2026-03-23T06:00:00Z",
        "from=yesterday&to=2026-03-23T14:00:00Z",
    ):
        assert_problem(send(stack, "GET", f"/api/report?{query}", kind=None), 400)
        csv_query = f"/api/report.csv?table=machines&{query}"
        assert_problem(send(stack, "GET", csv_query, kind=None), 400)


def test_unknown_routes_methods_and_query_values_are_problems(stack: FullStack) -> None:
    assert_problem(send(stack, "GET", "/api/nothing", kind=None), 404, "/api/nothing")
    assert_problem(send(stack, "DELETE", "/api/status", kind=None), 405)
    assert_problem(send(stack, "GET", "/api/machines/no%20such", kind=None), 404)
    for limit in ("0", "1001", "-1", "ten", "1e3"):
        assert_problem(send(stack, "GET", f"/api/dead-letters?limit={limit}", kind=None), 400)
    assert send(stack, "GET", "/api/dead-letters?limit=1000", kind=None)[0] == 200


def test_status_json_carries_no_nan_or_infinity(tmp_path: Path) -> None:
    with full_stack(tmp_path, snapshot=lambda: {"ratio": math.inf, "mean": math.nan}) as other:
        code, kind, body = send(other, "GET", "/api/status", kind=None)
        assert (code, kind, body) == (200, "application/json", {"ratio": None, "mean": None})


def test_a_bug_is_a_500_problem_without_a_traceback(tmp_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise KeyError("a bug in the status")

    with full_stack(tmp_path, snapshot=broken) as other:
        problem = assert_problem(send(other, "GET", "/api/status", kind=None), 500)
        assert "Traceback" not in problem["detail"] and "KeyError" not in problem["detail"]
        assert send(other, "GET", "/healthz", kind=None)[0] == 200  # still serving
