"""The uplink: drains the outbox to the cloud over MQTT and forgets only what the cloud settled.

One thread owns the MQTT session and does everything in turn: network I/O, applying the cloud's
`settled` confirmations to the outbox, and sending pending events in batches (one event per
message when live, up to `batch_size` when there is a backlog). A PUBACK is not a confirmation —
a broker can lose what it acknowledged — so an event stays in the outbox until the cloud's
`settled` message names it. Whatever stays unsettled for `resend_after_s`, and everything pending
after a reconnect, is sent again; the cloud deduplicates.

On MQTT 5 a PUBACK with a failure reason (135, not authorised) means the broker refused the
publish: those events move to the outbox's dead-letter table and one `agent.alarm` is raised,
instead of retrying forever. On MQTT 3.1.1 a broker acknowledges a refused publish like any other,
so the agent cannot tell; such events are re-sent until the cloud settles them.

The resend timer backs off and adapts: only the oldest unconfirmed batch is sent again, after
the longer of `resend_after_s` (doubled per resend in a row, up to `resend_max_s`) and four
times the confirmation time recently seen (a busy cloud is given the time it takes); after
`UNCONFIRMED_AFTER` resends in a row one `unconfirmed` alarm is raised (a cloud that cannot take
these events — a newer contract version, a bug — must not be flooded, and must not stay
unnoticed); progress on the oldest batch resets both. A reconnect sends everything again, and
so does a `settled` message with `resend: true` (the cloud connected and found no broker session
kept for it, so what was on its way may have been dropped).

The thread is a supervised worker (`taktline.supervise`): an error escaping the loop (a full disk
while applying confirmations, a database error) is logged, backed off and the loop runs again
from what the outbox holds; after three faults in a row a `worker_fault` alarm is recorded (or
kept until the disk takes it), and `worker_recovered` when it runs again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from agent.outbox import Outbox
from contract import (
    AgentPath,
    AgentStatus,
    ContractError,
    SentStamp,
    asks_resend,
    encode_batch,
    parse_settlement,
)
from contract.envelope import MAX_MESSAGE_BYTES
from taktline.clock import Clock, SystemClock, utc_iso
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker, WorkerHealth

__all__ = ["UNCONFIRMED_AFTER", "Uplink", "UplinkStats"]

log = logging.getLogger(__name__)

_MAX_BATCH_BYTES: Final = MAX_MESSAGE_BYTES // 2
#: Resends of the same window before the `unconfirmed` alarm.
UNCONFIRMED_AFTER: Final = 3
_TICK_S: Final = 1.0


@dataclass
class UplinkStats:
    """Counters for monitoring and tests."""

    messages_sent: int = 0
    events_sent: int = 0
    events_settled: int = 0
    resends: int = 0
    resend_requests: int = 0
    refused: int = 0
    foreign_messages: int = 0
    bad_settlements: int = 0


@dataclass
class _InFlight:
    first_id: int
    last_id: int
    sent_at: float


class Uplink:
    """Sends an agent's outbox to the cloud; use as a context manager or `start()`/`stop()`."""

    def __init__(
        self,
        outbox: Outbox,
        path: AgentPath,
        broker: BrokerSettings,
        *,
        clock: Clock | None = None,
        batch_size: int = 1000,
        max_in_flight: int = 16,
        resend_after_s: float = 10.0,
        resend_max_s: float = 300.0,
    ) -> None:
        if path.agent != outbox.agent:
            raise ValueError(
                f"outbox belongs to agent {outbox.agent!r}, topic path to {path.agent!r}"
            )
        self.outbox = outbox
        self.path = path
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.resend_after_s = resend_after_s
        self.resend_max_s = max(resend_max_s, resend_after_s)
        self._resend_wait = resend_after_s
        self._resends_in_a_row = 0
        self._unconfirmed_alarm = False
        self._faulted = False
        self._next_tick = 0.0
        #: Smoothed time from sending a batch to its confirmation (EWMA), once one was seen.
        self._confirm_s: float | None = None
        self.stats = UplinkStats()
        self._clock = clock or SystemClock()
        offline = AgentStatus(path.agent, "offline", utc_iso(self._clock.now())).encode()
        self._session = Session(
            broker,
            f"taktline-agent-{path.agent}",
            on_connect=self._on_connect,
            will=(path.status, offline),
        )
        self._session.client.on_message = self._on_message
        self._session.client.on_publish = self._on_publish
        self._settlements: deque[bytes] = deque()
        self._refused: deque[tuple[int, int, str]] = deque()
        self._mids: dict[int, tuple[int, int]] = {}
        self._in_flight: deque[_InFlight] = deque()
        self._cursor = 0
        self._refusal_alarm_pending = False
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self._to_subscribe: deque[str] = deque()
        self.worker = Worker(
            f"uplink-{path.agent}", self._run, on_fault=self._fault, on_recover=self._recovered
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Uplink:
        """Starts the uplink thread (a supervised worker)."""
        self.worker.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Says offline (retained), disconnects cleanly and joins the thread."""
        self.worker.stop(timeout)

    def health(self) -> WorkerHealth:
        """The uplink worker's state."""
        return self.worker.health()

    def __enter__(self) -> Uplink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def subscribe(self, topic: str, handler: Callable[[bytes], None]) -> None:
        """Hands every message on `topic` (a downlink: command, a station schedule) to `handler`.

        The handler runs on the uplink thread and must be quick; its exceptions are logged. The
        subscription is made (again) on every connect, so it survives reconnects.
        """
        self._handlers[topic] = handler
        self._to_subscribe.append(topic)

    @property
    def connections(self) -> int:
        """How many times the MQTT session connected."""
        return self._session.connect_count

    @property
    def is_connected(self) -> bool:
        """Whether the MQTT session is up."""
        return self._session.is_connected

    def wait_for_connection(self, timeout: float) -> bool:
        """Blocks until connected or `timeout` seconds passed; returns whether connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._session.is_connected:
                return True
            time.sleep(0.01)
        return self._session.is_connected

    def wait_until_drained(self, timeout: float) -> bool:
        """Blocks until the outbox is empty (everything settled) or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            time.sleep(0.01)
        return self.outbox.depth() == 0

    # --- the thread ----------------------------------------------------------------------------

    def _run(self, worker: Worker) -> None:
        session = self._session
        self._rewind()  # (again, after a fault) send everything unconfirmed

        def stopping() -> bool:
            worker.tick()  # waiting for the broker is not being stuck
            return worker.stopping

        while not worker.stopping:
            if not session.is_connected and not session.connect(stopping):
                break
            while not worker.stopping and session.run_once(0.005):
                if session.is_connected:
                    while self._to_subscribe:
                        session.client.subscribe(self._to_subscribe[0], qos=1)
                        self._to_subscribe.popleft()
                    self._apply_settlements()
                    self._apply_refusals()
                    self._send_due()
                self._tick()
                worker.beat()
        if session.is_connected:
            status = AgentStatus(self.path.agent, "offline", utc_iso(self._clock.now()))
            info = session.client.publish(self.path.status, status.encode(), qos=1, retain=True)
            deadline = time.monotonic() + 1.0
            while (
                not info.is_published() and time.monotonic() < deadline and session.run_once(0.01)
            ):
                pass
        session.disconnect()

    def _tick(self) -> None:
        """About once a second: a full disk's recovery, alarms that waited for room."""
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + _TICK_S
        self.outbox.check_space()

    def _fault(self, worker: Worker, exc: BaseException) -> None:
        if worker.faults_in_a_row == worker.failing_after and not self._faulted:
            self._faulted = True
            self.outbox.raise_alarm(
                "worker_fault",
                f"{worker.name}: {worker.faults_in_a_row} faults in a row, retrying: "
                f"{worker.last_error}",
            )

    def _recovered(self, worker: Worker) -> None:
        if self._faulted:
            self._faulted = False
            self.outbox.raise_alarm("worker_recovered", f"{worker.name} runs again")

    def _on_connect(self) -> None:
        client = self._session.client
        client.subscribe(self.path.settled, qos=1)
        self._to_subscribe.clear()
        self._to_subscribe.extend(list(self._handlers))
        status = AgentStatus(self.path.agent, "online", utc_iso(self._clock.now()))
        client.publish(self.path.status, status.encode(), qos=1, retain=True)
        # Whatever was in flight may be lost with the old connection: send it all again.
        self._rewind()

    def _rewind(self) -> None:
        self._cursor = 0
        self._in_flight.clear()
        self._mids.clear()

    # --- callbacks (on this thread, inside run_once) -------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Brokers may deliver what we never subscribed to (amqtt 0.12 sends retained messages
        # matching anybody's wildcard to every new client): act only on our own downlink.
        if message.topic == self.path.settled:
            self._settlements.append(bytes(message.payload))
        elif message.topic in self._handlers:
            try:
                self._handlers[message.topic](bytes(message.payload))
            except Exception:  # a bad downlink message must not stop the uplink
                log.exception("handling a message on %s failed", message.topic)
        else:
            self.stats.foreign_messages += 1

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        batch = self._mids.pop(mid, None)
        if batch is not None and reason.is_failure:
            self._refused.append((*batch, f"broker refused the publish: {reason} ({reason.value})"))

    # --- work --------------------------------------------------------------------------------

    def _apply_settlements(self) -> None:
        while self._settlements:
            raw = self._settlements[0]
            try:
                ranges = parse_settlement(raw)
            except ContractError as exc:
                self._settlements.popleft()
                self.stats.bad_settlements += 1
                log.warning("ignoring a bad settled message: %s", exc)
                continue
            # kept until applied: a full disk raises here and the same message is tried again
            self.stats.events_settled += self.outbox.settle(ranges)
            self._settlements.popleft()
            if asks_resend(raw):  # the cloud may have lost what was on its way: all again now
                self.stats.resend_requests += 1
                self._rewind()
            self._refusal_alarm_pending = False
        # Batches whose events are all gone no longer need watching; progress on the oldest
        # one ends the resend back-off.
        progress = False
        while self._in_flight and not self.outbox.has_pending_between(
            self._in_flight[0].first_id, self._in_flight[0].last_id
        ):
            done = self._in_flight.popleft()
            took = time.monotonic() - done.sent_at
            self._confirm_s = (
                took if self._confirm_s is None else 0.8 * self._confirm_s + 0.2 * took
            )
            progress = True
        if progress and self._resends_in_a_row:
            self._resend_wait = self.resend_after_s
            self._resends_in_a_row = 0
            if self._unconfirmed_alarm:
                self._unconfirmed_alarm = False
                log.info("%s: the cloud confirms events again", self.path.agent)

    def _apply_refusals(self) -> None:
        while self._refused:
            first, last, reason = self._refused.popleft()
            ids = self.outbox.pending_ids_between(first, last)
            moved = self.outbox.dead_letter(ids, reason)
            self.stats.refused += moved
            log.error("%d events dead-lettered: %s", moved, reason)
            if not self._refusal_alarm_pending:
                self._refusal_alarm_pending = True
                detail = f"{moved} events refused by the broker on {self.path.events}: {reason}"
                self.outbox.append(
                    "agent.alarm",
                    {"alarm": "publish_refused", "detail": detail},
                    source=self.path.agent,
                )

    def _resend_due_s(self) -> float:
        """How long the oldest batch may wait for its confirmation before it is sent again.

        Never less than the back-off (`resend_after_s`, doubled per resend in a row), and at
        least four times the confirmation time recently seen: a busy cloud with a long queue
        (a backlog, a hundred agents draining at once) is given the time it takes, instead of
        being sent everything again.
        """
        seen = 4.0 * self._confirm_s if self._confirm_s is not None else 0.0
        return max(self._resend_wait, min(seen, self.resend_max_s))

    def _send_due(self) -> None:
        now = time.monotonic()
        if self._in_flight and now - self._in_flight[0].sent_at > self._resend_due_s():
            self.stats.resends += 1
            self._resends_in_a_row += 1
            self._resend_wait = min(self._resend_wait * 2, self.resend_max_s)
            if self._resends_in_a_row == UNCONFIRMED_AFTER and not self._unconfirmed_alarm:
                self._unconfirmed_alarm = True
                first = self._in_flight[0]
                self.outbox.raise_alarm(
                    "unconfirmed",
                    f"events {first.first_id}..{first.last_id} on {self.path.events} sent "
                    f"{self._resends_in_a_row + 1} times without a confirmation; resending "
                    f"every {self._resend_wait:g} s at most",
                )
            # only the oldest batch goes again; the later ones are still on their way
            head = self._in_flight[0]
            rows = [
                row
                for row in self.outbox.pending(head.first_id - 1, self.batch_size)
                if row[0] <= head.last_id
            ]
            if rows and self._publish(rows) is not None:
                head.sent_at = time.monotonic()
            elif not rows:
                self._in_flight.popleft()
        while len(self._in_flight) < self.max_in_flight:
            rows = self.outbox.pending(self._cursor, self.batch_size)
            if not rows:
                return
            sent = self._publish(rows)
            if sent is None:
                return  # connection lost: the reconnect rewinds and re-sends
            self._in_flight.append(_InFlight(sent[0], sent[1], time.monotonic()))
            self._cursor = sent[1]

    def _publish(self, rows: list[tuple[int, str]]) -> tuple[int, int] | None:
        """Publishes as many of `rows` as fit one message; returns their first and last ids."""
        bodies: list[str] = []
        size = 0
        for _, body in rows:
            if bodies and size + len(body) > _MAX_BATCH_BYTES:
                break
            bodies.append(body)
            size += len(body) + 1
        first_id, last_id = rows[0][0], rows[len(bodies) - 1][0]
        stamp = SentStamp(utc_iso(self._clock.now()), self._clock.monotonic_ns(), self._clock.boot)
        payload = encode_batch(self.path.agent, stamp, bodies)
        info = self._session.client.publish(self.path.events, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        self._mids[info.mid] = (first_id, last_id)
        self.stats.messages_sent += 1
        self.stats.events_sent += len(bodies)
        return first_id, last_id
