"""REST bodies past the bounds, against the current web server over HTTP (issue 15).

An order batch over 5,000 gets 413 with nothing applied; a manual move of a step to 0001-01-01
got no answer at all (the replan overflowed inside the handler): it gets 422.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fuzz.rest import _server

TOKEN = {"value": ""}


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN['value']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_order_batch_over_the_limit_gets_413_and_a_move_to_year_1_gets_422(
    tmp_path: Path,
) -> None:
    web, TOKEN["value"] = _server(tmp_path)
    try:
        base = web.url.rstrip("/")
        orders = [
            {
                "id": f"SO-{n}",
                "product": "HARNESS-DOOR",
                "quantity": 1,
                "due": "2026-03-30T12:00:00Z",
            }
            for n in range(5001)
        ]
        code, body = post(f"{base}/api/orders", {"orders": orders})
        assert code == 413, body
        code, body = post(f"{base}/api/orders", {"orders": orders[:3]})
        assert code == 202 and body["created"] == ["SO-0", "SO-1", "SO-2"], body
        assert post(f"{base}/api/manual", {"on": True})[0] == 200
        code, body = post(f"{base}/api/plan/steps/SO-1001/cut", {"start": "0001-01-01T00:00:00Z"})
        assert code == 422 and "planning horizon" in json.dumps(body), body
    finally:
        web.stop()
