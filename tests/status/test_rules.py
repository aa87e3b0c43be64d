"""Every status rule, fed by contract events, shown against the example plant model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.plant import load_plant, parse_plant
from cloud.status import OEE_LOSS, ResourceStatus, StatusMaster
from cloud.store import EventLog
from tests.status.events import INSTANCE, T0, Feed, at, correction

EXAMPLE = Path(__file__).parents[2] / "docs/examples/harness_plant_monitoring.json"
PLANT = load_plant(EXAMPLE)
ANNA, BEN, DENIZ, CARLA = "04A1B2C3", "04D4E5F6", "04445566", "04112233"
APP_A1, APP_A2 = "E0020001", "E0020002"
TICKET_CRIMP = "0A000001"  # ORD-1 crimp, 200 units of HARNESS-DOOR


@pytest.fixture
def status() -> ResourceStatus:
    state = ResourceStatus()
    state.set_master(StatusMaster.of(PLANT))
    return state


@pytest.fixture
def feed(status: ResourceStatus, database: str) -> Iterator[Feed]:
    """Events committed to a real store (SQLite, then PostgreSQL) and folded as read back."""
    with EventLog(database) as store:
        yield Feed(status, store)


def run(feed: Feed, on: bool, minutes: float, station: str = "crimp-01") -> None:
    feed("machine.signal", {"signal": "run", "on": on}, minutes, station=station)


# --- machines ------------------------------------------------------------------------------------


def test_machine_idle_running_stopped_and_the_reason(status: ResourceStatus, feed: Feed) -> None:
    assert status.snapshot()["machines"]["crimp-01"]["state"] == "IDLE"  # from the plant model
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, 0, station="crimp-01")
    assert status.snapshot()["machines"]["crimp-01"]["state"] == "STOPPED"
    run(feed, True, 1)
    assert status.snapshot()["machines"]["crimp-01"]["state"] == "RUNNING"
    run(feed, False, 10)
    machine = status.snapshot()["machines"]["crimp-01"]
    assert (machine["state"], machine["stop_reason"]) == ("STOPPED", "unexplained")
    feed("machine.stop_reason", {"reason": "material_shortage"}, 11, station="crimp-01")
    machine = status.machine("crimp-01")
    assert machine is not None
    assert machine["stop_reason"] == "material_shortage"
    assert machine["loss"] == "availability"
    assert [s["state"] for s in machine["timeline"]] == ["STOPPED", "RUNNING", "STOPPED"]
    assert machine["timeline"][-1]["reason"] == "material_shortage"
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "end"}, 12, station="crimp-01")
    assert status.snapshot()["machines"]["crimp-01"]["state"] == "IDLE"


def test_a_stop_reason_while_running_is_ignored(status: ResourceStatus, feed: Feed) -> None:
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, 0, station="crimp-01")
    run(feed, True, 1)
    change = feed("machine.stop_reason", {"reason": "breakdown"}, 2, station="crimp-01")
    assert change is not None and "ignored" in change
    run(feed, False, 3)
    assert status.snapshot()["machines"]["crimp-01"]["stop_reason"] == "unexplained"


def test_oee_loss_of_every_reason() -> None:
    assert OEE_LOSS["quality"] == "quality"
    for reason in ("breakdown", "changeover", "maintenance", "material_shortage", "other"):
        assert OEE_LOSS[reason] == "availability"


def test_offline_is_a_flag_not_a_state(status: ResourceStatus, feed: Feed) -> None:
    run(feed, True, 0)
    status.set_online("pi-01", False, at(1))
    snap = status.snapshot()
    assert snap["machines"]["crimp-01"]["state"] == "RUNNING"
    assert snap["machines"]["crimp-01"]["online"] is False
    assert snap["agents"]["pi-01"]["online"] is False


def test_a_machine_seen_only_in_events_is_shown(status: ResourceStatus, feed: Feed) -> None:
    run(feed, True, 0, station="seal-09")
    machine = status.snapshot()["machines"]["seal-09"]
    assert (machine["state"], machine["name"]) == ("RUNNING", "seal-09")


# --- labour --------------------------------------------------------------------------------------


def test_operator_working_rest_idle_absent_and_on_leave(status: ResourceStatus, feed: Feed) -> None:
    labour = status.snapshot()["labour"]
    assert labour[ANNA]["status"] == "absent"  # not seen anywhere, no leave
    feed("badge.read", {"tag": ANNA}, 0, station="crimp-01")
    snap = status.snapshot()
    assert snap["labour"][ANNA]["status"] == "working"
    assert snap["labour"][ANNA]["station"] == "crimp-01"
    assert snap["machines"]["crimp-01"]["operator_names"] == ["OP-ANNA"]
    feed("rest.read", {"tag": ANNA}, 60, source="rest-01", agent="pi-rest-01")
    snap = status.snapshot()
    assert (snap["labour"][ANNA]["status"], snap["labour"][ANNA]["rest_zone"]) == (
        "rest",
        "rest-01",
    )
    assert snap["machines"]["crimp-01"]["operators"] == []
    feed("badge.read", {"tag": ANNA}, 75, station="crimp-01")
    feed("badge.read", {"tag": ANNA}, 80, station="crimp-01")  # second read: out
    assert status.snapshot()["labour"][ANNA]["status"] == "idle"
    night = T0 + timedelta(hours=20)  # 03:00 Berlin: no shift
    assert status.snapshot(night)["labour"][ANNA]["presence"] == "off_shift"
    tuesday = T0 + timedelta(days=1)  # an hour into Tuesday's shift, last seen on Monday
    assert status.snapshot(tuesday)["labour"][ANNA]["status"] == "absent"
    assert status.snapshot()["labour"][DENIZ]["status"] == "on_leave"


def test_presence_expected_absent_after_grace_present_on_badge_and_on_break(
    status: ResourceStatus, feed: Feed
) -> None:
    # Monday's early shift starts 06:00 Berlin = 05:00 UTC; the grace is 15 min by default.
    start = T0 - timedelta(hours=1)
    assert status.snapshot(start + timedelta(minutes=10))["labour"][ANNA]["presence"] == "expected"
    labour = status.snapshot(start + timedelta(minutes=16))["labour"]
    assert (labour[ANNA]["presence"], labour[ANNA]["status"]) == ("absent", "absent")
    assert labour[DENIZ]["presence"] == "on_leave"
    feed("badge.read", {"tag": ANNA}, 0, station="crimp-01")  # T0: she badges in late
    labour = status.snapshot()["labour"]
    assert (labour[ANNA]["presence"], labour[ANNA]["status"]) == ("present", "working")
    feed("rest.read", {"tag": ANNA}, 60, source="rest-01", agent="pi-rest-01")
    assert status.snapshot()["labour"][ANNA]["presence"] == "on_break"
    assert status.snapshot()["labour"][CARLA]["presence"] == "absent"  # day shift from 07:00


def test_the_grace_is_a_plant_setting() -> None:
    document = json.loads(EXAMPLE.read_text())
    document.setdefault("planning", {})["absent_grace_min"] = 90
    status = ResourceStatus()
    status.set_master(StatusMaster.of(parse_plant(document)))
    assert status.snapshot(T0)["labour"][ANNA]["presence"] == "expected"  # 60 min in
    assert status.snapshot(T0 + timedelta(minutes=31))["labour"][ANNA]["presence"] == "absent"


def test_an_operator_without_a_badge_is_absent() -> None:
    document = json.loads(EXAMPLE.read_text())
    document["resources"].append({"id": "OP-NEW", "kind": "operator", "calendar": "two-shift"})
    status = ResourceStatus()
    status.set_master(StatusMaster.of(parse_plant(document)))
    assert status.snapshot(T0)["labour"]["OP-NEW"]["status"] == "absent"


def test_operator_without_the_skill_is_flagged(status: ResourceStatus, feed: Feed) -> None:
    feed("badge.read", {"tag": CARLA}, 0, station="crimp-01")  # assemble, test: no crimp
    feed("badge.read", {"tag": BEN}, 0, station="crimp-01")  # crimp
    snap = status.snapshot()
    assert snap["machines"]["crimp-01"]["unskilled"] == [CARLA]
    assert snap["labour"][CARLA]["unskilled"] is True
    assert snap["labour"][BEN]["unskilled"] is False


def test_tapping_in_elsewhere_moves_the_operator(status: ResourceStatus, feed: Feed) -> None:
    feed("badge.read", {"tag": BEN}, 0, station="crimp-01")
    feed("badge.read", {"tag": BEN}, 5, station="crimp-02")
    snap = status.snapshot()
    assert snap["operators"] == {BEN: "crimp-02"}
    assert snap["machines"]["crimp-01"]["operators"] == []


# --- tooling -------------------------------------------------------------------------------------


def test_tool_through_the_gate_then_at_a_machine(status: ResourceStatus, feed: Feed) -> None:
    readers = {"readers": ["crib-01-crib", "crib-01-floor"]}
    gate = {"source": "crib-01", "agent": "pi-crib-01"}
    feed("tool.gate", {"tag": APP_A1, "direction": "out", **readers}, 0, **gate)
    tool = status.snapshot()["tools"][APP_A1]
    assert (tool["place"], tool["tool"], tool["tool_type"]) == (
        "delivery",
        "APP-A1",
        "crimp_applicator",
    )
    feed("tool.read", {"tag": APP_A1}, 2, station="crimp-01")
    feed("machine.signal", {"signal": "cycle", "count": 7}, 3, station="crimp-01")
    tool = status.snapshot()["tools"][APP_A1]
    assert (tool["place"], tool["station"], tool["cycles"]) == ("machine", "crimp-01", 7)
    assert status.snapshot()["machines"]["crimp-01"]["tool_name"] == "APP-A1"
    feed("tool.read", {"tag": APP_A2}, 10, station="crimp-01")  # changeover: A1 comes off
    feed("machine.signal", {"signal": "cycle", "count": 2}, 11, station="crimp-01")
    tools = status.snapshot()["tools"]
    assert (tools[APP_A1]["place"], tools[APP_A1]["cycles"]) == ("delivery", 7)
    assert tools[APP_A2]["cycles_mounted"] == 2
    back = {"readers": ["crib-01-floor", "crib-01-crib"]}
    feed("tool.gate", {"tag": APP_A1, "direction": "in", **back}, 20, **gate)
    assert status.snapshot()["tools"][APP_A1]["place"] == "crib"
    assert status.snapshot()["tools"]["E0020003"]["place"] == "unknown"  # never seen


def test_an_unpaired_gate_read_is_shown_as_such(status: ResourceStatus, feed: Feed) -> None:
    gate = {"source": "crib-01", "agent": "pi-crib-01"}
    unpaired = {"tag": APP_A1, "direction": "unpaired", "readers": ["crib-01-floor"]}
    feed("tool.gate", unpaired, 0, **gate)
    tool = status.snapshot()["tools"][APP_A1]
    assert tool["unpaired_reader"] == "crib-01-floor"
    assert tool["place"] == "unknown"  # never guessed


# --- jobs and cycle times -------------------------------------------------------------------------


def test_job_progress_and_cycle_time_against_standard(status: ResourceStatus, feed: Feed) -> None:
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, 0, station="crimp-01")
    run(feed, True, 0)
    feed("machine.signal", {"signal": "cycle", "count": 100}, 10, station="crimp-01")
    feed("machine.signal", {"signal": "good", "count": 97}, 10, station="crimp-01")
    feed("machine.signal", {"signal": "scrap", "count": 3}, 10, station="crimp-01")
    job = status.snapshot()["jobs"][TICKET_CRIMP]
    assert (job["order"], job["step"], job["cycles"], job["good"], job["scrap"]) == (
        "ORD-1",
        "crimp",
        100,
        97,
        3,
    )
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "end"}, 20, station="crimp-01")
    times = status.snapshot()["cycle_times"]
    crimp = times["processes"]["crimp"]
    assert crimp["n"] == 1 and crimp["mean_s"] == 12.0  # 20 min / 100 cycles
    step = next(s for s in PLANT.products["HARNESS-DOOR"].steps if s.id == "crimp")
    assert crimp["standard_s"] == pytest.approx(step.per_unit_min * 60)
    assert crimp["ratio"] == pytest.approx(12.0 / (step.per_unit_min * 60), rel=1e-3)
    assert times["machines"]["crimp-01"]["n"] == 1


def test_rolling_statistics_over_several_steps(status: ResourceStatus, feed: Feed) -> None:
    for index, minutes in enumerate((10, 20)):
        start = index * 100
        feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, start, station="crimp-01")
        feed("machine.signal", {"signal": "cycle", "count": 60}, start + 1, station="crimp-01")
        end = {"tag": TICKET_CRIMP, "action": "end"}
        feed("job.ticket", end, start + minutes, station="crimp-01")
    stats = status.snapshot()["cycle_times"]["machines"]["crimp-01"]
    assert (stats["n"], stats["min_s"], stats["max_s"], stats["mean_s"]) == (2, 10.0, 20.0, 15.0)


# --- deliveries ----------------------------------------------------------------------------------


def _position(lat: float, lon: float, speed: float) -> dict[str, object]:
    return {
        "lat": lat,
        "lon": lon,
        "speed_mps": speed,
        "heading_deg": 90.0,
        "fix": "3d",
        "gps_time": None,
    }


def _package(tag: str, stage: str, material: str) -> dict[str, object]:
    line = {"material": material, "order": "PO-77", "quantity": 500}
    return {"tag": tag, "stage": stage, "delivery": "D-1001", "manifest": line}


LORRY = {"source": "lorry-12-gps", "agent": "lorry-12"}


def test_a_lorry_approaching_gives_eta_ready_and_late(status: ResourceStatus, feed: Feed) -> None:
    feed("package.read", _package("C0000001", "load", "connector-12p"), 0, **LORRY)
    logistics = PLANT.logistics
    assert logistics.lat is not None and logistics.lon is not None
    # 0.5 degrees of latitude south of the plant (about 55.6 km), at 25 m/s.
    feed("gps.position", _position(logistics.lat - 0.5, logistics.lon, 25.0), 10, **LORRY)
    view = status.snapshot()["deliveries"]["deliveries"]["D-1001"]
    road_km = 55.597 * 1.3
    eta = T0 + timedelta(minutes=10, seconds=road_km * 1000 / 25.0)
    assert view["distance_km"] == pytest.approx(road_km, rel=1e-3)
    assert _t(view["eta"]) == pytest.approx(eta.timestamp(), abs=2)
    handling = 20 + 10 + 10  # the supplier's own unloading; the plant's inspection, shelving
    assert _t(view["ready"]) == pytest.approx((eta + timedelta(minutes=handling)).timestamp(), 2)
    assert view["needed"] == "2026-03-23T10:00:00Z"
    assert view["late"] is False  # ready about 07:38
    # An older position arriving late does not move the lorry back.
    feed("gps.position", _position(logistics.lat - 2, logistics.lon, 25.0), 5, **LORRY)
    assert status.snapshot()["deliveries"]["deliveries"]["D-1001"]["eta"] == view["eta"]
    # The lorry stands in a jam far away: the cruising speed is used, and it is late.
    feed("gps.position", _position(logistics.lat - 2.0, logistics.lon, 0.0), 200, **LORRY)
    late = status.snapshot()["deliveries"]["deliveries"]["D-1001"]
    assert late["late"] is True
    feed("gps.fix", {"fix": "none", "detail": "tunnel"}, 201, **LORRY)
    lost = status.snapshot()["deliveries"]
    assert lost["lorries"]["lorry-12"]["fix"] == "none"
    assert lost["deliveries"]["D-1001"]["eta"] is None


def test_traffic_plug_in_adds_time(status: ResourceStatus, feed: Feed) -> None:
    class Jam:
        def extra_seconds(
            self, lorry: str, lat: float, lon: float, remaining_m: float, at: datetime
        ) -> float:
            return 1800.0

    feed("package.read", _package("C0000001", "load", "connector-12p"), 0, **LORRY)
    feed("gps.position", _position(48.0, 11.575, 20.0), 1, **LORRY)
    before = _t(status.snapshot()["deliveries"]["deliveries"]["D-1001"]["eta"])
    status.set_master(status.master, (Jam(),))
    after = _t(status.snapshot()["deliveries"]["deliveries"]["D-1001"]["eta"])
    assert after - before == pytest.approx(1800, abs=1)


def test_unloading_fixes_the_arrival(status: ResourceStatus, feed: Feed) -> None:
    feed("package.read", _package("C0000001", "load", "connector-12p"), 0, **LORRY)
    feed("package.read", _package("C0000001", "unload", "connector-12p"), 90, **LORRY)
    view = status.snapshot()["deliveries"]["deliveries"]["D-1001"]
    assert view["eta"] == at(90)[:19] + "Z"
    assert view["unloaded"] == 1


def _t(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


# --- corrections ---------------------------------------------------------------------------------


def test_correction_of_a_forgotten_badge_out(status: ResourceStatus, feed: Feed) -> None:
    feed("badge.read", {"tag": BEN}, 0, station="crimp-01")
    feed("correction", correction("badge_out", 30, station="crimp-01", tag=BEN), 120)
    snap = status.snapshot()
    assert snap["labour"][BEN]["status"] == "idle"
    assert snap["labour"][BEN]["since"] == at(30)
    listed = snap["corrections"][-1]
    assert (listed["by"], listed["at"], listed["effect"]) == ("supervisor-kim", at(30), "applied")


def test_correction_of_a_wrong_stop_reason(status: ResourceStatus, feed: Feed) -> None:
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, 0, station="crimp-01")
    run(feed, True, 1)
    run(feed, False, 10)
    feed("machine.stop_reason", {"reason": "other"}, 11, station="crimp-01")
    run(feed, True, 20)
    feed("correction", correction("stop_reason", 12, station="crimp-01", value="breakdown"), 30)
    detail = status.machine("crimp-01")
    assert detail is not None
    timeline = detail["timeline"]
    stop = next(s for s in timeline if s["start"] == at(10))
    assert (stop["reason"], stop["corrected_by"]) == ("breakdown", "supervisor-kim")


def test_correction_of_missed_counts_and_a_tool_location(
    status: ResourceStatus, feed: Feed
) -> None:
    feed("job.ticket", {"tag": TICKET_CRIMP, "action": "start"}, 0, station="crimp-01")
    feed("correction", correction("good", 5, station="crimp-01", value=40), 6)
    snap = status.snapshot()
    assert snap["machines"]["crimp-01"]["good"] == 40
    assert snap["jobs"][TICKET_CRIMP]["good"] == 40
    feed("correction", correction("tool_location", 7, tag=APP_A1, value="crimp-02"), 8)
    assert status.snapshot()["tools"][APP_A1]["station"] == "crimp-02"
    feed("correction", correction("tool_location", 9, tag=APP_A1, value="crib"), 10)
    snap = status.snapshot()
    assert snap["tools"][APP_A1]["place"] == "crib"
    assert snap["machines"]["crimp-02"]["tool"] is None


def test_void_takes_a_count_back(status: ResourceStatus, feed: Feed) -> None:
    feed("machine.signal", {"signal": "cycle", "count": 5}, 0, station="crimp-01")
    bad_seq = feed.seq
    feed("machine.signal", {"signal": "cycle", "count": 3}, 1, station="crimp-01")
    feed("correction", correction("void", 0, voids=[INSTANCE, bad_seq]), 2)
    assert status.snapshot()["machines"]["crimp-01"]["cycles"] == 3


# --- rebuild -------------------------------------------------------------------------------------


def test_rebuild_from_the_log_gives_the_same_state(status: ResourceStatus, feed: Feed) -> None:
    test_a_lorry_approaching_gives_eta_ready_and_late(status, feed)
    test_correction_of_a_wrong_stop_reason(status, feed)
    test_tool_through_the_gate_then_at_a_machine(status, feed)
    test_operator_working_rest_idle_absent_and_on_leave(status, feed)
    rebuilt = ResourceStatus()
    rebuilt.set_master(StatusMaster.of(PLANT))
    assert feed.store is not None
    assert rebuilt.rebuild(feed.store.replay()) == len(feed.log) == feed.store.count()
    assert rebuilt.snapshot() == status.snapshot()
    in_memory = ResourceStatus()
    in_memory.set_master(StatusMaster.of(PLANT))
    in_memory.rebuild(feed.log)
    assert in_memory.snapshot() == status.snapshot()  # the store gives back what was folded
