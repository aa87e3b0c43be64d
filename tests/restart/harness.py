"""Real processes for the restart tests: a cloud (`taktline cloud`), station agents, a plant.

A three-crimper plant (always open, 1-minute slots), nine orders, a registry of three station
agents, and helpers that start the cloud as its own process (so it can be SIGKILLed), start each
station agent as its own process (`tests.restart.station_process`), call the REST API and read
the retained schedules (the cloud's record) from the broker.
"""

from __future__ import annotations

import hashlib
import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import StationSchedule, station_schedule_topic
from taktline.clock import utc_iso
from taktline.private_broker import free_port
from tests.web.auth import Grants

ROOT = Path(__file__).resolve().parents[2]
SITE, AREA = "plant1", "harness"
STATIONS = ("crimp-01", "crimp-02", "crimp-03")
TICKET = "0A020001"  # the job ticket of O-0's crimp step
APP_1, APP_2 = "E0020001", "E0020002"  # two applicators, 5 cycles between services


def stamp(moment: datetime) -> str:
    return utc_iso(moment)[:19] + "Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def write_plant(folder: Path) -> Path:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {"id": "crimp", "per_unit_min": 1, "holds": [{"group": "crimpers"}]}
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [always],
        "resources": [{"id": s, "kind": "machine", "calendar": "always"} for s in STATIONS] + [
            {"id": "APP-1", "kind": "tool", "calendar": "always", "tag": APP_1,
             "service_cycles": 5},
            {"id": "APP-2", "kind": "tool", "calendar": "always", "tag": APP_2,
             "service_cycles": 5},
        ],
        "groups": [{"id": "crimpers", "kind": "machine", "members": list(STATIONS)},
                   {"id": "applicator-2", "kind": "tool", "members": ["APP-2"]}],
        "products": [{"id": "P", "steps": [step]},
                     {"id": "T", "steps": [{"id": "crimp", "per_unit_min": 1, "holds": [
                         {"group": "crimpers"}, {"group": "applicator-2"}]}]}],
        "tooling": {"transfers": [{"from": "crib", "to": s, "minutes": 5} for s in STATIONS]},
        "tags": [{"tag": TICKET, "kind": "ticket", "ref": "O-0", "step": "crimp",
                  "product": "P", "quantity": 30}],
    }  # fmt: skip
    path = folder / "plant.json"
    path.write_text(json.dumps(plant))
    return path


def write_orders(folder: Path, now: datetime) -> Path:
    orders = [
        {"id": f"O-{n}", "product": "P", "quantity": 30,
         "due": stamp(now + timedelta(minutes=40 + 12 * n))}
        for n in range(9)
    ]  # fmt: skip
    # O-T needs applicator 2, which the test wears past its service limit.
    orders.append({"id": "O-T", "product": "T", "quantity": 5,
                   "due": stamp(now + timedelta(hours=4))})  # fmt: skip
    path = folder / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    return path


def write_registry(folder: Path) -> Path:
    agents = [
        {"agent": f"pi-{s}", "site": SITE, "area": AREA, "devices": [
            {"source": f"{s}-io", "station": s}, {"source": f"{s}-rfid", "station": s}]}
        for s in STATIONS
    ]  # fmt: skip
    path = folder / "registry.json"
    path.write_text(json.dumps({"agents": agents}))
    return path


def station_config(folder: Path, station: str, broker: str) -> Path:
    config = {
        "agent": f"pi-{station}", "site": SITE, "area": AREA, "broker": broker,
        "outbox": str(folder / f"{station}.outbox.db"), "role": "station",
        "hardware": "emulated", "heartbeat_s": 1,
        "station": [{
            "id": station, "inputs": {"run": 17, "cycle": 22}, "stop_buttons": {"breakdown": 6},
            "stack_light": {"green": 16, "amber": 20, "red": 21},
            "reader": [{"name": f"{station}-rfid", "device": 0, "reset_pin": 25,
                        "reads": ["ticket"]}],
        }],
    }  # fmt: skip
    path = folder / f"{station}.json"
    path.write_text(json.dumps(config))
    return path


class CloudProcess:
    """`taktline cloud` as its own process; `kill()` is kill -9."""

    def __init__(self, folder: Path, broker: str, database: str) -> None:
        self.folder = folder
        self.database = database
        self.port = free_port()
        self.drop = folder / "drop"
        self.drop.mkdir(exist_ok=True)
        self.args = [
            sys.executable, "-m", "taktline.cli", "cloud", "--broker", broker,
            "--db", database, "--site", SITE, "--registry", str(folder / "registry.json"),
            "--web", f"127.0.0.1:{self.port}", "--plant", str(folder / "plant.json"),
            "--orders", str(folder / "orders.json"), "--order-drop", str(self.drop),
            "--frozen-minutes", "0", "--public-read",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.grants: Grants | None = None

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"cloud-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return "\n".join(
            (self.folder / f"cloud-{n}.log").read_text(errors="replace")[-3000:]
            for n in range(1, self.starts + 1)
        )

    def call(
        self, method: str, path: str, body: Any = None, user: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method.upper()
        )
        request.add_header("Content-Type", "application/json")
        if user is not None:  # acts as `user` by an API token (tests/web/auth.py)
            if self.grants is None:
                self.grants = Grants(self.database)
            request.add_header("Authorization", self.grants.bearer(user)["Authorization"])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def up(self) -> bool:
        return self.call("get", "/api/plan/state")[0] == 200


class StationProcess:
    """One station agent process; its lines (HOLD, STATS, DONE) are read on a thread."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.restart.station_process", str(config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.held: dict[str, tuple[int, str]] = {}
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            if words and words[0] == "HOLD":
                self.held[words[1]] = (int(words[2]), words[3])
            else:
                self.lines.put(line.strip())

    def send(self, command: str, timeout: float = 20) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        word = command.split()[0]
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith("STATS ") and word == "stats":
                return line[6:]
            if line == f"DONE {word}" and word != "stats":
                return line
        raise AssertionError(f"no answer to {command!r} in {timeout} s")

    def stats(self) -> dict[str, Any]:
        return dict(json.loads(self.send("stats")))

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.lines.get(timeout=0.1) == "READY":
                    return
            except queue.Empty:
                continue
        raise AssertionError("the station process did not start")

    def quit(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Retained:
    """The retained station schedules on the broker: what the cloud says each station holds."""

    def __init__(self, port: int, stations: tuple[str, ...] | list[str] = STATIONS) -> None:
        self.latest: dict[str, StationSchedule] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(station_schedule_topic(SITE, s), 1) for s in stations]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        schedule = StationSchedule.decode(bytes(message.payload))
        with self.lock:
            self.latest[schedule.station] = schedule

    def record(self, station: str) -> tuple[int, str] | None:
        with self.lock:
            found = self.latest.get(station)
        if found is None:
            return None
        jobs = [(j.order, j.step, j.start, j.end) for j in found.jobs]
        return found.version, hashlib.sha256(json.dumps(jobs).encode()).hexdigest()[:16]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
