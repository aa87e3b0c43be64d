"""Dead letters you can bring back: an unregistered agent's events, and the broker's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.faults.harness import make_service
from tests.sync.harness import AREA, SITE, make_agent, wait_for

pytestmark = [pytest.mark.mqtt]

ROOT = Path(__file__).resolve().parents[2]
KNOWN, NEW = "pi-crimp-01", "pi-crimp-02"


def _taktline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taktline.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unregistered_agent_is_registered_and_its_events_replayed_once(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    db = tmp_path / "cloud.db"
    cloud = make_service(tmp_path, mosquitto.url, str(db), [KNOWN])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, NEW)
    for n in range(30):
        outbox.append(
            "machine.signal", {"signal": "cycle", "count": n + 1}, source=NEW, station="crimp-02"
        )
    with cloud, uplink:
        assert cloud.ingest.wait_for_connection(10)
        # confirmed (so the agent forgets them) and dead-lettered, since nobody registered it
        wait_for(lambda: outbox.depth() == 0, 20, "the events confirmed")
        wait_for(lambda: len(cloud.log.dead_letters(100)) >= 30, 10, "30 dead letters")
        assert cloud.log.count() == 0
        listed = _taktline("cloud", "dead-letters", "--db", str(db), "list", "--kind", "identity")
        assert listed.returncode == 0 and "30 dead letter(s)" in listed.stderr, listed
        assert "not registered" in listed.stdout
        registry = tmp_path / "registry.json"
        registry.write_text(
            json.dumps(
                {
                    "agents": [
                        {
                            "agent": NEW,
                            "site": SITE,
                            "area": AREA,
                            "devices": [{"source": f"{NEW}-io", "station": "crimp-02"}],
                        }
                    ]
                }
            )
        )
        loaded = _taktline("cloud", "registry", "--db", str(db), "load", str(registry))
        assert loaded.returncode == 0, loaded.stderr
        replay = _taktline("cloud", "dead-letters", "--db", str(db), "replay", "--agent", NEW)
        assert replay.returncode == 0 and replay.stdout.startswith("30 dead letter(s)"), replay
        wait_for(lambda: cloud.log.count() == 30, 20, "every event in the log after the replay")
        keys = cloud.log.event_keys()
        assert len(set(keys)) == len(keys) == 30
        # a letter's outcome is marked just after its event is committed: wait for the last
        wait_for(
            lambda: all(d["replay_outcome"] for d in cloud.log.find_dead_letters()),
            10,
            "every replay's outcome recorded",
        )
        outcomes = [letter["replay_outcome"] for letter in cloud.log.find_dead_letters()]
        assert outcomes == ["1 committed, 0 duplicate, 0 dead-lettered again"] * 30
        # nothing left to replay: a second replay applies nothing twice
        again = _taktline("cloud", "dead-letters", "--db", str(db), "replay", "--agent", NEW)
        assert again.returncode == 1 and again.stdout.startswith("0 dead letter(s)")
        shown = _taktline("cloud", "dead-letters", "--db", str(db), "show", "1")
        assert json.loads(shown.stdout)["replayed_at"]


def test_events_the_broker_refused_are_sent_again(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    cloud = make_service(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"), [KNOWN])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, KNOWN)
    keys = [
        outbox.append(
            "machine.signal", {"signal": "cycle", "count": 1}, source=KNOWN, station="crimp-01"
        ).key
        for _ in range(10)
    ]
    ids = [row_id for row_id, _ in outbox.pending(0, 100)]
    assert outbox.dead_letter(ids, "broker refused the publish: Not authorized (135)") == 10
    outbox.close()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'agent = "{KNOWN}"\nsite = "{SITE}"\narea = "{AREA}"\nbroker = "{mosquitto.url}"\n'
        f'outbox = "{KNOWN}.outbox.db"\nhardware = "emulated"\n'
        '[[station]]\nid = "crimp-01"\ninputs = { run = 17 }\n'
    )
    resent = _taktline("agent", "--config", str(config), "resend-refused")
    assert resent.returncode == 0 and resent.stdout.startswith("10 refused event(s)"), resent
    outbox, uplink = make_agent(tmp_path, mosquitto.url, KNOWN)
    assert outbox.depth() == 10 and outbox.dead_letter_count == 0
    with cloud, uplink:
        wait_for(lambda: outbox.depth() == 0, 20, "the refused events sent and confirmed")
        assert sorted(cloud.log.event_keys()) == sorted(keys)
