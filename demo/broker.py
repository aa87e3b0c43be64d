"""The demo's embedded MQTT broker (amqtt, MQTT 3.1.1), on 127.0.0.1 only, in its own thread.

amqtt's shipped default binds 0.0.0.0 with anonymous access; this config never does. Production
uses Mosquitto or another MQTT 5 broker with ACLs (see docs/deployment.md); this one exists so
`taktline demo` needs nothing installed.

amqtt 0.11's broker walks its subscriptions dict while it awaits (sending retained messages to a
client that connects), so a client subscribing at that moment makes the walk fail ("dictionary
changed size during iteration") and the connecting client is dropped; with eight agents
connecting at once that happened in most demo runs. `_Subscriptions` walks a copy of the keys.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from types import TracebackType
from typing import Any

__all__ = ["EmbeddedBroker"]


class _Subscriptions(dict):  # type: ignore[type-arg]
    """amqtt's topic-filter table, iterated over a copy of its keys (see the module text)."""

    def __iter__(self) -> Any:
        return iter(list(super().keys()))


class EmbeddedBroker:
    """amqtt running on an asyncio loop in a background thread; a context manager."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="broker", daemon=True)
        self._broker: Any = None

    @property
    def url(self) -> str:
        """URL for `BrokerSettings.from_url` (MQTT 3.1.1: amqtt speaks nothing newer)."""
        return f"mqtt://{self.host}:{self.port}?protocol=3.1.1"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Starts the broker and waits until it listens."""
        from amqtt.broker import Broker

        # amqtt logs every connection at INFO: keep the demo's console for the plant.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._thread.start()

        async def create_and_start() -> Any:
            broker = Broker(config)
            broker._subscriptions = _Subscriptions(broker._subscriptions)
            await broker.start()
            return broker

        future = asyncio.run_coroutine_threadsafe(create_and_start(), self._loop)
        self._broker = future.result(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shuts the broker down and ends its thread."""
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception:  # a broker that fails to shut down must not hang the demo's exit
                logging.getLogger(__name__).warning("embedded broker did not shut down cleanly")
            self._broker = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
