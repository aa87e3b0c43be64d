"""The Sparkplug B bridge on a real Mosquitto: what a Sparkplug host sees of the cloud.

A subscriber decodes every message with the Sparkplug B definitions (as Ignition would) and
checks births, data, deaths, `seq` (one more each message, 255 wrapping to 0, NBIRTH 0) and
`bdSeq` (NBIRTH and the NDEATH of one session agree; a new session, a reconnect or a cloud
restart, counts on), also when the cloud was killed and only the broker's copy of its will
says it died.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.service import CloudService, CloudSettings
from cloud.sparkplug import REBIRTH, DataType, Metric, SparkplugBridge, decode, encode, value_of
from cloud.store import EventLog
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import AREA, SITE, STATION, make_agent, wait_for

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
GROUP, NODE = "plant1", "taktline-cloud"
AGENT = "pi-crimp-01"


@dataclass
class Seen:
    """One Sparkplug message as a host decodes it."""

    kind: str
    device: str | None
    seq: int | None
    metrics: dict[str, Any]
    types: dict[str, int]


class Host:
    """A Sparkplug host application's view: every message under the group, decoded."""

    def __init__(self, url: str) -> None:
        settings = BrokerSettings.from_url(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="host", protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_message = self._message
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.client.connect(settings.host, settings.port)
        self.client.subscribe(f"spBv1.0/{GROUP}/#", qos=1)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        parts = message.topic.split("/")
        if parts[2] == "NCMD":
            return  # the host's own command
        payload = decode(message.payload)
        seen = Seen(
            kind=parts[2],
            device=parts[4] if len(parts) > 4 else None,
            seq=payload.seq if payload.HasField("seq") else None,
            metrics={m.name: value_of(m) for m in payload.metrics},
            types={m.name: m.datatype for m in payload.metrics},
        )
        assert payload.timestamp > 1_700_000_000_000  # ms since the epoch
        with self._lock:
            self.seen.append(seen)

    def messages(self, kind: str | None = None) -> list[Seen]:
        with self._lock:
            return [m for m in self.seen if kind is None or m.kind == kind]

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 10) -> None:
        wait_for(lambda: bool(check()), timeout, what)

    def rebirth(self) -> None:
        body = encode(int(time.time() * 1000), [Metric(REBIRTH, DataType.Boolean, True)])
        self.client.publish(f"spBv1.0/{GROUP}/NCMD/{NODE}", body, qos=0)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def host(mosquitto: PrivateMosquitto) -> Iterator[Host]:
    made = Host(mosquitto.url)
    time.sleep(0.2)  # subscribed before the cloud's first birth
    yield made
    made.close()


def assert_seq_runs(messages: list[Seen]) -> None:
    """From each NBIRTH (seq 0) on, every message but NDEATH is one more, wrapping at 256."""
    expected: int | None = None
    for message in messages:
        if message.kind == "NDEATH":
            assert message.seq is None, "an NDEATH carries no seq"
            continue
        if message.kind == "NBIRTH":
            assert message.seq == 0, "an NBIRTH starts the sequence"
        else:
            assert message.seq == expected, f"{message.kind} {message.device}: seq"
        expected = (message.seq + 1) % 256  # type: ignore[operator]


def cloud_for(tmp_path: Path, url: str) -> CloudService:
    settings = CloudSettings(
        database=tmp_path / "cloud.db",
        broker=url,
        site=SITE,
        web_port=None,
        sparkplug=(GROUP, NODE),
        client_id="cloud-sp",
    )
    cloud = CloudService(settings)
    cloud.log.register_agent(AGENT, SITE, AREA)
    cloud.log.register_device(f"{AGENT}-io", AGENT, STATION)
    cloud.ingest.reload_registry()
    return cloud


