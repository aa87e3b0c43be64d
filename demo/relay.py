"""A TCP relay between one demo Pi and the broker: the cable the e-kanban scene pulls.

The assembly board's agent reaches the embedded broker through this relay; `cut()` drops its
connections and refuses new ones, exactly what the agent sees when the broker is stopped or the
network is down (its connects fail, its outbox keeps what it records); `restore()` lets it
connect again. The rest of the demo keeps its broker. (amqtt, the embedded broker, cannot be
stopped and started again under the demo's load: it loses clients and raises in its own loop,
so the scene stops the broker for this Pi only. Against a real Mosquitto the tests stop the
broker itself: tests/sync/test_kanban_edge.py.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["LinkRelay"]


class LinkRelay:
    """Forwards TCP connections from a local port to `target`; a context manager."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self._server = socket.create_server((host, 0))
        self.port: int = self._server.getsockname()[1]
        self.host = host
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._cut = False
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)

    def url(self, query: str = "") -> str:
        """The broker URL the relayed agent is given."""
        return f"mqtt://{self.host}:{self.port}" + (f"?{query}" if query else "")

    def start(self) -> LinkRelay:
        """Starts accepting connections."""
        self._thread.start()
        return self

    @property
    def is_cut(self) -> bool:
        """Whether the link is cut."""
        return self._cut

    def cut(self) -> None:
        """Drops every relayed connection and refuses new ones until `restore()`."""
        with self._lock:
            self._cut = True
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        """Lets connections through again."""
        with self._lock:
            self._cut = False

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()  # the broker is not there
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                for sock in (source, sink):
                    if sock in self._open:
                        self._open.remove(sock)
                        sock.close()

    def close(self) -> None:
        """Stops accepting and drops every connection."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._server.close()
        self.cut()
        self._thread.join(5)

    def __enter__(self) -> LinkRelay:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
