"""The documented Mosquitto ACL (docs/deployment/mosquitto-acl.conf) on a real Mosquitto.

Agents log in with their agent id; each may publish only under its own path and read only its
own downlink, the cloud reads every uplink and answers. An agent publishing under another's
path is refused (MQTT 5 reason 135) and dead-letters locally; the cloud never sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.uplink import Uplink
from cloud.ingest import Ingest
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract import AgentPath
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.conftest import DEPLOYMENT_ACL, started_mosquitto
from tests.sync.harness import AREA, SITE, wait_for

pytestmark = pytest.mark.mqtt

USERS = {"pi-crimp-01": "s3cret-1", "pi-crimp-02": "s3cret-2", "taktline-cloud": "s3cret-c"}


@pytest.fixture
def plant_broker() -> Iterator[PrivateMosquitto]:
    with started_mosquitto(acl=DEPLOYMENT_ACL.read_text(), passwords=USERS) as broker:
        yield broker


def _url(broker: PrivateMosquitto, user: str) -> BrokerSettings:
    return BrokerSettings.from_url(f"mqtt://{user}:{USERS[user]}@127.0.0.1:{broker.port}")


def test_agents_are_confined_to_their_own_path(
    tmp_path: Path, plant_broker: PrivateMosquitto
) -> None:
    log = EventLog(tmp_path / "cloud.db")
    for agent in ("pi-crimp-01", "pi-crimp-02"):
        log.register_agent(agent, SITE, AREA)
    ingest = Ingest(log, ResourceStatus(), _url(plant_broker, "taktline-cloud"), site=SITE)
    honest = Outbox(tmp_path / "honest.db", agent="pi-crimp-01")
    # pi-crimp-02's credentials, but configured with pi-crimp-01's path: a copied SD card.
    impostor = Outbox(tmp_path / "impostor.db", agent="pi-crimp-01")
    path = AgentPath(SITE, AREA, "pi-crimp-01")
    with (
        ingest,
        Uplink(honest, path, _url(plant_broker, "pi-crimp-01")),
        Uplink(impostor, path, _url(plant_broker, "pi-crimp-02")),
    ):
        assert ingest.wait_for_connection(10)
        for n in range(3):
            honest.append(
                "machine.signal", {"signal": "cycle", "count": n + 1}, source="pi-crimp-01"
            )
            impostor.append("machine.signal", {"signal": "cycle", "count": 9}, source="pi-crimp-01")
        wait_for(lambda: honest.depth() == 0, 15, "the honest agent's events settled")
        wait_for(lambda: impostor.dead_letter_count >= 3, 15, "the impostor's events refused")
    assert {key[0] for key in log.event_keys()} == {honest.instance}
    assert log.count() == 3
    assert all("135" in d["reason"] for d in impostor.dead_letters())
    honest.close()
    impostor.close()
    log.close()
