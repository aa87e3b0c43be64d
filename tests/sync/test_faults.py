"""Nothing lost, nothing applied twice: agent kill -9, broker kill -9, a recreated outbox."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import make_agent, make_cloud, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]
AGENT = "pi-crimp-01"


def _start_writer(outbox: Path, url: str, until: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync.agent_writer", str(outbox), url, AGENT, str(until)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_agent_killed_five_times(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    total = 10_000
    rng = random.Random(20261123)
    kill_after = sorted(rng.sample(range(200, total - 200), 5))
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    returned: set[int] = set()
    instances: set[str] = set()
    outbox = tmp_path / "agent.outbox.db"
    with ingest:
        for moment in [*kill_after, None]:
            writer = _start_writer(outbox, mosquitto.url, total)
            assert writer.stdout is not None
            for line in writer.stdout:
                word = line.strip()
                if word.startswith("INSTANCE"):
                    instances.add(word.split()[1])
                elif word == "DRAINED":
                    break
                else:
                    returned.add(int(word))
                    if moment is not None and len(returned) >= moment:
                        writer.send_signal(signal.SIGKILL)
                        break
            if moment is None:
                writer.send_signal(signal.SIGTERM)
            writer.wait(10)
            writer.stdout.close()
        wait_for(lambda: log.count() >= total, 30, "every event in the cloud's log")
    (instance,) = instances  # the same outbox, reopened: never a new instance
    keys = log.event_keys()
    assert len(keys) == len(set(keys)), "an event was applied twice"
    seqs = {seq for inst, seq in keys if inst == instance}
    assert returned <= seqs, f"lost: {sorted(returned - seqs)[:10]}"
    assert seqs == set(range(1, total + 1))


def test_broker_killed_mid_stream(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    total = 3_000
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    outbox, uplink = make_agent(tmp_path, mosquitto.url, AGENT, resend_after_s=1.0)

    def produce() -> None:
        for _ in range(total):
            outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source=AGENT)
            time.sleep(0.0005)

    with ingest, uplink:
        assert ingest.wait_for_connection(30)  # subscribed before anything is sent
        producer = threading.Thread(target=produce)
        producer.start()
        wait_for(lambda: log.count() > 300, 20, "the stream to flow")
        mosquitto.kill()
        time.sleep(0.5)
        mosquitto.restart()
        time.sleep(0.5)
        mosquitto.kill()
        mosquitto.restart()
        producer.join()
        wait_for(lambda: log.count() >= total, 60, "every event after broker crashes")
        assert uplink.wait_until_drained(30)
    keys = log.event_keys()
    assert len(keys) == len(set(keys)) == total
    assert {seq for _, seq in keys} == set(range(1, total + 1))


def test_recreated_outbox_is_a_new_instance(tmp_path: Path, mosquitto: PrivateMosquitto) -> None:
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    with ingest:
        first_instance = ""
        for _round in range(2):
            outbox, uplink = make_agent(tmp_path, mosquitto.url, AGENT)
            first_instance = first_instance or outbox.instance
            with uplink:
                for _ in range(50):
                    outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source=AGENT)
                assert uplink.wait_until_drained(20)
            outbox.close()
            # A re-imaged SD card: the outbox file is gone; the new one starts at seq 1 again.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{outbox.path}{suffix}").unlink(missing_ok=True)
        wait_for(lambda: log.count() == 100, 10, "both instances' events")
    instances = {inst for inst, _ in log.event_keys()}
    assert len(instances) == 2 and first_instance in instances
    assert ingest.stats.duplicates == 0