def test_a_station_is_born_changes_dies_and_is_born_again_across_a_restart(
    tmp_path: Path, mosquitto: PrivateMosquitto, host: Host
) -> None:
    outbox, uplink = make_agent(tmp_path, mosquitto.url, AGENT)
    cloud = cloud_for(tmp_path, mosquitto.url)
    with cloud, uplink:
        assert cloud.ingest.wait_for_connection(10)  # what the agent sends now is not missed
        host.wait(lambda: host.messages("NBIRTH"), "the NBIRTH")
        birth = host.messages("NBIRTH")[0]
        assert birth.metrics == {"bdSeq": 0, REBIRTH: False}
        assert birth.types == {"bdSeq": DataType.Int64, REBIRTH: DataType.Boolean}
        _, report = cloud.health.ready()
        assert report["parts"]["sparkplug"]["ready"], report  # /readyz has the bridge's part

        # The machine runs: the station is born RUNNING.
        outbox.append(
            "machine.signal", {"signal": "run", "on": True}, source=AGENT, station=STATION
        )
        host.wait(lambda: host.messages("DBIRTH"), "crimp-01's DBIRTH")
        dbirth = host.messages("DBIRTH")[0]
        assert dbirth.device == STATION
        assert dbirth.metrics == {
            "State": "RUNNING", "Running": True, "Stop Reason": None, "Job": None,
            "Counters/Cycles": 0, "Counters/Good": 0, "Counters/Scrap": 0,
        }  # fmt: skip
        assert dbirth.types["Counters/Cycles"] == DataType.UInt64
        # A job, cycles, then the machine stops: only what changed, in DDATA.
        outbox.append("job.ticket", {"tag": "0A020001", "action": "start"}, source=AGENT,
                      station=STATION)  # fmt: skip
        for _ in range(3):
            outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source=AGENT,
                          station=STATION)  # fmt: skip
        outbox.append(
            "machine.signal", {"signal": "run", "on": False}, source=AGENT, station=STATION
        )
        host.wait(
            lambda: any(m.metrics.get("State") == "STOPPED" for m in host.messages("DDATA")),
            "the stop in a DDATA",
        )
        data = host.messages("DDATA")
        assert all(m.device == STATION for m in data)
        merged: dict[str, Any] = {}
        for message in data:
            assert "Counters/Good" not in message.metrics  # unchanged metrics are not sent
            merged.update(message.metrics)
        assert merged["Job"] == "0A020001" and merged["Counters/Cycles"] == 3
        assert merged["Running"] is False and merged["Stop Reason"] == "unexplained"

        # The host asks for a rebirth: NBIRTH (seq 0, same bdSeq) and the station as it is now.
        before = len(host.messages())
        host.rebirth()
        host.wait(lambda: len(host.messages("DBIRTH")) == 2, "the rebirth's DBIRTH")
        again = host.messages()[before:]
        assert [m.kind for m in again] == ["NBIRTH", "DBIRTH"]
        assert again[0].metrics["bdSeq"] == 0
        assert again[1].metrics["State"] == "STOPPED"
        assert again[1].metrics["Counters/Cycles"] == 3

        # The agent goes offline (its status says so): the station dies.
        uplink.stop()
        host.wait(lambda: host.messages("DDEATH"), "crimp-01's DDEATH")
        assert host.messages("DDEATH")[0].device == STATION
    host.wait(lambda: host.messages("NDEATH"), "the NDEATH of a clean stop")
    assert host.messages("NDEATH")[0].metrics == {"bdSeq": 0}

    # A restarted cloud: the next bdSeq, seq from 0; the agent comes back, its station is born.
    _, uplink2 = make_agent(tmp_path, mosquitto.url, AGENT)
    with cloud_for(tmp_path, mosquitto.url) as cloud2, uplink2:
        assert cloud2.ingest.wait_for_connection(10)
        host.wait(lambda: len(host.messages("NBIRTH")) == 3, "the restarted cloud's NBIRTH")
        assert host.messages("NBIRTH")[-1].metrics["bdSeq"] == 1
        host.wait(lambda: len(host.messages("DBIRTH")) == 3, "crimp-01 born again")
        assert host.messages("DBIRTH")[-1].metrics["State"] == "STOPPED"
    host.wait(lambda: len(host.messages("NDEATH")) == 2, "the second NDEATH")
    assert host.messages("NDEATH")[-1].metrics == {"bdSeq": 1}
    assert_seq_runs(host.messages())


class CountingMachines:
    """What the bridge reads, in the status's shape: 300 running machines the test counts on."""

    def __init__(self) -> None:
        self.cycles = 0
        self.stations = [f"press-{n:03}" for n in range(300)]

    def facts(self, station: str) -> dict[str, Any]:
        return {"state": "RUNNING", "running": True, "cycles": self.cycles, "online": True}


