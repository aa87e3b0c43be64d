"""An agent process for the kill -9 test: appends events and prints each seq once append returned.

Usage: python -m tests.sync.agent_writer OUTBOX BROKER_URL AGENT UNTIL_SEQ
It runs the real outbox and uplink; after `UNTIL_SEQ` it keeps the uplink running until the
outbox drains, then prints DRAINED and waits to be stopped.
"""

from __future__ import annotations

import sys
import time

from agent.outbox import Outbox
from agent.uplink import Uplink
from contract import AgentPath
from taktline.mqtt import BrokerSettings

SITE, AREA = "plant1", "harness"


def main() -> int:
    path, url, agent, until = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    outbox = Outbox(path, agent=agent)
    print(f"INSTANCE {outbox.instance}", flush=True)
    broker = BrokerSettings.from_url(url, backoff_max_s=0.5)
    with Uplink(outbox, AgentPath(SITE, AREA, agent), broker, resend_after_s=2.0):
        while outbox.next_seq <= until:
            event = outbox.append(
                "machine.signal", {"signal": "cycle", "count": 1}, source=agent, station="crimp-01"
            )
            sys.stdout.write(f"{event.seq}\n")
            sys.stdout.flush()
        while outbox.depth():
            time.sleep(0.05)
        print("DRAINED", flush=True)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main())
