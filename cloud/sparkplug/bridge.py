"""The Sparkplug B bridge: the cloud as one Sparkplug edge node, each station one of its devices.

Plants on Ignition (or any Sparkplug host) read Taktline's stations without a connector: the
bridge publishes, under `spBv1.0/GROUP/.../NODE[/STATION]`, each station's machine state, stop
reason, current job and counters (the mapping: docs/sparkplug.md). It is fed by the cloud's
resource status: after each ingest round the touched stations are marked (`changed`), an agent
going online or offline marks every station (`agent_changed`), and the bridge's own thread —
a supervised `Worker` — reads them from the status and publishes what changed. Nothing on the
ingest thread waits for the broker.

The session follows Sparkplug 3.0: before each MQTT CONNECT the next `bdSeq` (0..255, wrapping) is
saved (so it keeps counting across a cloud restart) and registered in the NDEATH will (QoS 1, not
retained); after the CONNACK come NBIRTH (seq 0, the same bdSeq) and one DBIRTH per station whose
agent is online, then DDATA with only the metrics that changed, DDEATH when a station's agent goes
offline (DBIRTH when it is back). Every message but NDEATH carries `seq`, one more than the last
(255 wraps to 0). An NCMD `Node Control/Rebirth` = true is answered with NBIRTH and every DBIRTH
again. A clean stop publishes the NDEATH itself before it disconnects; a lost connection raises
into the supervisor, which connects again (a new bdSeq) after a back-off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Protocol

from cloud.sparkplug.payload import (
    DataType,
    DecodeError,
    Metric,
    decode,
    encode,
    topic,
    valid_id,
    value_of,
)
from taktline.clock import Clock, SystemClock
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker

__all__ = [
    "CHANNELS",
    "REBIRTH",
    "SequenceStore",
    "SparkplugBridge",
    "device_metrics",
    "parse_node",
]

log = logging.getLogger(__name__)

#: The node control metric a host sets to true to ask for every birth again.
REBIRTH: Final = "Node Control/Rebirth"
BD_SEQ: Final = "bdSeq"
#: The station's metrics: name -> (status field, Sparkplug data type).
DEVICE_METRICS: Final[dict[str, tuple[str, DataType]]] = {
    "State": ("state", DataType.String),
    "Running": ("running", DataType.Boolean),
    "Stop Reason": ("stop_reason", DataType.String),
    "Job": ("job", DataType.String),
    "Counters/Cycles": ("cycles", DataType.UInt64),
    "Counters/Good": ("good", DataType.UInt64),
    "Counters/Scrap": ("scrap", DataType.UInt64),
}
#: Message kind -> (what the bridge does, MQTT QoS, retained): the specification's rules (births
#: and data QoS 0, the NDEATH will QoS 1, nothing retained); docs/asyncapi.yaml lists the same.
CHANNELS: Final[dict[str, tuple[str, int, bool]]] = {
    "NBIRTH": ("send", 0, False),
    "NDEATH": ("send", 1, False),
    "DBIRTH": ("send", 0, False),
    "DDATA": ("send", 0, False),
    "DDEATH": ("send", 0, False),
    "NCMD": ("receive", 1, False),
}
_CONNACK_S: Final = 10.0


class SequenceStore(Protocol):
    """Where the last bdSeq is kept (`cloud.store.EventLog` is one: its plan versions table)."""

    def plan_versions(self, prefix: str = "") -> dict[str, int]:
        """The saved numbers whose key starts with `prefix`."""
        ...

    def save_plan_versions(self, versions: dict[str, int]) -> None:
        """Saves numbers durably."""
        ...


def parse_node(text: str) -> tuple[str, str]:
    """`GROUP/NODE` as (group, node).

    Raises:
        ValueError: not two non-empty ids without `/`, `+` or `#`.
    """
    group, sep, node = text.partition("/")
    if not sep or not valid_id(group) or not valid_id(node):
        raise ValueError(
            f"--sparkplug must be GROUP/NODE (two ids without '/', '+' or '#'), not {text!r}"
        )
    return group, node


def device_metrics(facts: Mapping[str, Any]) -> list[Metric]:
    """A station's metrics from its machine's status (`MachineState.to_dict()`)."""
    return [Metric(name, kind, facts.get(field)) for name, (field, kind) in DEVICE_METRICS.items()]


class SparkplugBridge:
    """The cloud's Sparkplug B edge node; start it, feed it, close it.

    Args:
        broker: Where to publish (the cloud's broker).
        group: The Sparkplug group id.
        node: The edge node id.
        facts: A station's machine as a dict (state, running, stop_reason, job, counters) plus
            `online` (its agent's link), or None when the status does not know the station.
        stations: Every station the status knows.
        sequences: Keeps the last bdSeq across restarts.
        client_id: The MQTT client id.
        clock: Timestamps of the payloads.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        group: str,
        node: str,
        facts: Callable[[str], Mapping[str, Any] | None],
        stations: Callable[[], Iterable[str]],
        *,
        sequences: SequenceStore,
        client_id: str = "taktline-sparkplug",
        clock: Clock | None = None,
    ) -> None:
        self.group, self.node = group, node
        self._facts = facts
        self._stations = stations
        self._store = sequences
        self._key = f"@sparkplug/{group}/{node}/bdSeq"
        self._clock = clock or SystemClock()
        self._session = Session(broker, client_id, on_connect=self._connected)
        self._session.client.on_message = self._message
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._all_dirty = True
        self._rebirth = threading.Event()
        #: The bdSeq of the current (or last) session; None before the first connect.
        self.bd_seq: int | None = None
        #: The seq the next message gets.
        self.seq = 0
        self._born: dict[str, dict[str, Any]] = {}  # station -> its metrics as last published
        self.births = 0
        self.rebirths = 0
        self.published = 0
        self.worker = Worker(f"sparkplug-{group}-{node}", self._run, backoff_max_s=10.0)

    # --- fed by the cloud (any thread) -----------------------------------------------------------

    def changed(self, stations: Iterable[str]) -> None:
        """These stations' status changed (ingest's thread, after the fold)."""
        with self._lock:
            self._dirty.update(stations)

    def agent_changed(self) -> None:
        """An agent went online or offline: every station is looked at again."""
        with self._lock:
            self._all_dirty = True

    # --- the owner -------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether the bridge's MQTT session is up."""
        return self._session.is_connected

    def start(self) -> SparkplugBridge:
        """Starts the bridge's worker; waits up to 10 s for its first births."""
        self.worker.start()
        deadline = time.monotonic() + 10
        while self.births == 0 and time.monotonic() < deadline and self.worker.is_alive:
            time.sleep(0.01)
        return self

    def close(self) -> None:
        """Publishes the NDEATH, disconnects and stops the worker."""
        self.worker.stop(10)

    def __enter__(self) -> SparkplugBridge:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the worker ------------------------------------------------------------------------------

    def _next_bd_seq(self) -> int:
        last = self._store.plan_versions(self._key).get(self._key)
        bd_seq = 0 if last is None else (last + 1) % 256
        self._store.save_plan_versions({self._key: bd_seq})  # before the will can carry it
        return bd_seq

    def _now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

    def _death(self, bd_seq: int) -> bytes:
        return encode(self._now_ms(), [Metric(BD_SEQ, DataType.Int64, bd_seq)])

    def _run(self, worker: Worker) -> None:
        session = self._session
        self.bd_seq = self._next_bd_seq()
        _, qos, retain = CHANNELS["NDEATH"]
        session.client.will_set(
            topic(self.group, "NDEATH", self.node), self._death(self.bd_seq), qos, retain
        )
        if not session.connect(lambda: worker.stopping):
            return
        deadline = time.monotonic() + _CONNACK_S
        while not session.is_connected:
            if not session.run_once(0.05) or time.monotonic() > deadline:
                raise ConnectionError(f"no CONNACK from the broker ({session.last_error})")
            if worker.stopping:
                session.disconnect()
                return
        try:
            self._birth()
            while not worker.stopping:
                if not session.run_once(0.05):
                    raise ConnectionError("lost the broker")
                if self._rebirth.is_set():
                    self._rebirth.clear()
                    self.rebirths += 1
                    log.info("sparkplug: rebirth asked for by the host")
                    self._birth()
                self._publish_changes()
                worker.beat()
            self._goodbye()
        finally:
            if worker.stopping:
                session.disconnect()
            else:
                self._drop()

    def _drop(self) -> None:
        # the connection is gone: the next session starts with new births, nothing is born
        self._born.clear()
        with contextlib.suppress(OSError, ValueError):  # already closed
            self._session.client.disconnect()

    def _connected(self) -> None:
        self._session.client.subscribe(topic(self.group, "NCMD", self.node), CHANNELS["NCMD"][1])

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            payload = decode(message.payload)
        except DecodeError as exc:
            log.warning("sparkplug: an NCMD that is no Sparkplug B payload: %s", exc)
            return
        for metric in payload.metrics:
            if metric.name == REBIRTH and value_of(metric) is True:
                self._rebirth.set()

    def _send(self, kind: str, metrics: Iterable[Metric], device: str | None = None) -> None:
        body = encode(self._now_ms(), metrics, self.seq)
        self.seq = (self.seq + 1) % 256
        _, qos, retain = CHANNELS[kind]
        self._session.client.publish(topic(self.group, kind, self.node, device), body, qos, retain)
        self.published += 1

    def _birth(self) -> None:
        """NBIRTH (seq 0) and a DBIRTH for every station whose agent is online."""
        assert self.bd_seq is not None
        self.seq = 0
        self._born.clear()
        with self._lock:
            self._dirty.clear()
            self._all_dirty = False
        node_metrics = [
            Metric(BD_SEQ, DataType.Int64, self.bd_seq),
            Metric(REBIRTH, DataType.Boolean, False),
        ]
        self._send("NBIRTH", node_metrics)
        for station in sorted(self._stations()):
            self._look_at(station)
        self.births += 1

    def _publish_changes(self) -> None:
        with self._lock:
            stations = set(self._stations()) if self._all_dirty else set(self._dirty)
            self._dirty.clear()
            self._all_dirty = False
        for station in sorted(stations):
            self._look_at(station)

    def _look_at(self, station: str) -> None:
        """DBIRTH, DDATA (what changed) or DDEATH for one station, as its status says."""
        if not valid_id(station):
            return  # not a topic element: documented as not bridged
        facts = self._facts(station)
        alive = facts is not None and facts.get("online", True) is not False
        born = self._born.get(station)
        if not alive or facts is None:
            if born is not None:
                del self._born[station]
                self._send("DDEATH", [], station)
            return
        metrics = device_metrics(facts)
        values = {m.name: m.value for m in metrics}
        if born is None:
            self._send("DBIRTH", metrics, station)
        else:
            changed = [m for m in metrics if born.get(m.name) != m.value]
            if not changed:
                return
            self._send("DDATA", changed, station)
        self._born[station] = values

    def _goodbye(self) -> None:
        """A clean stop: the NDEATH goes out (QoS 1) before the DISCONNECT."""
        assert self.bd_seq is not None
        _, qos, retain = CHANNELS["NDEATH"]
        info = self._session.client.publish(
            topic(self.group, "NDEATH", self.node), self._death(self.bd_seq), qos, retain
        )
        deadline = time.monotonic() + 2
        while not info.is_published() and time.monotonic() < deadline:
            if not self._session.run_once(0.02):
                break
        self._born.clear()