def test_seq_wraps_and_a_lost_connection_sends_the_will_with_its_bdseq(
    tmp_path: Path, mosquitto: PrivateMosquitto, host: Host
) -> None:
    floor = CountingMachines()
    log = EventLog(tmp_path / "cloud.db")
    log.save_plan_versions({f"@sparkplug/{GROUP}/{NODE}/bdSeq": 254})  # an earlier life
    bridge = SparkplugBridge(
        BrokerSettings.from_url(mosquitto.url),
        GROUP,
        NODE,
        floor.facts,
        lambda: floor.stations,
        sequences=log,
    )
    with bridge:
        host.wait(lambda: len(host.messages("DBIRTH")) == 300, "300 DBIRTHs")
        assert host.messages("NBIRTH")[0].metrics["bdSeq"] == 255
        floor.cycles = 1
        bridge.changed(floor.stations)
        host.wait(lambda: len(host.messages("DDATA")) == 300, "300 DDATAs")
        seqs = [m.seq for m in host.messages()]
        assert seqs[:2] == [0, 1] and seqs[256] == 0 and seqs[-1] == 600 % 256
        assert {m.device for m in host.messages("DDATA")} == set(floor.stations)
        assert all(m.metrics == {"Counters/Cycles": 1} for m in host.messages("DDATA"))

        # The connection breaks without a DISCONNECT: the broker sends the will (bdSeq 255);
        # the bridge connects again with bdSeq 0 (255 wraps) and is born again.
        sock = bridge._session.client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        host.wait(lambda: host.messages("NDEATH"), "the will")
        assert host.messages("NDEATH")[0].metrics == {"bdSeq": 255}
        host.wait(lambda: len(host.messages("NBIRTH")) == 2, "the NBIRTH after the reconnect")
        assert host.messages("NBIRTH")[1].metrics["bdSeq"] == 0
        host.wait(lambda: len(host.messages("DBIRTH")) == 600, "the DBIRTHs after the reconnect")
    host.wait(lambda: len(host.messages("NDEATH")) == 2, "the NDEATH of the stop")
    assert host.messages("NDEATH")[1].metrics == {"bdSeq": 0}
    assert_seq_runs(host.messages())
    log.close()


def test_a_killed_cloud_leaves_its_will_and_the_restarted_one_counts_bdseq_on(
    tmp_path: Path, mosquitto: PrivateMosquitto, host: Host
) -> None:
    """`taktline cloud --sparkplug` killed (SIGKILL: no clean NDEATH) and started again."""
    command = [
        sys.executable, "-m", "taktline.cli", "cloud", "--broker", mosquitto.url,
        "--db", str(tmp_path / "cloud.db"), "--web", "off", "--site", SITE,
        "--sparkplug", f"{GROUP}/{NODE}",
    ]  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)

    cloud = start()
    try:
        host.wait(lambda: host.messages("NBIRTH"), "the first cloud's NBIRTH", 30)
        assert host.messages("NBIRTH")[0].metrics["bdSeq"] == 0
        cloud.kill()
        cloud.wait(10)
        host.wait(lambda: host.messages("NDEATH"), "the broker's copy of the will")
        assert host.messages("NDEATH")[0].metrics == {"bdSeq": 0}
        cloud = start()
        host.wait(lambda: len(host.messages("NBIRTH")) == 2, "the restarted cloud's NBIRTH", 30)
        assert host.messages("NBIRTH")[1].metrics["bdSeq"] == 1
        host.rebirth()  # answered by the restarted cloud with the same bdSeq
        host.wait(lambda: len(host.messages("NBIRTH")) == 3, "the rebirth's NBIRTH")
        assert host.messages("NBIRTH")[2].metrics["bdSeq"] == 1
        cloud.send_signal(signal.SIGTERM)
        assert cloud.wait(20) == 0
        host.wait(lambda: len(host.messages("NDEATH")) == 2, "the clean stop's NDEATH")
        assert host.messages("NDEATH")[1].metrics == {"bdSeq": 1}
        assert_seq_runs(host.messages())
    finally:
        cloud.kill()
        cloud.wait(10)
