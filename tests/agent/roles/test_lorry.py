"""The lorry unit: positions from gpsd (real gpsd via gpsfake, and the emulator on a fake clock),
fix states and alarms, package reads against the manifest, and a dead zone over a real broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.roles.lorry import LorryConfig, LorryUnit, SamplingRule, distance_m, parse_lorry
from agent.runtime import Agent
from hardware.factory import EmulatedHardware
from hardware.gpsd_emu import GpsdEmulator
from hardware.mfrc522_chip import MFRC522Chip, Tag
from hardware.nmea.make_logs import LOGS, PLANT, SUPPLIER, route, with_fix_loss
from taktline.clock import FakeClock, SystemClock
from taktline.private_broker import PrivateMosquitto, free_port
from tests.agent.gpsd_fixture import GpsFake, gpsfake  # noqa: F401 - the fixture
from tests.agent.roles.conftest import events, run_for

LORRY = "lorry-01"
MANIFEST = {
    "supplier": "acme-cables",
    "deliveries": [
        {
            "delivery": "D-1001",
            "lines": [
                {"tag": "04A1B2C3", "material": "CAB-2.5-RED", "order": "PO-7781", "quantity": 500},
                {"tag": "04A1B2C4", "material": "TERM-F-63", "order": "PO-7782", "quantity": 2000},
            ],
        },
        {
            "delivery": "D-1002",
            "lines": [
                {"tag": "04D5E6F7A8B9C0", "material": "SEAL-7", "order": "PO-7790", "quantity": 1.5}
            ],
        },
    ],
}


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def fast(**changes: Any) -> dict[str, Any]:
    """A [lorry] section with the defaults of a real lorry, changed by `changes`."""
    return {"id": LORRY, **changes}


def payloads(agent: Agent, kind: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in events(agent, kind)]


def alarms(agent: Agent) -> list[tuple[str, str]]:
    return [(p["alarm"], p["detail"]) for p in payloads(agent, "agent.alarm")]


def start_emu(clock: FakeClock, name: str = "drive.nmea", **kw: Any) -> GpsdEmulator:
    return GpsdEmulator(kw.pop("epochs", None) or LOGS[name], clock=clock, **kw).start()


@pytest.fixture
def emu(clock: FakeClock, hw: EmulatedHardware) -> Iterator[GpsdEmulator]:
    emulator = start_emu(clock)
    hw.gpsd = emulator.address
    yield emulator
    emulator.close()


# ----- the sampling rule, with the emulator on a fake clock ---------------------------------


def test_positions_at_the_interval_and_on_significant_change(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    config = parse_lorry(fast(), "agent.toml", tmp_path)
    assert config.rule == SamplingRule(30.0, 100.0, 30.0, 5.0, 2.0) and config.reader is None
    drive_s = len(LOGS["drive.nmea"])
    with LorryUnit(agent, config, hw) as lorry:
        run_for(lorry, clock, drive_s + 95, every=0.25)  # the drive, then parked at the plant
        reasons = dict(lorry.reasons)
    fixes = payloads(agent, "gps.fix")
    assert [f["fix"] for f in fixes] == ["3d"]
    positions = events(agent, "gps.position")
    first, last = positions[0]["payload"], positions[-1]["payload"]
    assert distance_m((first["lat"], first["lon"]), SUPPLIER) < 1
    assert distance_m((last["lat"], last["lon"]), PLANT) < 1 and last["speed_mps"] == 0
    assert last["heading_deg"] is None  # standing still: no course
    assert reasons.keys() >= {"first", "distance", "speed", "heading", "interval"}, reasons
    # Parked 95 s at the plant: one position every 30 s, nothing else.
    parked = [
        p for p in positions if distance_m((p["payload"]["lat"], p["payload"]["lon"]), PLANT) < 1
    ]
    assert 3 <= len(parked) <= 5
    # Bounded: ~700 m at most one per 100 m, per turn or speed step, and per 30 s.
    assert 10 <= len(positions) <= 30, len(positions)
    assert not alarms(agent)


def test_no_fix_is_an_explicit_state_with_lost_and_restored_alarms(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    with start_emu(clock, "fix-loss.nmea") as emu:
        hw.gpsd = emu.address
        config = parse_lorry(fast(fix_hold_s=3), "agent.toml", tmp_path)
        with LorryUnit(agent, config, hw) as lorry:
            run_for(lorry, clock, 29.5, every=0.25)
            assert lorry.fix == "3d"
            before = len(payloads(agent, "gps.position"))
            run_for(lorry, clock, 15, every=0.25)  # under the bridge
            assert lorry.fix == "none" and len(payloads(agent, "gps.position")) == before
            run_for(lorry, clock, 10, every=0.25)
    kinds = [e["type"] for e in events(agent, "gps.fix", "agent.alarm")]
    assert kinds == ["gps.fix", "gps.fix", "agent.alarm", "gps.fix", "agent.alarm"]
    fixes = payloads(agent, "gps.fix")
    assert [f["fix"] for f in fixes] == ["3d", "none", "3d"]
    assert "no fix" in fixes[1]["detail"]
    assert [a for a, _ in alarms(agent)] == ["gps_lost", "gps_restored"]
    # The first position after the bridge is recorded at once, heading east.
    after = events(agent, "gps.position")[before:]
    assert after and after[0]["payload"]["heading_deg"] == 90.0


def test_a_flicker_shorter_than_fix_hold_is_not_a_change(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    with start_emu(clock, epochs=with_fix_loss(route(), first=20, count=1)) as emu:
        hw.gpsd = emu.address
        with LorryUnit(agent, parse_lorry(fast(), "agent.toml", tmp_path), hw) as lorry:
            run_for(lorry, clock, 40, every=0.25)
    assert [f["fix"] for f in payloads(agent, "gps.fix")] == ["3d"] and not alarms(agent)


def test_gpsd_unreachable_then_back_on_the_emulator(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    port = free_port()
    hw.gpsd = ("127.0.0.1", port)
    config = parse_lorry(fast(gps_retry_max_s=4), "agent.toml", tmp_path)
    with LorryUnit(agent, config, hw) as lorry:
        run_for(lorry, clock, 5, every=0.25)
        assert lorry.fix == "none"
        with start_emu(clock, port=port):
            run_for(lorry, clock, 10, every=0.25)
            assert lorry.fix == "3d"
    (lost, restored) = alarms(agent)
    assert lost[0] == "gps_lost" and f"gpsd at 127.0.0.1:{port} unreachable" in lost[1]
    assert "is gpsd running?" in lost[1]
    assert restored[0] == "gps_restored"
    assert [f["fix"] for f in payloads(agent, "gps.fix")] == ["none", "3d"]
    assert payloads(agent, "gps.position")


# ----- packages ----------------------------------------------------------------------------


def write_manifest(folder: Path, kind: str) -> Path:
    if kind == "json":
        path = folder / "manifest.json"
        path.write_text(json.dumps(MANIFEST))
        return path
    path = folder / "manifest.csv"
    rows = ["delivery,tag,material,order,quantity"]
    for delivery in MANIFEST["deliveries"]:
        for line in delivery["lines"]:
            rows.append(
                f"{delivery['delivery']},{line['tag']},{line['material']},"
                f"{line['order']},{line['quantity']}"
            )
    path.write_text("\n".join(rows) + "\n")
    return path


def tap(chip: MFRC522Chip, lorry: LorryUnit, clock: FakeClock, uid: str) -> None:
    tag = chip.add_tag(Tag(bytes.fromhex(uid)))
    run_for(lorry, clock, 1.0)
    chip.remove_tag(tag)
    run_for(lorry, clock, 1.0)


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_packages_at_loading_and_unloading_matched_to_the_manifest(
    kind: str,
    tmp_path: Path,
    agent: Agent,
    hw: EmulatedHardware,
    clock: FakeClock,
    emu: GpsdEmulator,
) -> None:
    manifest = write_manifest(tmp_path, kind)
    section = fast(manifest=manifest.name, reader={"device": 0, "reset_pin": 25}, stage_pin=17)
    config = parse_lorry(section, "agent.toml", tmp_path)
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    switch = hw.pin_factory().pin(17)
    with LorryUnit(agent, config, hw) as lorry:
        assert lorry.stage == "load"  # switch open (pulled up): LOAD
        tap(chip, lorry, clock, "04A1B2C3")
        tap(chip, lorry, clock, "04D5E6F7A8B9C0")  # a 7-byte UID
        tap(chip, lorry, clock, "DEADBEEF")  # not in the manifest
        switch.drive_low()  # the driver turns the switch to UNLOAD at the plant
        run_for(lorry, clock, 0.2)
        assert lorry.stage == "unload"
        tap(chip, lorry, clock, "04A1B2C3")
    reads = events(agent, "package.read")
    assert {e["source"] for e in reads} == {f"{LORRY}-packages"}
    assert [
        (r["payload"]["tag"], r["payload"]["stage"], r["payload"]["delivery"]) for r in reads
    ] == [
        ("04A1B2C3", "load", "D-1001"),
        ("04D5E6F7A8B9C0", "load", "D-1002"),
        ("DEADBEEF", "load", None),
        ("04A1B2C3", "unload", "D-1001"),
    ]
    assert reads[0]["payload"]["manifest"] == {
        "material": "CAB-2.5-RED",
        "order": "PO-7781",
        "quantity": 500,
    }
    assert reads[1]["payload"]["manifest"]["quantity"] == 1.5
    assert reads[2]["payload"]["manifest"] is None
    ((alarm, detail),) = alarms(agent)
    assert alarm == "unknown_tag"
    assert "DEADBEEF" in detail and "not in the manifest" in detail and "load" in detail


def test_a_fixed_stage_and_a_manifest_edited_on_the_way(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    manifest = write_manifest(tmp_path, "json")
    section = fast(manifest=str(manifest), reader={"device": 1, "reset_pin": 24}, stage="unload")
    chip = hw.add_mfrc522(0, 1, reset_pin=24)
    with LorryUnit(agent, parse_lorry(section, "agent.toml", tmp_path), hw) as lorry:
        assert lorry.stage_switch is None
        tap(chip, lorry, clock, "0A0B0C0D")
        extra = json.loads(manifest.read_text())
        extra["deliveries"][0]["lines"].append(
            {"tag": "0A0B0C0D", "material": "CAB-1", "order": "PO-1", "quantity": 3}
        )
        manifest.write_text(json.dumps(extra))
        import os

        os.utime(manifest, (time.time() + 5, time.time() + 5))
        tap(chip, lorry, clock, "0A0B0C0D")
        manifest.write_text("{broken")  # a bad edit: the last good manifest stays in use
        os.utime(manifest, (time.time() + 10, time.time() + 10))
        tap(chip, lorry, clock, "0A0B0C0D")
    reads = [(p["stage"], p["delivery"]) for p in payloads(agent, "package.read")]
    assert reads == [("unload", None), ("unload", "D-1001"), ("unload", "D-1001")]


# ----- config --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({}, r"\[lorry\] is missing; add \[lorry\] with id"),
        ({"id": "lorry 1"}, "id 'lorry 1' does not match"),
        (fast(intervall_s=5), r"unknown keys \['intervall_s'\]"),
        (fast(interval_s=0), "interval_s must be a positive number"),
        (fast(min_gap_s=60), "make min_gap_s the shorter"),
        (fast(stage="dock"), "stage must be one of"),
        (fast(reader={"device": 0}), "a reader needs the supplier's manifest; add manifest ="),
        (fast(manifest="nowhere.json"), "cannot read manifest"),
        (
            fast(manifest="m.json", reader={"reset_pin": 17}),
            "reset_pin and stage_pin both use GPIO17; give each its own",
        ),
        (fast(stage_pin=9), "stage_pin must be an integer|not a free BCM pin"),
        (fast(gpsd="localhost"), r"gpsd: 'localhost' is not host:port .* default is 127"),
        (fast(gpsd="gps:99999"), "is not host:port"),
        (fast(gpsd=2947), "is not host:port"),
        (fast(gps_time_bound_s=-1), "gps_time_bound_s must be a positive number"),
    ],
)
def test_bad_lorry_sections_name_the_key_and_the_fix(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    write_manifest(tmp_path, "json").rename(tmp_path / "m.json")
    with pytest.raises(ConfigError, match=message):
        parse_lorry(section, "agent.toml", tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"deliveries": [{"delivery": "D 1", "lines": []}]}', "delivery 'D 1' is not an id"),
        (
            '{"deliveries": [{"delivery": "D1", "lines": [{"tag": "04a1b2c3", "material": "M",'
            ' "order": "O", "quantity": 1}]}]}',
            "upper-case hex",
        ),
        (
            '{"deliveries": [{"delivery": "D1", "lines": [{"tag": "04A1B2C3", "material": "M",'
            ' "order": "O"}]}]}',
            "missing quantity",
        ),
        (
            '{"deliveries": [{"delivery": "D1", "lines": [{"tag": "04A1B2C3", "material": "M",'
            ' "order": "O", "quantity": 0}]}]}',
            r"quantity 0 must be a number in \(0, 1e9\]",
        ),
        (
            json.dumps(
                {
                    "deliveries": [
                        {"delivery": "D1", "lines": [MANIFEST["deliveries"][0]["lines"][0]]},  # type: ignore[index]
                        {"delivery": "D2", "lines": [MANIFEST["deliveries"][0]["lines"][0]]},  # type: ignore[index]
                    ]
                }
            ),
            "listed again .first in delivery D1",
        ),
        ("[1, 2]", '"deliveries"'),
    ],
)
def test_bad_manifests_are_refused_at_start(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(ConfigError, match=message):
        parse_lorry(fast(manifest="m.json"), "agent.toml", tmp_path)


def test_manifest_schema_accepts_the_example_and_matches_the_loader(tmp_path: Path) -> None:
    import jsonschema

    root = Path(__file__).resolve().parents[3]
    schema = json.loads((root / "docs/schemas/manifest.schema.json").read_text())
    example = root / "hardware/examples/manifest-lorry-01.json"
    jsonschema.validate(json.loads(example.read_text()), schema)
    jsonschema.validate(MANIFEST, schema)
    from agent.roles.manifest import load_manifest

    assert len(load_manifest(example)) >= 3


# ----- real gpsd, fed by gpsfake -------------------------------------------------------------


@pytest.mark.slow
def test_lorry_on_real_gpsd_through_fix_loss_and_gpsd_outages(
    tmp_path: Path,
    agent: Agent,
    gpsfake: Callable[..., GpsFake],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    section = fast(
        gps_poll_s=0.05, fix_hold_s=0.5, gps_retry_max_s=0.5, min_gap_s=0.2, interval_s=1
    )
    section["gps_time_bound_s"] = 1e9  # the log's date is not today's: keep its times here
    config = parse_lorry(section, "agent.toml", tmp_path)
    with EmulatedHardware(SystemClock()) as hardware:
        hardware.gpsd = ("127.0.0.1", port)
        with LorryUnit(agent, config, hardware) as lorry:
            lorry.start()
            wait_for(lambda: lorry.fix == "none", 5, "gpsd unreachable: no fix")
            fake = gpsfake("fix-loss.nmea", port=port)
            fake.wait_end()  # gpsfake replays the drive, then ends and takes gpsd with it
            wait_for(lambda: lorry.fix == "none", 5, "gpsd gone at the end")
            assert lorry.polls > 100 and not lorry.is_stopped
    assert not [r for r in caplog.records if "poll failed" in r.getMessage()]
    fixes = [f["fix"] for f in payloads(agent, "gps.fix")]
    positions = payloads(agent, "gps.position")
    # unreachable, fix, bridge, fix, gpsd gone (a "2d" step may follow a gained fix)
    core = [f for f in fixes if f != "2d"]
    assert core[:4] == ["none", "3d", "none", "3d"] and core[-1] == "none", fixes
    kinds = [a for a, _ in alarms(agent)]
    assert kinds[:4] == ["gps_lost", "gps_restored", "gps_lost", "gps_restored"], kinds
    assert kinds[-1] == "gps_lost" and kinds.count("gps_lost") == kinds.count("gps_restored") + 1
    first_detail = alarms(agent)[0][1]
    assert f"127.0.0.1:{port}" in first_detail and "refused" in first_detail
    assert len(positions) >= 10
    assert any(p["heading_deg"] == 90.0 for p in positions)
    assert all(
        p["gps_time"] is None
        or p["gps_time"][11:19] < "09:30:30"
        or p["gps_time"][11:19] >= "09:30:45"
        for p in positions
    )


@pytest.mark.slow
@pytest.mark.mqtt
def test_dead_zone_events_reach_the_cloud_exactly_once(
    tmp_path: Path, mosquitto: PrivateMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.sync.harness import make_cloud  # the cloud side, as the sync tests build it

    log, ingest = make_cloud(tmp_path, mosquitto.url, ["pi-lorry-01"])
    log.register_device(f"{LORRY}-gps", "pi-lorry-01")
    config = AgentConfig(
        agent="pi-lorry-01",
        site="plant1",
        area="harness",
        broker=mosquitto.url,
        outbox=tmp_path / "lorry.outbox.db",
        role="lorry",
        resend_after_s=1.0,
        heartbeat_s=3600,  # one heartbeat (at start): the total is fixed once the role stops
    )
    section = fast(gps_poll_s=0.05, fix_hold_s=0.3, min_gap_s=0.1, interval_s=0.5)
    lorry_config: LorryConfig = parse_lorry(section, "agent.toml", tmp_path)
    with ingest, Agent(config) as agent, EmulatedHardware(SystemClock()) as hardware:
        emu = GpsdEmulator(LOGS["fix-loss.nmea"], epoch_s=0.05, shuttle=True).start()
        hardware.gpsd = emu.address
        with LorryUnit(agent, lorry_config, hardware) as lorry:
            lorry.start()
            wait_for(lambda: log.count() >= 3, 20, "the first positions in the cloud")
            mosquitto.stop()  # the dead zone
            in_cloud = log.count()
            appended = agent.outbox.next_seq
            wait_for(lambda: agent.outbox.next_seq > appended + 40, 30, "positions buffered")
            assert log.count() == in_cloud and agent.outbox.depth() >= 40
            mosquitto.restart()
            time.sleep(1.0)
        emu.close()
        total = agent.outbox.next_seq - 1
        wait_for(lambda: log.count() >= total, 60, "every buffered event in the cloud")
        assert agent.uplink.wait_until_drained(30)
    keys = log.event_keys()
    assert len(keys) == len(set(keys)) == total, "an event lost or applied twice"
    assert {seq for _, seq in keys} == set(range(1, total + 1))
    assert ingest.stats.duplicates >= 0 and not log.dead_letters()
    kinds = {event["type"] for _, event, _ in log.replay()}
    assert {"gps.position", "gps.fix", "agent.heartbeat"} <= kinds
    assert not [r for r in caplog.records if "poll failed" in r.getMessage()]


def test_the_example_config_loads_and_runs_on_emulated_hardware(
    tmp_path: Path, clock: FakeClock
) -> None:
    from dataclasses import replace

    from agent.config import load_config
    from agent.runtime import start_role
    from tests.example_configs import example_copy

    config = load_config(example_copy("agent-lorry-01.toml", tmp_path / "config"))
    lorry_config = config.role_config
    assert config.role == "lorry" and isinstance(lorry_config, LorryConfig)
    assert lorry_config.reader is not None and lorry_config.reader.name == "lorry-01-packages"
    assert lorry_config.manifest == tmp_path / "config" / "manifest-lorry-01.json"
    assert (lorry_config.stage, lorry_config.stage_pin, lorry_config.rule.interval_s) == (
        "switch",
        17,
        30.0,
    )
    agent = Agent(replace(config, outbox=tmp_path / "outbox.db"), clock=clock)  # not started
    try:
        with EmulatedHardware(clock) as hw, start_emu(clock) as emu:
            hw.gpsd = emu.address
            role = start_role(agent, hw)
            try:
                chip = hw.wiring.target(0, 0)
                assert isinstance(chip, MFRC522Chip)  # wired by the role on emulated hardware
                chip.add_tag(Tag(bytes.fromhex("04A1B2C4")))
                wait_for(lambda: len(events(agent, "package.read")) == 1, 10, "a package read")
                wait_for(lambda: len(events(agent, "gps.position")) == 1, 10, "a position")
            finally:
                role.stop()
        (read,) = payloads(agent, "package.read")
        assert read["delivery"] == "D-1001" and read["manifest"]["material"] == "TERM-F-63"
    finally:
        agent.outbox.close()


def test_a_failing_gps_poll_does_not_stop_the_package_reader(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    manifest = write_manifest(tmp_path, "json")
    section = fast(manifest=str(manifest), reader={"device": 0, "reset_pin": 25}, stage="load")
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    with LorryUnit(agent, parse_lorry(section, "agent.toml", tmp_path), hw) as lorry:

        def broken() -> None:
            raise RuntimeError("a bug in the GPS path")

        lorry.gps.read = broken  # type: ignore[assignment, method-assign]
        tap(chip, lorry, clock, "04A1B2C3")
    assert [p["tag"] for p in payloads(agent, "package.read")] == ["04A1B2C3"]


def test_an_unplugged_receiver_is_no_fix_and_an_alarm(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    with LorryUnit(agent, parse_lorry(fast(), "agent.toml", tmp_path), hw) as lorry:
        run_for(lorry, clock, 5, every=0.25)
        emu.attached = False  # the USB receiver pulled out: gpsd stays, the device goes
        run_for(lorry, clock, 10, every=0.25)
        assert lorry.fix == "none"
        emu.attached = True
        run_for(lorry, clock, 10, every=0.25)
    fixes = payloads(agent, "gps.fix")
    assert [f["fix"] for f in fixes] == ["3d", "none", "3d"]
    assert "no active GPS receiver" in fixes[1]["detail"]
    assert [a for a, _ in alarms(agent)] == ["gps_lost", "gps_restored"]


def test_gpsd_address_from_the_config_and_the_factory(tmp_path: Path) -> None:
    config = parse_lorry(fast(gpsd="gps.local:3000"), "agent.toml", tmp_path)
    assert config.gpsd == ("gps.local", 3000)
    assert parse_lorry(fast(gpsd="[::1]:2948"), "agent.toml", tmp_path).gpsd == ("::1", 2948)
    with EmulatedHardware(FakeClock()) as hardware:
        assert hardware.gpsd_address() == ("127.0.0.1", 2947)  # gpsd's own default
        assert hardware.gpsd_address(config.gpsd) == ("gps.local", 3000)
        hardware.gpsd = ("127.0.0.1", 4000)  # an emulated receiver attached: it wins
        assert hardware.gpsd_address(config.gpsd) == ("127.0.0.1", 4000)


def test_start_up_waits_for_gpsd_to_open_its_receiver(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    emu.attached = False  # gpsd runs, but has not opened the receiver yet
    config = parse_lorry(fast(gps_startup_s=10), "agent.toml", tmp_path)
    with LorryUnit(agent, config, hw) as lorry:
        run_for(lorry, clock, 5, every=0.25)
        assert lorry.fix == "starting" and not events(agent)  # nothing to report yet
        emu.attached = True
        run_for(lorry, clock, 1, every=0.25)
        assert lorry.fix == "3d"
    assert [f["fix"] for f in payloads(agent, "gps.fix")] == ["3d"] and not alarms(agent)
    assert payloads(agent, "gps.position")


def test_no_receiver_after_the_start_up_time_is_reported(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock, emu: GpsdEmulator
) -> None:
    emu.attached = False
    config = parse_lorry(fast(gps_startup_s=10), "agent.toml", tmp_path)
    with LorryUnit(agent, config, hw) as lorry:
        run_for(lorry, clock, 12, every=0.25)
        assert lorry.fix == "none"
        emu.attached = True
        run_for(lorry, clock, 2, every=0.25)
    fixes = payloads(agent, "gps.fix")
    assert [f["fix"] for f in fixes] == ["none", "3d"]
    assert "no active GPS receiver 10 s after start: check" in fixes[0]["detail"]
    assert [a for a, _ in alarms(agent)] == ["gps_lost", "gps_restored"]


class ShiftedReceiverClock:
    """The receiver's clock: the agent's monotonic time, its UTC moved by `offset`."""

    def __init__(self, clock: FakeClock) -> None:
        from datetime import timedelta

        self.clock = clock
        self.offset = timedelta(0)
        self.boot = clock.boot

    def now(self) -> Any:
        return self.clock.now() + self.offset

    def monotonic_ns(self) -> int:
        return self.clock.monotonic_ns()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def test_a_receiver_time_off_the_agents_clock_is_left_out_and_flagged(
    tmp_path: Path, agent: Agent, hw: EmulatedHardware, clock: FakeClock
) -> None:
    from datetime import timedelta

    receiver = ShiftedReceiverClock(clock)
    config = parse_lorry(fast(gps_time_bound_s=60), "agent.toml", tmp_path)
    with GpsdEmulator(LOGS["drive.nmea"], clock=receiver, shuttle=True) as emu:  # type: ignore[arg-type]
        hw.gpsd = emu.address
        with LorryUnit(agent, config, hw) as lorry:
            run_for(lorry, clock, 3, every=0.25)
            good = payloads(agent, "gps.position")
            receiver.offset = timedelta(weeks=1024)  # gpsd's week-rollover "correction"
            run_for(lorry, clock, 40, every=0.25)
            receiver.offset = timedelta(0)
            run_for(lorry, clock, 40, every=0.25)
    positions = payloads(agent, "gps.position")
    assert good and all(p["gps_time"] is not None for p in good)
    assert any(p["gps_time"] is None for p in positions)
    assert positions[-1]["gps_time"] is not None  # agrees again: passed on again
    ((alarm, detail),) = alarms(agent)
    assert alarm == "gps_time_off" and "rollover" in detail and "bound 60 s" in detail
