"""One streaming agent for bench/faults_soak.py: `python bench/soak_agent.py OUT URL AGENT RATE ST`.

The real outbox and uplink; ST is the one station its registry entry gives it. Appends
`machine.signal` events at about RATE per second and prints `ACK instance seq` once each append
returned (the event is acknowledged to the device layer); an append refused (`OutboxFull`: a
full disk, a full outbox) is not acknowledged and is tried again. On a line `stop` on stdin it
stops appending, waits until the outbox has drained, prints `DRAINED` and exits.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.errors import OutboxFull
from agent.outbox import Outbox
from agent.uplink import Uplink
from contract import AgentPath
from taktline.mqtt import BrokerSettings

SITE, AREA = "plant1", "soak"


def main() -> int:
    path, url, agent, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    station = sys.argv[5]  # the one station the registry gives this agent
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    outbox = Outbox(path, agent=agent)
    broker = BrokerSettings.from_url(url, backoff_max_s=0.5)
    with Uplink(outbox, AgentPath(SITE, AREA, agent), broker, resend_after_s=2.0):
        while not stop.is_set():
            try:
                event = outbox.append(
                    "machine.signal", {"signal": "cycle", "count": 1}, source=agent,
                    station=station,
                )  # fmt: skip
            except OutboxFull:
                time.sleep(0.2)
                continue
            sys.stdout.write(f"ACK {event.instance} {event.seq}\n")
            sys.stdout.flush()
            time.sleep(1 / rate)
        while outbox.depth():
            time.sleep(0.05)
        print("DRAINED", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
