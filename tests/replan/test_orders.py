"""ERP intake and order changes: both policies, cancellation, bad files, manual mode."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

from cloud.plant import Order, Plant
from cloud.replan import (
    Engine,
    ManualModeActive,
    OrderDesk,
    OrderFileRejected,
    OrderFolderWatcher,
    Replanner,
    StepStarted,
    parse_order_file,
    submit_orders,
)
from taktline.clock import FakeClock
from tests.replan.conftest import NOW


def _loop(plant: Plant, orders: list[Order]) -> tuple[Replanner, FakeClock]:
    clock = FakeClock(NOW)
    engine = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
    replanner = Replanner(engine, clock=clock, quiet=timedelta(seconds=1), improve=False)
    replanner.publish_all()
    return replanner, clock


def _run(replanner: Replanner, clock: FakeClock) -> None:
    clock.advance(2)
    assert replanner.poll() is not None


def _first_started(replanner: Replanner, clock: FakeClock) -> tuple[str, str, str, str]:
    """Starts the earliest planned step for real; returns (order, step, start, resource)."""
    jobs = [j for by_key in replanner.book.jobs.values() for j in by_key.values()]
    first = min(jobs, key=lambda j: (j.start, j.key))
    eng = replanner.engine
    s = eng.step_index(first.order, first.step)
    start = eng.model.time_of(int(eng.plan.start[s]))
    clock.set_wall(start + timedelta(minutes=1))
    replanner.submit(StepStarted(first.order, first.step, start))
    _run(replanner, clock)
    res = eng.plant.resources[int(eng.plan.res[eng.model.problem.req_ptr[s]])].id
    return first.order, first.step, first.start, res


def _placement(replanner: Replanner, order: str, step: str) -> tuple[str, str]:
    eng = replanner.engine
    s = eng.step_index(order, step)
    q = int(eng.model.problem.req_ptr[s])
    start = eng.model.time_of(int(eng.plan.start[s])).strftime("%Y-%m-%dT%H:%M:%SZ")
    return start, eng.plant.resources[int(eng.plan.res[q])].id


@pytest.mark.parametrize("decision", ["adjust", "new"])
def test_changed_order_waits_for_a_decision_then_applies_it(
    harness: tuple[Plant, list[Order]], decision: str
) -> None:
    plant, orders = harness
    replanner, clock = _loop(plant, orders)
    order, step, start, res = _first_started(replanner, clock)
    desk = OrderDesk(replanner, policy="ask")
    old = replanner.engine.orders[order]
    changed = dataclasses.replace(old, quantity=old.quantity * 3)
    result = desk.accept([changed], [], "erp", "test")
    assert result["pending"] == [order] and order in desk.pending
    assert replanner.engine.orders[order].quantity == old.quantity  # not applied yet
    desk.decide(order, decision, "ann")  # type: ignore[arg-type]
    decided_at = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    _run(replanner, clock)
    assert replanner.engine.orders[order].quantity == old.quantity * 3
    entry = replanner.audit[-1]
    assert (entry.who, entry.what, entry.detail["order"]) == (
        "ann",
        f"order_change_{decision}",
        order,
    )
    assert entry.when == decided_at
    now_start, now_res = _placement(replanner, order, step)
    if decision == "adjust":
        assert (now_start, now_res) == (start, res)  # the started step stays where it is
    else:
        assert now_start != start  # a new schedule: the old one does not start
        assert now_start >= clock.now().strftime("%Y-%m-%dT%H:%M:00Z")
    with pytest.raises(KeyError):
        desk.decide(order, "new", "ann")


def test_policy_decides_without_a_planner(harness: tuple[Plant, list[Order]]) -> None:
    plant, orders = harness
    replanner, clock = _loop(plant, orders)
    desk = OrderDesk(replanner, policy="adjust")
    changed = dataclasses.replace(orders[0], due=orders[0].due + timedelta(hours=4))
    assert desk.accept([changed], [], "erp", "test")["changed"] == [orders[0].id]
    _run(replanner, clock)
    assert replanner.audit[-1].who == "policy:adjust"
    assert replanner.engine.orders[orders[0].id].due == changed.due


def test_cancelled_order_frees_its_resources(harness: tuple[Plant, list[Order]]) -> None:
    plant, orders = harness
    replanner, clock = _loop(plant, orders)
    victim = orders[0].id
    planned = len(replanner.engine.model.orders)
    held = {
        r for r, jobs in replanner.book.jobs.items() for j in jobs.values() if j.order == victim
    }
    assert held
    out = submit_orders(OrderDesk(replanner), {"orders": [], "cancel": [victim]}, "bo")
    assert out["cancelled"] == [victim]
    _run(replanner, clock)
    assert victim not in replanner.engine.orders
    assert not any(
        j.order == victim for jobs in replanner.book.jobs.values() for j in jobs.values()
    )
    assert len(replanner.engine.model.orders) == planned - 1
    assert replanner.audit[-1].what == "cancel_order" and replanner.audit[-1].who == "bo"


BAD_CSV = """id,product,quantity,due
ok-1,{product},10,2026-03-26T12:00:00Z
bad-1,no-such-product,10,2026-03-26T12:00:00Z
bad-2,{product},0,2026-03-26T12:00:00Z
ok-1,{product},5,2026-03-26T12:00:00Z
bad-4,{product},3,next tuesday
"""


def test_bad_order_file_is_rejected_row_by_row_and_nothing_applied(
    harness: tuple[Plant, list[Order]], tmp_path: Path
) -> None:
    plant, orders = harness
    replanner, clock = _loop(plant, orders)
    product = orders[0].product
    with pytest.raises(OrderFileRejected) as info:
        parse_order_file(BAD_CSV.format(product=product), "csv", plant)
    rows = {r["row"]: " ".join(r["reasons"]) for r in info.value.rows}  # type: ignore[arg-type]
    assert set(rows) == {2, 3, 4, 5}
    assert "unknown product" in rows[2]
    assert "quantity" in rows[3]
    assert "duplicate order id" in rows[4]
    assert "next tuesday" in rows[5]
    # the same through the drop folder: the file is rejected with reasons, nothing applied
    (tmp_path / "orders.csv").write_text(BAD_CSV.format(product=product))
    (tmp_path / "good.json").write_text(
        json.dumps({"orders": [{"id": "new-1", "product": product, "quantity": 4,
                                "due": "2026-03-27T12:00:00Z"}]})
    )  # fmt: skip
    watcher = OrderFolderWatcher(tmp_path, OrderDesk(replanner))
    results = dict(watcher.scan_once())
    assert "rejected" in results["orders.csv"]
    assert results["good.json"]["created"] == ["new-1"]
    errors = json.loads((tmp_path / "rejected" / "orders.csv.errors.json").read_text())
    assert [r["row"] for r in errors] == [2, 3, 4, 5]
    assert (tmp_path / "done" / "good.json").exists()
    _run(replanner, clock)
    assert "ok-1" not in replanner.engine.orders and "new-1" in replanner.engine.orders
    assert any(j.order == "new-1" for jobs in replanner.book.jobs.values() for j in jobs.values())


def test_manual_mode_holds_triggers_records_edits_and_exports(
    harness: tuple[Plant, list[Order]], tmp_path: Path
) -> None:
    plant, orders = harness
    replanner, clock = _loop(plant, orders)
    with pytest.raises(ManualModeActive):
        replanner.move_step(orders[0].id, "x", NOW, "ann")
    replanner.enter_manual("ann")
    desk = OrderDesk(replanner, policy="new")
    desk.accept([dataclasses.replace(orders[1], quantity=orders[1].quantity + 1)], [], "erp", "t")
    clock.advance(60)
    assert replanner.poll() is None  # automatic replans wait
    eng = replanner.engine
    last = plant.products[orders[0].product].steps[-1].id
    s = eng.step_index(orders[0].id, last)
    target = eng.model.time_of(int(eng.plan.start[s])) - timedelta(hours=2)
    replanner.move_step(orders[0].id, last, target, "ann")
    assert _placement(replanner, orders[0].id, last)[0] == target.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert replanner.audit[-1].what == "move_step" and replanner.audit[-1].who == "ann"
    out = replanner.export(tmp_path / "plan.json")
    doc = json.loads(out.read_text())
    listed = {o["order"] for o in doc["orders"]} | {e["order"] for e in doc["errors"]}
    assert listed == {o.id for o in orders}
    replanner.leave_manual("ann")
    assert replanner.poll() is not None  # the waiting change goes in now
    assert eng.orders[orders[1].id].quantity == orders[1].quantity + 1
    assert [e.what for e in replanner.audit if e.what.startswith("manual")] == [
        "manual_mode_on",
        "manual_mode_off",
    ]


def test_rest_submission_with_a_bad_row_applies_nothing(harness: tuple[Plant, list[Order]]) -> None:
    plant, orders = harness
    replanner, _ = _loop(plant, orders)
    product = orders[0].product
    body = {
        "orders": [
            {"id": "api-1", "product": product, "quantity": 5, "due": "2026-03-27T12:00:00Z"},
            {"id": "api-2", "product": product, "quantity": -5, "due": "2026-03-27T12:00:00Z"},
        ],
        "cancel": [orders[0].id],
    }
    with pytest.raises(OrderFileRejected) as info:
        submit_orders(OrderDesk(replanner), body, "api-user")
    assert [r["row"] for r in info.value.rows] == [2]
    assert replanner.stats.triggers == 0 and orders[0].id in replanner.engine.orders
    ok = submit_orders(OrderDesk(replanner), {"orders": body["orders"][:1]}, "api-user")
    assert ok["created"] == ["api-1"] and replanner.stats.triggers == 1
