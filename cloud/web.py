"""The web monitoring interface: a live status page and a small JSON API, on 127.0.0.1 by default.

Standard library only (`http.server`), one thread per request. The page polls `/api/status`
once a second. Routes:

- `GET /` the status page (machines, operators, agents, dead letters)
- `GET /api/status` the resource status snapshot (`ResourceStatus.snapshot()`)
- `GET /api/dead-letters?limit=N` the most recent dead letters with their reasons
- `GET /healthz` `ok` while the service runs
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["WebServer"]

Snapshot = Callable[[], dict[str, Any]]
DeadLetters = Callable[[int], list[dict[str, Any]]]


class WebServer:
    """Serves the status page and API; `start()` runs it in a thread, `stop()` shuts it down."""

    def __init__(
        self,
        snapshot: Snapshot,
        dead_letters: DeadLetters,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
    ) -> None:
        page = resources.files("cloud").joinpath("status.html").read_bytes()
        handler = _handler(snapshot, dead_letters, page)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8080/."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> WebServer:
        """Serves in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def _handler(
    snapshot: Snapshot, dead_letters: DeadLetters, page: bytes
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "taktline"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the console belongs to the plant's events, not to page polls

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, code: int = 200) -> None:
            self._send(code, json.dumps(value, indent=1).encode(), "application/json")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/":
                self._send(200, page, "text/html; charset=utf-8")
            elif url.path == "/api/status":
                self._json(snapshot())
            elif url.path == "/api/dead-letters":
                query = parse_qs(url.query)
                try:
                    limit = max(1, min(1000, int(query.get("limit", ["50"])[0])))
                except ValueError:
                    self._json({"error": "limit must be an integer"}, 400)
                    return
                self._json(dead_letters(limit))
            elif url.path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            else:
                self._json({"error": f"no such page: {url.path}"}, 404)

    return Handler
