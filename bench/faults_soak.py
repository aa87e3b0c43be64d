"""Soak: random kills of agents, cloud and broker, database restarts and full disks, nothing lost.

Three agents (`bench/soak_agent.py`, the real outbox and uplink, each its own process) stream
events into `taktline cloud` (its own process) on a private Mosquitto with a private PostgreSQL,
the agents' outboxes on one small tmpfs (root only; without one the full disks are left out and
the summary says so). In a seeded random order, with a second or three between them: an agent
SIGKILLed and started again, the cloud SIGKILLed and started again, the broker SIGKILLed and
started again, PostgreSQL stopped and started, the agents' disk filled for a few seconds. Then
the agents stop appending and drain, and every event acknowledged to an agent (its append
returned) is looked for in the log: `lost` must be 0, `duplicated` (a key twice) 0, and
`stuck_workers` (parts of the cloud not ready at the end) 0.

    python bench/faults_soak.py [--quick | --smoke] [--seed N]

Full run: 300 agent kills, 100 cloud kills, 50 broker kills, 20 database restarts, 20 full disks
(about 25 minutes here). `--quick`: 12, 4, 3, 2, 2 (a few minutes, at most 10). `--smoke`: one of
each, the short run `make test` makes. The reference is the count of
acknowledged events: every one must be in the log once. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from cloud import schema  # noqa: E402
from taktline.private_broker import PrivateMosquitto, free_port  # noqa: E402
from taktline.private_postgres import PrivatePostgres  # noqa: E402

AGENTS = ("pi-soak-01", "pi-soak-02", "pi-soak-03")
FULL = {"agent_kill": 300, "cloud_kill": 100, "broker_kill": 50, "db_restart": 20, "disk_full": 20}


def station_of(agent: str) -> str:
    """The one station a soak agent serves (`pi-soak-01` -> `soak-01`), as its registry says."""
    return agent.removeprefix("pi-")


QUICK = {"agent_kill": 12, "cloud_kill": 4, "broker_kill": 3, "db_restart": 2, "disk_full": 2}
#: One of each: the short run `make test` makes (tests/ops/test_soak_smoke.py).
SMOKE = dict.fromkeys(FULL, 1)


class Writer:
    """One soak agent process; collects the keys it acknowledged."""

    def __init__(self, folder: Path, url: str, agent: str) -> None:
        self.folder, self.url, self.agent = folder, url, agent
        self.acked: set[tuple[str, int]] = set()
        self.drained = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        """Starts (again) the agent process on the same outbox."""
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "soak_agent.py"),
             str(self.folder / f"{self.agent}.db"), self.url, self.agent, "50",
             station_of(self.agent)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "ACK":
                self.acked.add((words[1], int(words[2])))
            elif words == ["DRAINED"]:
                self.drained.set()

    def kill(self) -> None:
        """SIGKILLs the agent process."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        """Asks the agent to stop appending and drain."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()


class Cloud:
    """`taktline cloud` as its own process."""

    def __init__(self, folder: Path, broker: str, database: str) -> None:
        self.port = free_port()
        self.args = [
            sys.executable, "-m", "taktline.cli", "cloud", "--broker", broker, "--db", database,
            "--registry", str(folder / "registry.json"), "--web", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        self.log = (folder / "cloud.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Starts (again) the cloud process."""
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILLs the cloud process."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def ready(self) -> tuple[int, dict[str, Any]]:
        """The cloud's /readyz: status code and report (0 when it does not answer)."""
        try:
            url = f"http://127.0.0.1:{self.port}/readyz"
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except (OSError, ValueError):
            return 0, {}

    def stop(self) -> None:
        """Stops the cloud cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def _wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 64, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def soak(plan: dict[str, int], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    faults = [name for name, count in plan.items() for _ in range(count)]
    rng.shuffle(faults)
    folder = Path(tempfile.mkdtemp(prefix="taktline-soak-"))
    disk = folder / "disk"
    disk.mkdir()
    tmpfs = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    if not tmpfs:
        faults = [f for f in faults if f != "disk_full"]
    # Each agent serves one station (its own events name it), registered as the cloud requires.
    agents = [
        {"agent": a, "site": "plant1", "area": "soak",
         "devices": [{"source": f"{a}-reader", "station": station_of(a)}]}
        for a in AGENTS
    ]  # fmt: skip
    (folder / "registry.json").write_text(json.dumps({"agents": agents}))
    done: dict[str, int] = dict.fromkeys(plan, 0)
    started = time.monotonic()
    with PrivateMosquitto() as broker, PrivatePostgres() as postgres:
        cloud = Cloud(folder, broker.url, postgres.url)
        _wait(lambda: cloud.ready()[0] == 200, 60)
        writers = [Writer(disk, broker.url, a) for a in AGENTS]
        try:
            for n, fault in enumerate(faults, start=1):
                time.sleep(rng.uniform(1.0, 3.0))
                if fault == "agent_kill":
                    writer = rng.choice(writers)
                    writer.kill()
                    writer.start()
                elif fault == "cloud_kill":
                    cloud.kill()
                    cloud.start()
                elif fault == "broker_kill":
                    broker.kill()
                    time.sleep(0.5)
                    broker.restart()
                elif fault == "db_restart":
                    postgres.stop()
                    time.sleep(1.0)
                    postgres.start()
                elif fault == "disk_full":
                    filler = _fill(disk)
                    time.sleep(rng.uniform(2.0, 4.0))
                    filler.unlink()
                done[fault] += 1
                print(f"{n}/{len(faults)} {fault}", flush=True)
            for writer in writers:
                writer.stop()
            drained = all(w.drained.wait(180) for w in writers)
            ready = _wait(lambda: cloud.ready()[0] == 200, 60)
            _, report = cloud.ready()
            stuck = [name for name, part in report.get("parts", {}).items() if not part["ready"]]
            engine = sa.create_engine(postgres.url)
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(schema.events.c.instance, schema.events.c.seq).where(
                        schema.events.c.agent.in_(AGENTS)
                    )
                ).all()
                dead = conn.execute(
                    sa.select(sa.func.count()).select_from(schema.dead_letters)
                ).scalar_one()
            engine.dispose()
        finally:
            for writer in writers:
                if writer.process is not None and writer.process.poll() is None:
                    writer.kill()
            cloud.stop()
            if tmpfs:
                subprocess.run(["umount", "-l", str(disk)], capture_output=True)
            shutil.rmtree(folder, ignore_errors=True)
    keys = [(str(r[0]), int(r[1])) for r in rows]
    logged = set(keys)
    acked = set().union(*(w.acked for w in writers))
    return {
        "acknowledged": len(acked),
        "logged": len(logged),
        "lost": len(acked - logged),
        "duplicated": len(keys) - len(logged),
        "dead_letters": int(dead),
        "stuck_workers": len(stuck) + (0 if ready else 1),
        "drained": drained,
        "faults": done,
        "full_disks_on_tmpfs": tmpfs,
        "seconds": round(time.monotonic() - started, 1),
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few of each fault (minutes)")
    parser.add_argument("--smoke", action="store_true", help="one of each fault (under a minute)")
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    result = soak(SMOKE if args.smoke else QUICK if args.quick else FULL, args.seed)
    print(
        f"{result['acknowledged']:,} events acknowledged to the agents, {result['logged']:,} in "
        f"the log: lost {result['lost']}, duplicated {result['duplicated']}, dead letters "
        f"{result['dead_letters']}, stuck workers "
        f"{result['stuck_workers']} after {sum(result['faults'].values())} faults "
        f"in {result['seconds']:.0f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
