"""`taktline agent` running the station role on emulated hardware: SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from agent.outbox import Outbox
from taktline.private_broker import PrivateMosquitto
from tests.agent.roles.test_station import STATION, TAGS
from tests.sync.harness import AREA, SITE, make_cloud, wait_for

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_station_agent_stops_cleanly_with_nothing_lost(
    tmp_path: Path, mosquitto: PrivateMosquitto, stop_signal: signal.Signals
) -> None:
    (tmp_path / "tags.toml").write_text(TAGS)
    config = tmp_path / "agent.toml"
    config.write_text(
        f'agent = "pi-crimp-01"\nsite = "{SITE}"\narea = "{AREA}"\nrole = "station"\n'
        f'hardware = "emulated"\nbroker = "{mosquitto.url}"\noutbox = "outbox.db"\n'
        "heartbeat_s = 0.2\n" + STATION
    )
    log, ingest = make_cloud(tmp_path, mosquitto.url, ["pi-crimp-01"])
    for source in ("crimp-01-io", "crimp-01-badge", "crimp-01-tool"):
        log.register_device(source, "pi-crimp-01", "crimp-01")
    ingest.reload_registry()
    with ingest:
        agent = subprocess.Popen(
            [sys.executable, "-m", "taktline.cli", "agent", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: log.count() >= 3, 15, "the run state and heartbeats in the cloud")
            agent.send_signal(stop_signal)
            out, _ = agent.communicate(timeout=20)
        finally:
            agent.kill()
    assert agent.returncode == 0, out
    assert "up as station on emulated hardware" in out and "stopping the station role" in out
    assert "reader_lost" not in out and "Traceback" not in out, out
    types = [event["type"] for _, event, _ in log.replay()]
    assert "machine.signal" in types and "agent.heartbeat" in types
    assert log.dead_letters() == []
    # Nothing lost: every event the agent recorded is in the cloud or still in its outbox.
    with Outbox(tmp_path / "outbox.db", agent="pi-crimp-01") as outbox:
        recorded = set(range(1, outbox.next_seq))
        pending = {json.loads(body)["seq"] for _, body in outbox.pending()}
        instance = outbox.instance
    in_cloud = {seq for source, seq in log.event_keys() if source == instance}
    assert recorded and recorded == in_cloud | pending


def test_real_hardware_off_a_pi_is_a_clear_message_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "tags.toml").write_text(TAGS)
    config = tmp_path / "agent.toml"
    config.write_text(
        'agent = "pi-crimp-01"\nsite = "plant1"\narea = "harness"\nhardware = "pi"\n'
        'broker = "mqtt://127.0.0.1:1"\n' + STATION
    )
    done = subprocess.run(
        [sys.executable, "-m", "taktline.cli", "agent", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3, done.stderr
    assert "cannot start role station" in done.stderr and "hardware = " in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "example",
    [
        "agent-crimp-01.toml",
        "agent-station-assy-01.toml",
        "agent-gate-crib-01.toml",
        "agent-rest-01.toml",
    ],
)
def test_every_example_runs_on_emulated_hardware(
    tmp_path: Path, mosquitto: PrivateMosquitto, example: str
) -> None:
    from tests.example_configs import example_copy

    config = example_copy(example, tmp_path, broker_url=mosquitto.url)  # plain, the test broker
    text = config.read_text()
    text = text.replace('hardware = "pi"', 'hardware = "emulated"')
    text = text.replace("/var/lib/taktline/outbox.db", "outbox.db")
    text = text.replace("heartbeat_s = 30", "").replace(
        'area = "harness"', 'area = "harness"\nheartbeat_s = 0.2'
    )
    config.write_text(text)
    agent = subprocess.Popen(
        [sys.executable, "-m", "taktline.cli", "agent", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        outbox = tmp_path / "outbox.db"

        def recorded() -> int:
            try:
                with closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
                    return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
            except sqlite3.OperationalError:
                return 0  # not there yet, or its tables not yet made

        wait_for(lambda: recorded() >= 3, 15, "heartbeats recorded")
        agent.send_signal(signal.SIGTERM)
        out, _ = agent.communicate(timeout=20)
    finally:
        agent.kill()
    assert agent.returncode == 0, out
    assert "on emulated hardware" in out and "reader_lost" not in out and "Traceback" not in out
