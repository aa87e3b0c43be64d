"""Cloud ingest: validate, check identity, append once, fold into the status, confirm.

Every message on an agent's `events` topic goes through the same steps. The contract is checked
(`contract.parse_batch`); the publishing agent named in the message must be the agent whose topic
it arrived on, and each event's source must be registered to that agent (the broker's ACLs are
the first line of defence; this is the second). Valid events are appended to the event log once
(`EventLog.commit`); everything else lands in the dead-letter table with its reason. After the
transaction is durable the cloud confirms to the topic's agent every event key it settled —
committed, duplicate or dead-lettered — so the agent stops re-sending it. A message without
usable keys (not JSON, too large) cannot be confirmed; it is dead-lettered and ingest goes on.

One thread owns the MQTT session and does network I/O and ingest rounds in turn; a round takes
every message queued since the last one, so a backlog is committed in few transactions. When it
connects and the broker kept no session for it (a broker that crashed before saving it), what
agents sent meanwhile may be gone: it asks every registered agent to send again at once
(`settled` with `resend: true`) rather than leave the backlog to their resend timers.

Scale-out (`docs/deployment.md`, "Scale-out"; `cloud.roles`): several ingest processes share the
uplink through an MQTT 5 shared subscription (`share_group`: `$share/<group>/...`), each with
its own client id and a short session; they commit and confirm but do not fold (`fold=False`:
the status is the planner's). The leading planner's ingest reads no uplink at all
(`feed="log"`): it tails the event log (`EventLog.tail`, positions in commit order, so nothing
is skipped) and folds every event in log order — each agent's events in their sequence order,
whichever worker committed them, since a worker holds back a batch until the one it continues is
in the log (`_ahead_of_log`, at most `DEFER_MAX_S`) — then hands the round to `on_commit` as a
live round would; events this process wrote itself (corrections, planning
decisions) were folded by their writer and are skipped.

Nothing is confirmed that is not kept whole, and nothing stops ingest for good:

- the thread is a supervised worker (`taktline.supervise`): a database error (PostgreSQL
  restarting, SQLite locked past its busy timeout) puts the round's messages back at the head of
  the queue, backs off and tries again; nothing of the round was confirmed, and `health()` says
  *not ready* until a round commits again;
- a message whose envelope cannot be read is dead-lettered whole (up to the broker's maximum
  message size; bytes that are not text are kept as base64) in the same transaction that makes
  its salvaged keys confirmable; a message of a newer contract version than this cloud accepts
  is kept as a dead letter once and **not** confirmed at all — its agent keeps the events and
  sends them again until the cloud is upgraded (`accept_versions`);
- an exception while reading one message undoes what that message had added to the round;
- an event whose fold raises stays in the log, is dead-lettered with the reason, and a rebuild
  skips it the same way (`FoldFailed`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt

from cloud.status import FoldFailed, ResourceStatus
from cloud.store import CommitResult, DeadLetter, EventLog, LogRecord
from contract import (
    AgentPath,
    AgentStatus,
    ContractError,
    Event,
    SentStamp,
    TopicError,
    encode_batch,
    encode_settlement,
    parse_agent_topic,
    parse_batch,
    subscription,
)
from contract.envelope import CONTRACT_VERSION, MAX_MESSAGE_BYTES, corrected_epoch_us, event_key
from contract.errors import UnsupportedVersion
from contract.fields import loads, plausibility_problem
from contract.payloads import CLOUD_EVENT_TYPES
from taktline.clock import Clock, SystemClock, epoch_us, utc_iso, utc_iso_us
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker, WorkerHealth

__all__ = ["Ingest", "IngestStats"]

log = logging.getLogger(__name__)

_MAX_MESSAGES_PER_ROUND: Final = 64
#: A shared-subscription worker holds back an agent's batch whose predecessor is not in the log
#: yet (another worker has it) for at most this long, retrying every `DEFER_RETRY_S`.
DEFER_MAX_S: Final = 5.0
DEFER_RETRY_S: Final = 0.05
#: Events read from the log per tail round (`feed="log"`), and how often the log is read.
_TAIL_CHUNK: Final = 2000
TAIL_EVERY_S: Final = 0.05
#: The device registry is read again this often (a registry loaded while the cloud runs).
REGISTRY_RELOAD_S: Final = 5.0
#: Digests of version-ahead messages already kept (each is kept once, however often re-sent).
_AHEAD_KEPT: Final = 10_000


@dataclass
class IngestStats:
    """Counters for monitoring and tests."""

    messages: int = 0
    committed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    rounds: int = 0
    #: Dead letters by kind: contract, version_ahead, identity, conflict, fold, internal.
    dead_by_kind: Counter[str] = field(default_factory=Counter)
    #: Rounds whose commit failed (and were tried again).
    commit_faults: int = 0
    last_commit: float | None = None


@dataclass
class _Round:
    records: list[LogRecord]
    letters: list[DeadLetter]
    settle: dict[AgentPath, list[tuple[str, int]]]

    def mark(self) -> tuple[int, int, dict[AgentPath, int]]:
        """Where the round stands (to undo one message's additions)."""
        return len(self.records), len(self.letters), {p: len(k) for p, k in self.settle.items()}

    def undo(self, mark: tuple[int, int, dict[AgentPath, int]]) -> None:
        """Drops what was added since `mark`."""
        records, letters, settle = mark
        del self.records[records:]
        del self.letters[letters:]
        for path in list(self.settle):
            if path in settle:
                del self.settle[path][settle[path] :]
            else:
                del self.settle[path]


class Ingest:
    """Subscribes to every agent's uplink and applies it to the log and the status."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        broker: BrokerSettings,
        *,
        site: str = "+",
        clock: Clock | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        on_change: Callable[[str], None] | None = None,
        on_commit: Callable[[list[LogRecord]], None] | None = None,
        on_agent_status: Callable[[str, bool], None] | None = None,
        client_id: str = "taktline-cloud-ingest",
        session_expiry_s: int | None = 86_400,
        accept_versions: Collection[int] = (CONTRACT_VERSION,),
        max_queue: int = 1000,
        share_group: str | None = None,
        fold: bool = True,
        feed: Literal["uplink", "log"] = "uplink",
    ) -> None:
        self.log = event_log
        self.status = status
        self.site = site
        self.max_message_bytes = max_message_bytes
        self.stats = IngestStats()
        self._clock = clock or SystemClock()
        self._on_change = on_change
        self._on_commit = on_commit
        self._on_agent_status = on_agent_status
        self.share_group = share_group
        self.fold = fold
        self.feed = feed
        #: The log position folded up to (`feed="log"`).
        self.position = status.position
        if feed == "log":
            event_log.track_own()
        #: Held from commit to fold; a cloud-side writer (hand corrections) takes it too.
        self.write_lock = threading.Lock()
        # A persistent session: while ingest reconnects (a broker or cloud restart) the broker
        # keeps its subscriptions and queues what agents send, instead of dropping it.
        self._session = Session(
            broker, client_id, on_connect=self._subscribe, session_expiry_s=session_expiry_s
        )
        self._session.client.on_message = self._on_message
        self._session.client.on_subscribe = self._on_subscribe
        self._subscribed = False
        self._ask_resend = False
        self._queue: deque[tuple[str, bytes, datetime]] = deque()
        self._agents, self._devices = event_log.registry()
        self._stations = _stations_by_agent(self._devices)
        #: Message contract versions this cloud reads (a rolling upgrade accepts two).
        self.accept_versions = tuple(accept_versions)
        self._ahead: dict[str, None] = {}
        #: When each agent was last heard from (monotonic seconds; for the metrics).
        self.last_seen: dict[str, float] = {}
        #: Messages held before reading more from the broker (back-pressure).
        self.max_queue = max_queue
        self._next_housekeeping = 0.0
        self._next_tail = 0.0
        #: Messages held back until their predecessor is logged: (topic, payload, received,
        #: first held at, monotonic).
        self._held: deque[tuple[str, bytes, datetime, float]] = deque()
        self._retry_held_at = 0.0
        self._next_registry = time.monotonic() + REGISTRY_RELOAD_S
        self.worker = Worker("cloud-ingest", self._run, backoff_s=0.1, backoff_max_s=5.0)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Ingest:
        """Rebuilds nothing (see `ResourceStatus.rebuild`); starts the ingest thread."""
        self.worker.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Finishes the current round, disconnects and joins the thread."""
        self.worker.stop(timeout)

    @property
    def queue_depth(self) -> int:
        """Messages received and not yet ingested."""
        return len(self._queue)

    def lag_s(self) -> float:
        """How long the oldest queued message has waited (0 with an empty queue)."""
        try:
            received = self._queue[0][2]
        except IndexError:
            return 0.0
        return max(0.0, (self._clock.now() - received).total_seconds())

    @property
    def connections(self) -> int:
        """How many times ingest's MQTT session connected."""
        return self._session.connect_count

    def health(self) -> dict[str, Any]:
        """Ready or not, and why: the worker, the broker session, the last commit, the queue."""
        worker: WorkerHealth = self.worker.health()
        last = self.stats.last_commit
        problems = []
        if worker.state != "running":
            problems.append(f"ingest {worker.state}: {worker.last_error}")
        if not self.is_subscribed:
            problems.append("not connected to the broker (or not subscribed)")
        return {
            "ready": not problems,
            "problems": problems,
            "worker": worker.to_dict(),
            "queue": len(self._queue),
            "last_commit_age_s": None if last is None else round(time.monotonic() - last, 3),
            "dead_letters_by_kind": dict(self.stats.dead_by_kind),
        }

    def __enter__(self) -> Ingest:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def is_subscribed(self) -> bool:
        """Whether the broker confirmed the subscriptions of the current connection."""
        return self._session.is_connected and self._subscribed

    def wait_for_connection(self, timeout: float) -> bool:
        """Blocks until connected and subscribed, or `timeout` passed; returns which."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.is_subscribed:
            time.sleep(0.01)
        return self.is_subscribed

    def apply_messages(self, messages: Iterable[tuple[str, bytes, datetime]]) -> None:
        """Runs ingest rounds over (topic, payload, received) without a broker.

        The same rounds as the live loop (validation, identity checks, one transaction per
        round, the status fold), for replays and benchmarks; no settlement is published. Only
        while ingest is not started.
        """
        if self.worker.is_alive:
            raise RuntimeError("apply_messages() is for a stopped ingest; this one is running")
        self._queue.extend(messages)
        while self._queue:
            self._ingest_round(publish=False)
        if self._held and time.monotonic() >= self._retry_held_at:
            self._ingest_round(publish=False)  # what waited for another worker, once

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publishes on ingest's own session (the cloud's downlink: commands to agents)."""
        self._session.client.publish(topic, payload, qos=qos, retain=retain)

    def path_of_station(self, station: str) -> AgentPath | None:
        """The topic path of the agent that serves `station` (from the device registry)."""
        agents, devices = self._agents, self._devices
        if not any(s == station for _, s in devices.values()):
            self.reload_registry()
            agents, devices = self._agents, self._devices
        for agent, served in devices.values():
            if served == station and agent in agents:
                site, area = agents[agent]
                return AgentPath(site, area, agent)
        return None

    def reload_registry(self) -> None:
        """Re-reads the device registry (after devices were registered)."""
        self._agents, self._devices = self.log.registry()
        self._stations = _stations_by_agent(self._devices)

    def _subscribe(self) -> None:
        client = self._session.client
        self._subscribed = False
        if self.feed == "log":  # the events come from the log; agents' status still live
            client.subscribe([(subscription("status", self.site), 1)])
        elif self.share_group is not None:  # one worker of several gets each message
            share = f"$share/{self.share_group}/"
            client.subscribe([(share + subscription("events", self.site), 1)])
        else:
            client.subscribe(
                [(subscription("events", self.site), 1), (subscription("status", self.site), 1)]
            )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        self._subscribed = True
        # No session kept for us: what agents sent since they reconnected may have been dropped.
        self._ask_resend = self.feed != "log" and not self._session.session_present

    def ask_agents_to_resend(self) -> int:
        """Sends every registered agent of this site `resend`; returns how many were asked.

        The registry as last read (housekeeping re-reads it every few seconds): no database
        round trip on the network thread's way.
        """
        asked = 0
        for agent, (site, area) in sorted(self._agents.items()):
            if site == self.site or self.site == "+":
                path = AgentPath(site, area, agent)
                self._session.client.publish(
                    path.settled, encode_settlement((), resend=True), qos=1
                )
                asked += 1
        log.info("no broker session was kept for ingest: asked %d agents to send again", asked)
        return asked

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.append((message.topic, bytes(message.payload), self._clock.now()))

    def _run(self, worker: Worker) -> None:
        session = self._session

        def stopping() -> bool:
            worker.tick()  # waiting for the broker is not being stuck
            return worker.stopping

        while not worker.stopping:
            if not session.is_connected and not session.connect(stopping):
                break
            while not worker.stopping and session.run_once(0.005):
                if self._ask_resend:
                    self._ask_resend = False
                    self.ask_agents_to_resend()
                # Back-pressure: while the queue is at its bound nothing more is read from the
                # socket, so the broker holds the rest (the persistent session's queue) instead
                # of this process's memory.
                while self._queue:
                    self._ingest_round()
                    if len(self._queue) < self.max_queue:
                        break
                if self._held and time.monotonic() >= self._retry_held_at:
                    self._ingest_round()
                if self.feed == "log" and time.monotonic() >= self._next_tail:
                    self._next_tail = time.monotonic() + TAIL_EVERY_S
                    while self._tail_round() == _TAIL_CHUNK:
                        pass
                else:
                    self._housekeeping()
                worker.beat()
        if self._queue:
            try:
                self._ingest_round(publish=False)
            except Exception:  # stopping: unconfirmed messages are sent again by their agents
                log.exception("the last ingest round at stop failed")
        session.disconnect()

    def _housekeeping(self) -> None:
        """About once a second: replay requests; every few seconds: the registry again."""
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + 1.0
        if now >= self._next_registry:
            self._next_registry = now + REGISTRY_RELOAD_S
            self.reload_registry()
        for letter in self.log.replay_requests(limit=50):
            self.replay(letter)

    # --- replaying dead letters ------------------------------------------------------------------

    def replay(self, letter: dict[str, Any]) -> str:
        """Ingests a dead letter again (its cause fixed: a registry entry, an upgrade).

        The whole message goes through the same steps as when it arrived, at the time it
        arrived; a single event kept alone is wrapped in a message of its agent, its time
        then taken from the device (the send stamp is gone). Keys already in the log are
        duplicates, so a replay twice applies nothing twice. Returns (and records) the outcome.
        """
        topic, body = str(letter["topic"] or ""), str(letter["body"] or "")
        received = datetime.fromisoformat(str(letter["received_at"]).replace("Z", "+00:00"))
        payload = base64.b64decode(body[7:]) if body.startswith("base64:") else body.encode("utf-8")
        work = _Round(records=[], letters=[], settle={})
        try:
            single = json.loads(payload) if payload[:1] == b"{" else None
        except ValueError:
            single = None
        if isinstance(single, dict) and "events" not in single and "type" in single:
            stamp = SentStamp(str(single.get("time")), int(single.get("mono_ns") or 0), "replayed")
            payload = encode_batch(str(single.get("agent")), stamp, [body])
        try:
            self.handle(topic, payload, received, work)
        except Exception as exc:
            outcome = f"failed: {exc!r}"
        else:
            result = self._commit(work, [])
            outcome = (
                f"{len(result.committed)} committed, {len(result.duplicates)} duplicate, "
                f"{result.dead_lettered} dead-lettered again"
            )
            if work.letters:
                outcome += f" ({work.letters[0].reason})"
            self.publish_settlements(work)
        self.log.mark_replayed(int(letter["id"]), outcome)
        log.info("dead letter %s replayed: %s", letter["id"], outcome)
        return outcome

    # --- one round -----------------------------------------------------------------------------

    def _ingest_round(self, publish: bool = True) -> None:
        work = _Round(records=[], letters=[], settle={})
        taken = [
            self._queue.popleft() for _ in range(min(len(self._queue), _MAX_MESSAGES_PER_ROUND))
        ]
        held_since = {id(p): since for _, p, _, since in self._held}
        if self._held and time.monotonic() >= self._retry_held_at:
            taken = [(t, p, r) for t, p, r, _ in self._held] + taken
            self._held.clear()
        for topic, payload, received in taken:
            self.stats.messages += 1
            mark = work.mark()
            try:
                self.handle(topic, payload, received, work)
                if self.share_group is not None and self._ahead_of_log(work, mark):
                    since = held_since.get(id(payload), time.monotonic())
                    if time.monotonic() - since < DEFER_MAX_S:
                        work.undo(mark)  # not confirmed: held, tried again in a moment
                        self._held.append((topic, payload, received, since))
                        self._retry_held_at = time.monotonic() + DEFER_RETRY_S
                        continue
                    log.warning("%s: events committed without their predecessor", topic)
            except Exception as exc:  # a bug must not stop ingest: dead-letter and go on
                log.exception("ingest failed on a message from %s", topic)
                work.undo(mark)  # nothing of it is confirmed: it is kept whole instead
                work.letters.append(
                    _letter(topic, payload, received, f"internal error: {exc!r}", kind="internal")
                )
        self._commit(work, taken)
        if publish:
            self.publish_settlements(work)

    def _ahead_of_log(self, work: _Round, mark: tuple[int, int, dict[AgentPath, int]]) -> bool:
        """Whether the message just handled starts past an event not logged yet (per agent).

        Workers sharing the uplink get an agent's batches in any split: a batch must not be
        committed before the one it continues, so that log positions (the planner's fold
        order) follow each agent's sequence.
        """
        first: dict[str, int] = {}
        for record in work.records[mark[0] :]:
            first[record.instance] = min(first.get(record.instance, record.seq), record.seq)
        earlier = {record.key for record in work.records[: mark[0]]}
        for instance, seq in first.items():
            if seq > 1 and (instance, seq - 1) not in earlier:  # noqa: SIM102 (a query each)
                if not self.log.known(instance, seq - 1):
                    return True
        return False

    def _tail_round(self) -> int:
        """Folds the events committed after `position` (`feed="log"`); returns how many read."""
        folded: list[LogRecord] = []
        failed: list[DeadLetter] = []
        changes = []
        with self.write_lock:  # a writer of this process commits and folds under it too
            rows = self.log.tail(self.position, _TAIL_CHUNK)
            for pos, record, own in rows:
                if not own:
                    event = json.loads(record.body)
                    try:
                        changes.append(self.status.apply(event, record.corrected_time, pos))
                    except FoldFailed as exc:
                        failed.append(_fold_letter(record, str(exc)))
                    folded.append(record)
                self.position = pos
        if rows:
            self.stats.rounds += 1
            self.stats.last_commit = time.monotonic()
            self.stats.committed += len(folded)
        if failed:
            self._keep_fold_failures(failed)
        for change in changes:
            if change and self._on_change:
                self._on_change(change)
        if self._on_commit is not None and folded:
            self._on_commit(folded)
        return len(rows)

    def publish_settlements(self, work: _Round) -> None:
        """Confirms to each agent the keys of `work` (after its commit)."""
        for path, keys in work.settle.items():
            if keys:
                self._session.client.publish(path.settled, encode_settlement(keys), qos=1)

    def _commit(self, work: _Round, taken: list[tuple[str, bytes, datetime]]) -> CommitResult:
        """Commits and folds one round; on a database fault puts `taken` back and raises."""
        failed: list[DeadLetter] = []
        try:
            with self.write_lock:  # log order = fold order, with the cloud's own writers too
                result = self.log.commit(work.records, work.letters)
                changes = []
                for record in result.committed if self.fold else ():
                    event = record.event if record.event is not None else json.loads(record.body)
                    try:
                        changes.append(self.status.apply(event, record.corrected_time))
                    except FoldFailed as exc:
                        failed.append(_fold_letter(record, str(exc)))
        except Exception:
            # a database fault: nothing of the round is confirmed; try it again after a back-off
            self.stats.commit_faults += 1
            self._queue.extendleft(reversed(taken))
            raise
        self.stats.rounds += 1
        self.stats.last_commit = time.monotonic()
        self.stats.committed += len(result.committed)
        self.stats.duplicates += len(result.duplicates)
        self.stats.dead_lettered += result.dead_lettered
        for letter in work.letters:
            self.stats.dead_by_kind[letter.kind] += 1
        if result.conflicts:
            self.stats.dead_by_kind["conflict"] += len(result.conflicts)
        if failed:
            self._keep_fold_failures(failed)
        for change in changes:
            if change and self._on_change:
                self._on_change(change)
        if self._on_commit is not None and result.committed and self.fold:
            self._on_commit(result.committed)
        return result

    def _keep_fold_failures(self, letters: list[DeadLetter]) -> None:
        """The events are in the log; their fold failed: list them as dead letters too."""
        for letter in letters:
            log.error("event %s/%s not folded: %s", letter.instance, letter.seq, letter.reason)
        try:
            self.log.commit([], letters)
        except Exception:  # listing them is second to ingest; the log keeps the events anyway
            log.exception("fold failures not listed as dead letters")
        self.stats.dead_by_kind["fold"] += len(letters)

    def handle(self, topic: str, payload: bytes, received: datetime, work: _Round) -> None:
        """Validates one message into `work` (records to append, dead letters, keys to settle)."""
        try:
            path, channel = parse_agent_topic(topic)
        except TopicError as exc:
            work.letters.append(_letter(topic, payload, received, str(exc)))
            return
        self.last_seen[path.agent] = time.monotonic()
        if channel == "status":
            self._handle_status(path, topic, payload, received, work)
            return
        try:
            batch = parse_batch(payload, self.max_message_bytes, versions=self.accept_versions)
        except UnsupportedVersion as exc:
            # Not confirmed: its agent keeps the events until this cloud reads their version.
            # one dead letter per set of events, however often (and with whatever `sent` stamp)
            # the agent sends them again
            keys = _salvage_keys(payload)
            seen = json.dumps([path.agent, keys]).encode() if keys else payload
            digest = hashlib.sha256(seen).hexdigest()
            if digest not in self._ahead:
                if len(self._ahead) >= _AHEAD_KEPT:
                    self._ahead.pop(next(iter(self._ahead)))
                self._ahead[digest] = None
                reason = f"{exc} (not confirmed: the agent keeps the events)"
                work.letters.append(
                    _letter(topic, payload, received, reason, path.agent, kind="version_ahead")
                )
            return
        except ContractError as exc:
            keys = _salvage_keys(payload) if len(payload) <= self.max_message_bytes else []
            work.letters.append(
                _letter(
                    topic, payload, received, f"{type(exc).__name__}: {exc}", path.agent,
                    kind="contract",
                )
            )  # fmt: skip
            work.settle.setdefault(path, []).extend(keys)
            return
        settle = work.settle.setdefault(path, [])
        problem = self._identity_problem(path, batch.agent)
        received_iso = utc_iso(received)
        received_us = epoch_us(received)
        sent = batch.sent
        for item, reason in batch.rejected:
            key = _key_of(item)
            work.letters.append(
                _letter(
                    topic, _item_bytes(item), received, reason, path.agent, key,
                    kind="contract",
                )
            )  # fmt: skip
            if key:
                settle.append(key)
        records = work.records
        for event, body, item in zip(batch.events, batch.bodies, batch.items, strict=True):
            refusal = problem or self._source_problem(event, batch.agent)
            settle.append(event.key)
            if refusal:
                work.letters.append(
                    _letter(
                        topic, body.encode(), received, refusal, path.agent, event.key,
                        kind="identity",
                    )
                )  # fmt: skip
                continue
            at_us, basis = corrected_epoch_us(event, sent, received_us)
            implausible = plausibility_problem(at_us, received_us, f"{basis} corrected time")
            if implausible:
                work.letters.append(
                    _letter(topic, body.encode(), received, implausible, path.agent, event.key)
                )
                continue
            records.append(
                LogRecord(
                    event.instance,
                    event.seq,
                    event.type,
                    event.source,
                    event.agent,
                    event.station,
                    event.time,
                    utc_iso_us(at_us),
                    basis,
                    received_iso,
                    body,
                    item,
                )
            )

    def _handle_status(
        self, path: AgentPath, topic: str, payload: bytes, received: datetime, work: _Round
    ) -> None:
        try:
            status = AgentStatus.decode(payload)
        except ContractError as exc:
            work.letters.append(
                _letter(topic, payload, received, f"{type(exc).__name__}: {exc}", path.agent)
            )
            return
        if status.agent != path.agent:
            reason = (
                f"status for agent {status.agent!r} published under agent {path.agent!r}'s topic"
            )
            work.letters.append(_letter(topic, payload, received, reason, path.agent))
            return
        self.status.set_online(path.agent, status.state == "online", utc_iso(received))
        if self._on_change:
            self._on_change(f"agent {path.agent} {status.state}")
        if self._on_agent_status:
            self._on_agent_status(path.agent, status.state == "online")

    def _identity_problem(self, path: AgentPath, claimed: str) -> str | None:
        if claimed != path.agent:
            return f"message from agent {claimed!r} published under agent {path.agent!r}'s topic"
        if path.agent not in self._agents:
            self.reload_registry()
        registered = self._agents.get(path.agent)
        if registered is None:
            return f"agent {path.agent!r} is not registered"
        if registered != (path.site, path.area):
            where = "/".join(registered)
            return f"agent {path.agent!r} is registered at {where}, not {path.site}/{path.area}"
        return None

    def _source_problem(self, event: Event, agent: str) -> str | None:
        """Why `agent` may not record `event`: another agent, source or station, a cloud type."""
        if event.agent != agent:
            return f"event of agent {event.agent!r} inside a message from agent {agent!r}"
        if event.type in CLOUD_EVENT_TYPES:
            return f"{event.type} events are written by the cloud only, not by agent {agent!r}"
        if event.source == agent:
            # The agent's own events (heartbeats, alarms) name one of its stations or none.
            station = event.station
            if station is None or station in self._stations.get(agent, ()):
                return None
            self.reload_registry()
            if station in self._stations.get(agent, ()):
                return None
            return f"station {station!r} is not served by agent {agent!r}"
        if event.source not in self._devices:
            self.reload_registry()
        owner = self._devices.get(event.source)
        if owner is None:
            return f"source {event.source!r} is not registered"
        if owner[0] != agent:
            return f"source {event.source!r} belongs to agent {owner[0]!r}, not {agent!r}"
        if event.station != owner[1]:
            return (
                f"source {event.source!r} is registered at station {owner[1]!r},"
                f" not {event.station!r}"
            )
        return None


def dead_body(payload: bytes) -> str:
    """A message kept whole as text: UTF-8 as it is, anything else (or a NUL) as `base64:...`."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return "base64:" + base64.b64encode(payload).decode("ascii")
    return text


def _letter(
    topic: str,
    payload: bytes,
    received: datetime,
    reason: str,
    agent: str | None = None,
    key: tuple[str, int] | None = None,
    *,
    kind: str = "contract",
) -> DeadLetter:
    return DeadLetter(
        received_at=utc_iso(received),
        topic=topic,
        reason=reason,
        body=dead_body(payload),
        agent=agent,
        instance=key[0] if key else None,
        seq=key[1] if key else None,
        kind=kind,
    )


def _fold_letter(record: LogRecord, reason: str) -> DeadLetter:
    text = f"{reason} (the event is in the log; a rebuild skips it too)"
    return DeadLetter.of_logged(record, text, "fold")


def _stations_by_agent(devices: dict[str, tuple[str, str | None]]) -> dict[str, set[str]]:
    """The stations each agent serves: those its registered devices are at."""
    stations: dict[str, set[str]] = {}
    for agent, station in devices.values():
        if station is not None:
            stations.setdefault(agent, set()).add(station)
    return stations


def _item_bytes(item: Any) -> bytes:
    """A rejected item's JSON text for its dead letter (finite numbers or not, any depth)."""
    try:
        return json.dumps(item).encode()
    except (ValueError, RecursionError):  # nested deeper than the encoder goes
        return b'"an item nested too deeply to keep as JSON text"'


def _key_of(item: Any) -> tuple[str, int] | None:
    """The (instance, seq) of a rejected event, when it has one within the contract's bounds."""
    return event_key(item)


def _salvage_keys(payload: bytes) -> list[tuple[str, int]]:
    """Keys of the events inside a message whose envelope is broken, so they can be settled."""
    try:
        obj = loads(payload)
    except ContractError:
        return []
    items = obj.get("events") if isinstance(obj, dict) else None
    if not isinstance(items, list):
        return []
    return [key for key in map(_key_of, items) if key is not None]
