"""Absurd plans: the plant model, orders and the planner refuse what no plant can mean (issue 15).

Each case stopped or swamped a part of the system before: an order due 9999-12-31 grew the cloud
past 2 GB, one due in 2100 made `taktline plan` allocate 1 GiB, one due 0001-01-01 failed every
replan, `per_unit_min: NaN` saved through the master data stopped the next start,
`improve_seconds: Infinity` planned forever, a closure at 0001-01-01 in Asia/Tokyo raised
OverflowError, and one bad file stopped the order drop folder for good.
"""

from __future__ import annotations

import copy
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.master import MasterData, MasterRejected
from cloud.plant import (
    MAX_ORDERS_PER_BATCH,
    OrderBatchTooLarge,
    PlantInvalid,
    load_plant,
    parse_orders,
    parse_plant,
)
from cloud.replan import (
    Engine,
    OrderDesk,
    OrderFileRejected,
    OrderFolderWatcher,
    Replanner,
    parse_order_file,
)
from cloud.scheduler.arrays import build
from taktline.clock import FakeClock

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)


@pytest.fixture
def document() -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / "harness_plant.json").read_text()))


def order(**changes: Any) -> dict[str, Any]:
    base = {"id": "SO-X", "product": "HARNESS-DOOR", "quantity": 40, "due": "2026-03-24T13:00:00Z"}
    return {**base, **changes}


@pytest.mark.parametrize(
    "due", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "2100-01-01T00:00:00Z"]
)
def test_due_dates_outside_every_plausible_year_are_refused(
    document: dict[str, Any], due: str
) -> None:
    plant = parse_plant(document)
    with pytest.raises(PlantInvalid, match=r"orders\.orders\[0\].*\.due"):
        parse_orders({"orders": [order(due=due)]}, plant)


