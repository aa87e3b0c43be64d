"""`taktline agent` as systemd runs it: up, heartbeat in the cloud, SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import AREA, SITE, make_cloud, wait_for

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_agent_stops_cleanly(
    tmp_path: Path, mosquitto: PrivateMosquitto, stop_signal: signal.Signals
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        f'agent = "pi-crimp-01"\nsite = "{SITE}"\narea = "{AREA}"\n'
        f'broker = "{mosquitto.url}"\noutbox = "outbox.db"\n'
        '[[station]]\nid = "crimp-01"\n'
    )
    log, ingest = make_cloud(tmp_path, mosquitto.url, ["pi-crimp-01"])
    with ingest:
        agent = subprocess.Popen(
            [sys.executable, "-m", "taktline.cli", "agent", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: log.count() >= 1, 15, "the agent's first heartbeat")
            wait_for(
                lambda: (
                    ingest.status.snapshot()["agents"].get("pi-crimp-01", {}).get("online") is True
                ),
                10,
                "the agent online",
            )
            agent.send_signal(stop_signal)
            out, _ = agent.communicate(timeout=15)
        finally:
            agent.kill()
        assert agent.returncode == 0, out
        wait_for(
            lambda: ingest.status.snapshot()["agents"]["pi-crimp-01"]["online"] is False,
            10,
            "the agent offline",
        )
    assert (tmp_path / "outbox.db").exists()
    (heartbeat,) = [e for _, e, _ in log.replay() if e["type"] == "agent.heartbeat"]
    assert heartbeat["payload"]["outbox_depth"] >= 0
