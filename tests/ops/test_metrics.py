"""Both metrics endpoints scraped while things happen: a broker outage, a bad message."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import parse_config
from agent.metrics import agent_metrics
from agent.runtime import Agent
from contract import AgentPath
from taktline.metrics import samples
from taktline.private_broker import PrivateMosquitto, free_port
from tests.faults.harness import make_service
from tests.sync.harness import AREA, SITE, wait_for

pytestmark = [pytest.mark.mqtt]

AGENT = "pi-crimp-01"


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return samples(response.read().decode())


def test_outbox_depth_and_dead_letters_on_the_metrics_endpoints(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [AGENT])
    port = free_port()
    config = parse_config(
        {
            "agent": AGENT, "site": SITE, "area": AREA, "broker": mosquitto.url,
            "outbox": str(tmp_path / "agent.db"), "role": "station", "hardware": "emulated",
            "heartbeat_s": 60, "resend_after_s": 1, "metrics": f"127.0.0.1:{port}",
            "station": [{"id": "crimp-01", "inputs": {"run": 17}}],
        },
        "agent.toml",
        tmp_path,
    )  # fmt: skip
    assert config.metrics == ("127.0.0.1", port)
    with cloud, Agent(config) as agent:
        metrics = agent_metrics(agent, agent.worker_health)
        metrics.serve(*config.metrics)
        try:
            agent_url = f"http://127.0.0.1:{port}/metrics"
            cloud_url = cloud.web.url + "metrics" if cloud.web else ""
            assert cloud.ingest.wait_for_connection(10)
            wait_for(lambda: agent.outbox.depth() == 0, 20, "the first heartbeat settled")
            depth = ("taktline_outbox_depth", ())
            assert _scrape(agent_url)[depth] == 0
            mosquitto.stop()
            for _ in range(25):
                agent.outbox.append(
                    "machine.signal", {"signal": "cycle", "count": 1}, source=AGENT,
                    station="crimp-01",
                )  # fmt: skip
            scraped = _scrape(agent_url)
            assert scraped[depth] == 25, "the depth rises while the broker is down"
            assert scraped[("taktline_outbox_oldest_unsent_age_seconds", ())] >= 0
            mosquitto.restart()
            wait_for(lambda: _scrape(agent_url)[depth] == 0, 30, "the depth falls after")
            assert _scrape(agent_url)[("taktline_uplink_connected", ())] == 1
            workers = {labels: v for (name, labels), v in _scrape(agent_url).items()
                       if name == "taktline_worker_up"}  # fmt: skip
            assert workers and all(v == 1 for v in workers.values()), workers
            # the cloud: events committed, and a bad message counted as a contract dead letter
            before = _scrape(cloud_url)
            bad = ("taktline_dead_letters_total", (("kind", "contract"),))
            assert before[("taktline_events_committed_total", ())] >= 25
            client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            client.connect("127.0.0.1", mosquitto.port)
            client.loop_start()
            client.publish(
                AgentPath(SITE, AREA, AGENT).events, b"{not json", qos=1
            ).wait_for_publish(5)
            client.loop_stop()
            client.disconnect()
            wait_for(
                lambda: _scrape(cloud_url)[bad] == before[bad] + 1, 10, "the dead letter counted"
            )
            after = _scrape(cloud_url)
            assert after[("taktline_ingest_ready", ())] == 1
            assert (("taktline_agent_last_seen_seconds", (("agent", AGENT),))) in after
        finally:
            metrics.close()


def test_metrics_are_for_loopback_or_the_token() -> None:
    from starlette.testclient import TestClient

    from cloud.web.app import create_app
    from cloud.web.parts import WebParts

    token = "s3cret-token-of-the-plant"
    app = create_app(
        WebParts(lambda: {}, lambda n: [], metrics=lambda: b"taktline_x 1\n", metrics_token=token)
    )
    client = TestClient(app, client=("10.1.2.3", 5000))  # not loopback
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.text == "taktline_x 1\n"
    local = TestClient(app, client=("127.0.0.1", 5000))
    assert local.get("/metrics").status_code == 200