def test_due_dates_past_the_planning_horizon_are_refused(document: dict[str, Any]) -> None:
    plant = parse_plant({**document, "planning": {"horizon_days": 30}})
    far = (NOW + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(PlantInvalid, match="more than 30 days from now"):
        parse_orders({"orders": [order(due=far)]}, plant, now=NOW)
    with pytest.raises(PlantInvalid, match="release"):
        parse_orders({"orders": [order(release="2020-01-01T00:00:00Z")]}, plant, now=NOW)
    assert parse_orders({"orders": [order()]}, plant, now=NOW)[0].id == "SO-X"


def test_the_planner_never_allocates_by_an_unbounded_date(document: dict[str, Any]) -> None:
    """An order due in 2099 (valid as a date) is left out; the arrays stay a plan's size."""
    plant = parse_plant(document)
    orders = parse_orders({"orders": [order(), order(id="SO-2099", due="2099-12-31T00:00:00Z")]})
    model = build(plant, orders, NOW)
    assert [o.id for o in model.orders] == ["SO-X"]
    (error,) = [e for e in model.errors if e.order == "SO-2099"]
    assert "planning horizon of 366 days" in error.message
    slots_of_a_plan = (366 + 7) * 24 * 60 // plant.slot_minutes
    assert model.problem.open_.shape[1] <= slots_of_a_plan


@pytest.mark.parametrize(
    ("path", "value", "part"),
    [
        (("products", 0, "steps", 0, "per_unit_min"), float("nan"), "per_unit_min"),
        (("products", 0, "steps", 0, "setup_min"), float("inf"), "setup_min"),
        (("planning", "improve_seconds"), float("inf"), "improve_seconds"),
        (("planning", "improve_seconds"), 1e9, "improve_seconds"),
        (("planning", "improve_iterations"), 10**40, "improve_iterations"),
        (("slot_minutes",), 10**30, "slot_minutes"),
        (("calendars", 0, "closures", 0, "start"), "0001-01-01T00:00", "start"),
        (("calendars", 0, "holidays"), ["0001-01-01"], "holidays"),
        (("resources", 0, "id"), "cut\x00-01", "id"),
    ],
    ids=[
        "nan-per-unit",
        "inf-setup",
        "inf-budget",
        "budget-over-cap",
        "huge-iterations",
        "huge-slot",
        "closure-year-1",
        "holiday-year-1",
        "nul-id",
    ],
)
def test_the_plant_refuses_non_finite_numbers_budgets_and_dates(
    document: dict[str, Any], path: tuple[Any, ...], value: Any, part: str
) -> None:
    changed = copy.deepcopy(document)
    changed["timezone"] = "Asia/Tokyo"
    target = changed
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    with pytest.raises(PlantInvalid, match=part):
        parse_plant(changed)


def test_a_master_data_edit_with_nan_is_refused_and_the_file_stays_private(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    path = tmp_path / "plant.json"
    path.write_text(json.dumps(document))
    os.chmod(path, 0o600)
    master = MasterData.load(path)
    changed = copy.deepcopy(document)
    changed["products"][0]["steps"][0]["per_unit_min"] = float("nan")
    with pytest.raises(MasterRejected, match="per_unit_min"):
        master.replace(changed)
    changed["products"][0]["steps"][0]["per_unit_min"] = 0.75
    master.replace(changed)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a rewrite never widens it
    assert load_plant(path).products["HARNESS-DOOR"].steps[0].per_unit_min == 0.75
    # A plant file with NaN (written by an older version) is refused at start, with the path.
    path.write_text(path.read_text().replace("0.75", "NaN"))
    with pytest.raises(PlantInvalid, match="NaN"):
        load_plant(path)


def test_an_order_batch_over_the_limit_is_refused_whole(document: dict[str, Any]) -> None:
    plant = parse_plant(document)
    rows = [order(id=f"SO-{n}") for n in range(MAX_ORDERS_PER_BATCH + 1)]
    with pytest.raises(OrderBatchTooLarge):
        parse_order_file(json.dumps({"orders": rows}), "json", plant)
    with pytest.raises(OrderBatchTooLarge):
        parse_orders({"orders": rows}, plant)
    assert len(parse_order_file(json.dumps({"orders": rows[:10]}), "json", plant)[0]) == 10


@pytest.fixture
def desk(document: dict[str, Any]) -> OrderDesk:
    plant = parse_plant(document)
    orders = parse_orders(json.loads((EXAMPLES / "harness_orders.json").read_text()), plant)
    engine = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
    clock = FakeClock(NOW)
    replanner = Replanner(engine, clock=clock, quiet=timedelta(seconds=1), improve=False)
    return OrderDesk(replanner)


BAD_FILES: list[tuple[str, bytes]] = [
    ("cancel-number.json", b'{"orders": [], "cancel": 5}'),
    ("not-utf8.json", b'{"orders": [\xff\xfe]}'),
    ("not-utf8.csv", b"id,product,quantity,due\n\xff,HARNESS-DOOR,1,2026-03-24T13:00:00Z\n"),
    ("unhashable-id.json", b'{"orders": [{"id": ["x"], "product": "HARNESS-DOOR"}]}'),
    ("unhashable-product.json", b'{"orders": [{"id": "a", "product": {"x": 1}}]}'),
    ("nan.json", b'{"orders": [{"id": "a", "product": "HARNESS-DOOR", "quantity": NaN}]}'),
    ("deep.json", b"[" * 100_000),
    ("nul.csv", b"id,product,quantity,due\nA\x00,HARNESS-DOOR,1,2026-03-24T13:00:00Z\n"),
    ("orders-object.json", b'{"orders": {"id": "a"}}'),
    ("far-due.json", json.dumps({"orders": [order(due="2099-01-01T00:00:00Z")]}).encode()),
]


def test_a_bad_file_is_rejected_with_its_reasons_and_the_watcher_goes_on(
    tmp_path: Path, desk: OrderDesk
) -> None:
    for name, raw in BAD_FILES:
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "zz-good.json").write_text(json.dumps({"orders": [order(id="SO-GOOD")]}))
    watcher = OrderFolderWatcher(tmp_path, desk)
    results = dict(watcher.scan_once())
    for name, _ in BAD_FILES:
        assert "rejected" in results[name], name
        errors = json.loads((tmp_path / "rejected" / f"{name}.errors.json").read_text())
        assert errors and errors[0]["reasons"], name
        assert "internal error" not in json.dumps(errors), (name, errors)
    assert results["zz-good.json"]["created"] == ["SO-GOOD"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == []


def test_the_watcher_thread_survives_a_bad_file(tmp_path: Path, desk: OrderDesk) -> None:
    watcher = OrderFolderWatcher(tmp_path, desk, poll_s=0.02).start()
    try:
        (tmp_path / "bad.json").write_bytes(b'{"orders": [], "cancel": 5}')
        _wait(lambda: (tmp_path / "rejected" / "bad.json").exists())
        (tmp_path / "good.json").write_text(json.dumps({"orders": [order(id="SO-LATER")]}))
        _wait(lambda: (tmp_path / "done" / "good.json").exists())
    finally:
        watcher.close()


def test_a_file_still_being_written_is_not_read_half_written(
    tmp_path: Path, desk: OrderDesk
) -> None:
    watcher = OrderFolderWatcher(tmp_path, desk)
    text = json.dumps({"orders": [order(id="SO-SLOW")]})
    path = tmp_path / "slow.json"
    path.write_text(text[:10])  # the ERP has written a part of it
    assert watcher.scan_once(settled_only=True) == []
    with path.open("a") as tail:
        tail.write(text[10:])
    assert watcher.scan_once(settled_only=True) == []  # grown since the last scan
    ((name, result),) = watcher.scan_once(settled_only=True)
    assert name == "slow.json" and "rejected" not in result
    assert (tmp_path / "done" / "slow.json").exists()


def test_csv_and_json_rows_of_any_shape_are_reasons_not_crashes(desk: OrderDesk) -> None:
    plant = desk.plant
    for text, fmt in [
        ('{"orders": [1, null, [], "x", {"id": 5}]}', "json"),
        ("id,product\n" + "a,b,c,d,e\n" + ",,\n", "csv"),
        ("\ufeffid,product,quantity,due\nA,HARNESS-DOOR,1e999,x\n", "csv"),
        ('{"orders": [{"id": "a", "product": "HARNESS-DOOR", "quantity": 1e999}]}', "json"),
    ]:
        with pytest.raises(OrderFileRejected):
            parse_order_file(text, fmt, plant)  # type: ignore[arg-type]


def _wait(condition: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_master_data_csv_faults_are_row_errors(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "plant.json"
    path.write_text(json.dumps(document))
    master = MasterData.load(path)
    with pytest.raises(MasterRejected, match="control character"):
        master.import_csv("resources", "id,kind,calendar\ncrimp-09\x00,machine,two-shift\n")


def test_registry_ids_are_matched_whole(tmp_path: Path) -> None:
    from cloud.registry import RegistryError, load_registry

    path = tmp_path / "registry.json"
    entry = {"agent": "pi-crimp-01\n", "site": "plant1", "area": "harness", "devices": []}
    path.write_text(json.dumps({"agents": [entry]}))
    with pytest.raises(RegistryError, match="agent"):
        load_registry(path)
    path.write_bytes(b'{"agents": [NaN]}')
    with pytest.raises(RegistryError, match="NaN"):
        load_registry(path)
