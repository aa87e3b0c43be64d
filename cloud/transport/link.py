"""The cloud's logistics session on the broker: call-offs out, VDA 5050 orders out, AGV states in.

One `taktline.mqtt.Session` driven by a supervised `Worker` ("logistics"). Call-offs are
published retained (QoS 1) on `taktline/v1/{site}/logistics/supplier/{supplier}/calloff` and
published again after a reconnect (a broker that lost its retained store still gives every
supplier the current version). VDA 5050 orders go to `uagv/v2/{manufacturer}/{serial}/order`
at the QoS the specification asks (0); the link subscribes to every AGV's `state` and
`connection` and hands each message to `on_message(topic, payload)` on its own thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker

__all__ = ["LogisticsLink"]

log = logging.getLogger(__name__)

#: What the link subscribes to: every AGV's state and connection (VDA 5050 v2).
SUBSCRIPTIONS = (("uagv/v2/+/+/state", 0), ("uagv/v2/+/+/connection", 1))


class LogisticsLink:
    """Publishes call-offs and orders; receives AGV states (a context manager)."""

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        client_id: str = "taktline-logistics",
        on_message: Callable[[str, bytes], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        tick_s: float = 0.5,
    ) -> None:
        self._session = Session(broker, client_id, on_connect=self._connected)
        self._session.client.on_message = self._message
        self.on_message = on_message
        #: Called about every `tick_s` on the link's thread (the dispatcher's clock work).
        self.on_tick = on_tick
        self.tick_s = tick_s
        self._retained: dict[str, bytes] = {}
        self.worker = Worker("logistics", self._run, backoff_s=0.2, backoff_max_s=10.0)

    @property
    def is_connected(self) -> bool:
        """Whether the session is up."""
        return self._session.is_connected

    def start(self, wait_s: float = 10.0) -> LogisticsLink:
        """Starts the worker; waits up to `wait_s` for the connection."""
        self.worker.start()
        deadline = time.monotonic() + wait_s
        while not self._session.is_connected and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def close(self) -> None:
        """Stops the worker and disconnects."""
        self.worker.stop(5)

    def __enter__(self) -> LogisticsLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publish(self, topic: str, body: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publishes (retained bodies are kept and published again after a reconnect)."""
        if retain:
            self._retained[topic] = body
        self._session.client.publish(topic, body, qos=qos, retain=retain)

    def retained(self, topic: str) -> bytes | None:
        """The last retained body published on `topic`."""
        return self._retained.get(topic)

    def _connected(self) -> None:
        for topic, qos in SUBSCRIPTIONS:
            self._session.client.subscribe(topic, qos)
        if self._session.connect_count > 1:
            for topic, body in list(self._retained.items()):
                self._session.client.publish(topic, body, qos=1, retain=True)

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(message.topic, bytes(message.payload))
        except Exception:  # one bad message must not drop the session
            log.exception("logistics: handling a message on %s failed", message.topic)

    def _run(self, worker: Worker) -> None:
        session = self._session
        try:
            while not worker.stopping:
                if not session.connect(lambda: worker.stopping):
                    break
                next_tick = time.monotonic()
                while not worker.stopping and session.run_once(0.01):
                    if time.monotonic() >= next_tick:
                        next_tick = time.monotonic() + self.tick_s
                        if self.on_tick is not None:
                            self.on_tick()
                    worker.beat()
        finally:
            session.disconnect()
