"""Schemathesis against a running server: every documented operation, fixed seed, fresh store.

docs/openapi.yaml is the contract; a real server with every part (`full_stack`: a fresh event
log, master data, corrections, reports and a running replanner) is the subject. Each operation
but the event stream gets `POSITIVE_CASES` requests drawn from its schema and `NEGATIVE_CASES`
that break it, with a fixed Hypothesis seed; every answer is checked: no 5xx, a documented
status, content type, headers and body schema, and a request that breaks the schema refused
with a 4xx. An operation without any input can only be asked one way; it is asked
`MIN_CASES` times (the state behind it changes as the other operations run). The count per
operation is printed. Each operation runs logged in as an admin (session cookie, CSRF token).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud.auth import LoginThrottle
from tests.web.app import FullStack, full_stack
from tests.web.auth import ADMIN, PASSWORD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
SEED = 20261205
POSITIVE_CASES = 40
NEGATIVE_CASES = 20
MIN_CASES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs/openapi.yaml")
OPERATIONS = [
    result.ok() for result in SCHEMA.get_all_operations() if result.ok().path != "/api/events"
]
COUNTS: Counter[str] = Counter()
#: (operation, "2xx" / "4xx") -> how many answers of that class.
CLASSES: Counter[tuple[str, str]] = Counter()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[FullStack]:
    began = time.monotonic()
    with full_stack(tmp_path_factory.mktemp("openapi")) as running:
        # Schemathesis tries logins with made-up names: they must not lock the address out.
        running.web.auth.throttle = LoginThrottle(per_account=10**6, per_address=10**6)
        yield running
    # Onto the terminal even when pytest captures output: make test shows the counts.
    width = max((len(label) for label in COUNTS), default=5)
    lines = [f"schemathesis on docs/openapi.yaml, seed {SEED}: cases per operation"]
    for label, count in sorted(COUNTS.items()):
        kinds = ", ".join(f"{k} {CLASSES[label, k]}" for k in ("2xx", "4xx") if CLASSES[label, k])
        lines.append(f"  {label:<{width}}  {count:>3}  ({kinds})")
    seconds = time.monotonic() - began
    lines.append(f"  {'total':<{width}}  {sum(COUNTS.values())} in {seconds:.1f} s")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + "\n".join(lines))


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_the_operation_keeps_its_contract(stack: FullStack, operation: object) -> None:
    base = stack.web.url.rstrip("/")
    session = requests.Session()  # logged in as an admin, as a browser is (cookie, CSRF token)
    answer = session.post(f"{base}/api/login", json={"name": ADMIN, "password": PASSWORD})
    assert answer.status_code == 200
    session.headers["X-CSRF-Token"] = answer.json()["csrf"]
    label = operation.label  # type: ignore[attr-defined]
    began = time.monotonic()
    modes = ((GenerationMode.POSITIVE, POSITIVE_CASES), (GenerationMode.NEGATIVE, NEGATIVE_CASES))
    for mode, cases in modes:
        strategy = operation.as_strategy(generation_mode=mode)  # type: ignore[attr-defined]

        @hypothesis.seed(SEED)
        @settings(
            max_examples=cases,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        @hypothesis.given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            _as_the_session(case)
            response = case.call(base_url=base, session=session, timeout=30)
            case.validate_response(response, checks=CHECKS)
            COUNTS[label] += 1
            CLASSES[label, f"{response.status_code // 100}xx"] += 1

        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            run()  # Unsatisfiable: nothing in this operation can break its schema (no inputs)
    # An operation without inputs has one request: ask it until it has its share.
    while COUNTS[label] < MIN_CASES:
        case = _only_case(operation)
        _as_the_session(case)
        response = case.call(base_url=base, session=session, timeout=30)
        case.validate_response(response, checks=CHECKS)
        COUNTS[label] += 1
        CLASSES[label, f"{response.status_code // 100}xx"] += 1
    assert COUNTS[label] >= MIN_CASES
    print(f"{label}: {COUNTS[label]} cases in {time.monotonic() - began:.1f} s")


def _as_the_session(case: schemathesis.Case) -> None:
    """Drops the credentials schemathesis makes up from the security schemes: the logged-in
    session's cookie and CSRF token are what authenticate (tests/web/test_auth.py covers the
    others)."""
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    if case.cookies:
        case.cookies = {k: v for k, v in case.cookies.items() if k != "taktline_session"}


def _only_case(operation: object) -> schemathesis.Case:
    found: list[schemathesis.Case] = []

    @hypothesis.seed(SEED)
    @settings(max_examples=1, database=None, deadline=None, phases=[hypothesis.Phase.generate])
    @hypothesis.given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def take(case: schemathesis.Case) -> None:
        found.append(case)

    take()
    return found[0]
