"""The cloud under database and broker faults: not ready while they last, nothing lost after.

Real services: a private Mosquitto, a private PostgreSQL (restarted under load), a SQLite file
locked by another process past the busy timeout, and `taktline archive` run as a second process
while late resends arrive. Agents (the real outbox and uplink) stream events the whole time.
Each test ends with every event whose append returned in the log exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract import AgentPath
from taktline.private_broker import PrivateMosquitto
from taktline.private_postgres import PostgresUnavailable, PrivatePostgres
from tests.conftest import service_missing
from tests.faults.harness import Streamer, make_service, readyz
from tests.sync.harness import AREA, SITE, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ["pi-crimp-01", "pi-crimp-02"]


def _exactly_once(cloud: object, streamers: list[Streamer]) -> None:
    keys = cloud.log.event_keys()  # type: ignore[attr-defined]
    assert len(keys) == len(set(keys)), "an event applied twice"
    stored = {k for s in streamers for k in s.stored}
    assert stored <= set(keys), f"{len(stored - set(keys))} acknowledged events lost"


def _drain(streamers: list[Streamer]) -> None:
    for s in streamers:
        s.stop_appending()
    wait_for(lambda: all(s.outbox.depth() == 0 for s in streamers), 60, "every outbox drained")


def test_postgresql_restarted_under_load(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    try:
        server = PrivatePostgres().start()
    except PostgresUnavailable as exc:
        service_missing(str(exc))
        raise
    try:
        cloud = make_service(tmp_path, mosquitto.url, server.url, AGENTS)
        streamers = [Streamer(tmp_path, mosquitto.url, a, resend_after_s=2.0) for a in AGENTS]
        with cloud:
            assert cloud.ingest.wait_for_connection(10)
            for s in streamers:
                s.start()
            wait_for(lambda: cloud.log.count() >= 200, 20, "events streaming in")
            assert readyz(cloud)[0] == 200
            server.stop()
            down = time.monotonic()
            wait_for(lambda: readyz(cloud)[0] == 503, 20, "/readyz 503 while PostgreSQL is down")
            _, report = readyz(cloud)
            assert any("ingest" in p for p in report["parts"]["ingest"]["problems"]), report
            time.sleep(1.0)
            server.start()
            wait_for(lambda: readyz(cloud)[0] == 200, 30, "/readyz 200 once it is back")
            print(f"\nPostgreSQL down and back: ready again {time.monotonic() - down:.1f} s later")
            _drain(streamers)
            assert cloud.ingest.stats.commit_faults >= 1
            assert cloud.ingest.worker.is_alive
            _exactly_once(cloud, streamers)
            for s in streamers:
                s.close()
    finally:
        server.close()


def test_sqlite_locked_past_the_busy_timeout(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    db = tmp_path / "cloud.db"
    cloud = make_service(tmp_path, mosquitto.url, str(db), AGENTS, busy_timeout_s=0.3)
    streamers = [Streamer(tmp_path, mosquitto.url, a, resend_after_s=2.0) for a in AGENTS]
    with cloud:
        assert cloud.ingest.wait_for_connection(10)
        for s in streamers:
            s.start()
        wait_for(lambda: cloud.log.count() >= 200, 20, "events streaming in")
        # another process takes the write lock and keeps it for 3 s
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
             "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(3);"
             "c.execute('COMMIT')", str(db)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        wait_for(lambda: readyz(cloud)[0] == 503, 10, "/readyz 503 while the log is locked")
        holder.wait(10)
        wait_for(lambda: readyz(cloud)[0] == 200, 30, "/readyz 200 once the lock is gone")
        _drain(streamers)
        assert cloud.ingest.stats.commit_faults >= 1
        _exactly_once(cloud, streamers)
        for s in streamers:
            s.close()


def test_archive_from_a_second_process_while_resends_arrive(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    agent = AGENTS[0]
    db = tmp_path / "cloud.db"
    cloud = make_service(tmp_path, mosquitto.url, str(db), [agent])
    path = AgentPath(SITE, AREA, agent)
    captured: list[bytes] = []
    sniffer = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sniffer.on_message = lambda c, u, m: captured.append(bytes(m.payload))
    sniffer.connect("127.0.0.1", mosquitto.port)
    sniffer.subscribe(path.events, qos=1)
    sniffer.loop_start()
    streamer = Streamer(tmp_path, mosquitto.url, agent)
    try:
        with cloud:
            assert cloud.ingest.wait_for_connection(10)
            streamer.start()
            wait_for(lambda: cloud.log.count() >= 300, 20, "events in the log")
            _drain([streamer])
            with cloud.ingest.write_lock:
                cloud.snapshots.take(cloud.status)  # archiving needs a snapshot to cover it
            # the retention policy from cron, while the cloud runs: in batches of 100
            archived = subprocess.run(
                [sys.executable, "-m", "taktline.cli", "archive", "--db", str(db), "--to",
                 str(tmp_path / "archive"), "--older-than-days", "0", "--batch", "100"],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert archived.returncode == 0, archived.stderr
            assert "file(s)" in archived.stdout, archived.stdout
            files = list((tmp_path / "archive").glob("events-*.jsonl.gz"))
            assert len(files) >= 3, "archived in bounded batches"
            count = cloud.log.count()  # the newest event stays in the table
            # late resends of the archived events: duplicates, never a second copy
            duplicates = cloud.ingest.stats.duplicates
            resender = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            resender.connect("127.0.0.1", mosquitto.port)
            resender.loop_start()
            for payload in captured[:5]:
                resender.publish(path.events, payload, qos=1).wait_for_publish(5)
            resender.loop_stop()
            resender.disconnect()
            resent = sum(len(json.loads(p)["events"]) for p in captured[:5])
            wait_for(
                lambda: cloud.ingest.stats.duplicates >= duplicates + resent,
                20,
                "the late resends recognised as duplicates",
            )
            assert cloud.log.count() == count
            assert cloud.log.dead_letters(100) == []
            streamer.close()
    finally:
        sniffer.loop_stop()
        sniffer.disconnect()
