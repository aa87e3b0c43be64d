"""The HTTP protocol under the application: uvicorn's, with a deadline and a connection limit.

uvicorn drops idle keep-alive connections but has no time limit on a request that is still
arriving: a client that sends half a request and stops would hold its connection for ever. Here
each request must be fully received — headers and body — within `request_timeout_s` of its
first byte (or of the connection, for the first one); past that the server answers 408 when it
can and closes the connection. A connection beyond `max_connections` gets a 503 and is closed at
once. A request the parser cannot read (`Content-Length: abc`) gets a 400, and headers over
`max_head` bytes a 431. All these answers are problem documents, like the application's own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cloud.web.problems import problem_bytes

__all__ = ["DeadlineProtocol", "deadline_protocol"]

log = logging.getLogger(__name__)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request deadline and a connection limit."""

    request_timeout_s: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1000
    #: The most bytes of request line and headers taken (the body has its own limit).
    max_head: ClassVar[int] = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._headers_done = False
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Arms the first request's deadline, or refuses a connection past the limit."""
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("refused a connection: %d open", len(self.connections) - 1)
            transport.write(problem_bytes(503, "too many connections; try again shortly"))
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancels the deadline."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feeds the parser, refusing a request line and headers that never end (431)."""
        if not self._headers_done:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._headers_done and self._head_bytes > self.max_head:
            self._refuse(431, f"the request line and headers are over {self.max_head} bytes")

    def on_message_begin(self) -> None:
        """A new request's first byte: its deadline starts (unless one already runs)."""
        super().on_message_begin()
        self._headers_done = False
        self._arm()

    def on_headers_complete(self) -> None:
        """The headers are in; the application starts while the body may still arrive."""
        self._headers_done = True
        self._head_bytes = 0  # counted again from the next request (within one read of slack)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is whole: no deadline while the application answers it."""
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """The parser's refusal, as a problem document."""
        self._refuse(400, f"{msg} (not a readable HTTP/1.1 request)")

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(status, detail))
            self.transport.close()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if not self._headers_done or cycle is None or not cycle.response_started:
            # Nothing answered this request yet (an answer already sent stays the answer).
            detail = f"the request was not received within {self.request_timeout_s:g} s"
            self.transport.write(problem_bytes(408, detail))
        self.transport.close()


def deadline_protocol(request_timeout_s: float, max_connections: int) -> type[DeadlineProtocol]:
    """A `DeadlineProtocol` class with these limits (uvicorn takes a class)."""
    limits = {"request_timeout_s": request_timeout_s, "max_connections": max_connections}
    return type("DeadlineProtocolWithLimits", (DeadlineProtocol,), limits)
