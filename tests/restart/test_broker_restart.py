"""A broker restart under streaming agents: nothing waits for the agents' 10 s resend timer.

Three agents (the real outbox and uplink) stream events while the broker is stopped cleanly, or
SIGKILLed, and started again on the same port with its persistence. The cloud's ingest holds a
persistent MQTT session (clean start off, session expiry), so the broker keeps its subscription
and queues what the agents send again right after they reconnect; the agents' resend counters
stay at 0 and the backlog drains in well under the resend timeout (printed).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import make_agent, make_cloud, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults]

AGENTS = ("pi-crimp-01", "pi-crimp-02", "pi-crimp-03")


@pytest.mark.parametrize("how", ["clean", "kill"])
def test_broker_restart_drains_without_the_resend_timer(
    tmp_path: Path, mosquitto: PrivateMosquitto, how: str
) -> None:
    log, ingest = make_cloud(tmp_path, mosquitto.url, list(AGENTS))
    agents = [make_agent(tmp_path, mosquitto.url, a, resend_after_s=10.0) for a in AGENTS]
    stop = threading.Event()
    appended = dict.fromkeys(AGENTS, 0)

    def stream(index: int) -> None:
        outbox, _ = agents[index]
        agent = AGENTS[index]
        while not stop.is_set():
            outbox.append(
                "machine.signal", {"signal": "cycle", "count": 1}, source=agent, station="crimp-01"
            )
            appended[agent] += 1
            time.sleep(0.005)

    with ingest:
        assert ingest.wait_for_connection(10)
        for _, uplink in agents:
            uplink.start()
        writers = [threading.Thread(target=stream, args=(i,)) for i in range(len(AGENTS))]
        try:
            for writer in writers:
                writer.start()
            wait_for(lambda: log.count() >= 300, 20, "events streaming into the log")
            time.sleep(1.2)  # past the broker's autosave interval: the cloud's session is saved
            if how == "clean":
                mosquitto.stop()
            else:
                mosquitto.kill()
            time.sleep(0.5)  # the agents keep appending while the broker is away
            mosquitto.restart()
            back = time.monotonic()
            time.sleep(1.0)
            stop.set()
            for writer in writers:
                writer.join(5)
            last = time.monotonic()
            wait_for(
                lambda: all(outbox.depth() == 0 for outbox, _ in agents),
                30,
                "every outbox drained",
            )
            drained, after_last = time.monotonic() - back, time.monotonic() - last
        finally:
            stop.set()
            for _, uplink in agents:
                uplink.stop()
    total = sum(appended.values())
    resends = {a: u.stats.resends for a, (_, u) in zip(AGENTS, agents, strict=True)}
    print(
        f"\nbroker {how} restart: {total} events; every outbox empty {drained:.2f} s after the"
        f" broker was back, {after_last:.2f} s after the last append"
    )
    assert resends == dict.fromkeys(AGENTS, 0), resends
    assert drained < 10, "the backlog waited for a resend timer"
    keys = log.event_keys()
    assert len(keys) == len(set(keys)) == total


def test_a_cloud_without_its_broker_session_asks_the_agents_to_send_again(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    """The broker lost the cloud's session (crashed before saving it): what agents sent while
    the cloud was away was dropped. The cloud notices (no session present) and asks; the
    agents send again at once, long before their 60 s resend timer."""
    log, ingest = make_cloud(tmp_path, mosquitto.url, list(AGENTS))
    agents = [make_agent(tmp_path, mosquitto.url, a, resend_after_s=60.0) for a in AGENTS]
    for _, uplink in agents:
        uplink.start()
    try:
        with ingest:
            assert ingest.wait_for_connection(10)
        # The cloud is away; the broker crashes and comes back without any saved session.
        mosquitto.kill()
        for saved in mosquitto.folder.glob("mosquitto.db*"):
            saved.unlink()
        mosquitto.restart()
        for outbox, uplink in agents:
            assert uplink.wait_for_connection(10)
            for n in range(20):
                outbox.append(
                    "machine.signal",
                    {"signal": "cycle", "count": n + 1},
                    source=uplink.path.agent,
                    station="crimp-01",
                )
        time.sleep(1.0)  # sent, and dropped: nobody subscribed to the agents' events
        assert log.count() == 0
        assert all(outbox.depth() == 20 for outbox, _ in agents)
        _, again = make_cloud(tmp_path, mosquitto.url, list(AGENTS))
        with again:
            assert again.wait_for_connection(10)
            started = time.monotonic()
            wait_for(lambda: all(o.depth() == 0 for o, _ in agents), 15, "every outbox drained")
            took = time.monotonic() - started
    finally:
        for _, uplink in agents:
            uplink.stop()
    print(f"\nno session kept: every outbox empty {took:.2f} s after the cloud subscribed")
    assert {u.path.agent: u.stats.resend_requests >= 1 for _, u in agents} == dict.fromkeys(
        AGENTS, True
    )
    assert {u.path.agent: u.stats.resends for _, u in agents} == dict.fromkeys(AGENTS, 0)
    assert log.count() == 3 * 20
