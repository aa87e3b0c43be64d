"""Targets for files from outside: the agent's TOML config, ERP order files, the plant model.

- `agent_config`: the bytes as an agent's config file through `read_config` (what `load_config`
  does with them): only `ConfigError`;
  a config it accepts also yields its broker settings (what `--check` and the run read).
- `orders_json`, `orders_csv`: the bytes as a dropped order file, decoded as the drop watcher
  decodes it, through `parse_order_file` against the harness plant with a "now": only the
  documented rejections (`OrderFileRejected`, `OrderBatchTooLarge`); accepted orders lie within
  the planning horizon.
- `plant`: the bytes as a plant model through the strict JSON reader and `parse_plant`: only
  `PlantInvalid`/`ContractError`; a plant it accepts maps onto the planner's arrays (empty order
  list) within a bounded size.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fuzz.targets import OneInput, Target

__all__ = ["TARGETS"]

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
HARDWARE = Path(__file__).resolve().parents[1] / "hardware" / "examples"
NOW = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)


def _agent_config(folder: Path) -> OneInput:
    from agent.config import read_config
    from agent.errors import ConfigError

    def one_input(data: bytes) -> None:
        try:  # what load_config does with the file's bytes
            config = read_config(data, "agent.toml", folder)
            config.broker_settings()
        except ConfigError:
            return

    return one_input


def config_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(HARDWARE.glob("agent-*.toml"))]
    first = seeds[0] if seeds else b'agent = "pi-1"\nsite = "s"\narea = "a"\n'
    return [
        *seeds,
        first.replace(b"8883", b"99999"),
        first + b"\noutbox = 5\n",
        first + b"\n# \xff\xfe\n",
    ]


def _orders(fmt: str) -> OneInput:
    from cloud.plant import OrderBatchTooLarge, load_plant
    from cloud.replan import OrderFileRejected, parse_order_file

    plant = load_plant(EXAMPLES / "harness_plant.json")
    horizon = timedelta(days=plant.horizon_days)

    def one_input(data: bytes) -> None:
        try:
            text = data.decode("utf-8-sig")  # as the drop watcher reads a file
        except UnicodeDecodeError:
            return  # the watcher rejects it before parsing (tested in tests/hostile)
        try:
            orders, _ = parse_order_file(text, fmt, plant, now=NOW)  # type: ignore[arg-type]
        except (OrderFileRejected, OrderBatchTooLarge):
            return
        for order in orders:
            if abs(order.due - NOW) > horizon:
                raise AssertionError(f"order {order.id} due {order.due} past the horizon")

    return one_input


def _orders_json(folder: Path) -> OneInput:
    return _orders("json")


def _orders_csv(folder: Path) -> OneInput:
    return _orders("csv")


def orders_json_seeds() -> list[bytes]:
    good = (EXAMPLES / "harness_orders.json").read_bytes()
    return [
        good,
        b'{"orders": [], "cancel": 5}',
        b'{"orders": [{"id": ["x"], "product": "HARNESS-DOOR"}]}',
        b'{"orders": [{"id": "a", "product": "HARNESS-DOOR", "quantity": 1,'
        b' "due": "9999-12-31T00:00:00Z"}]}',
        b'{"orders": [{"id": "a", "product": "HARNESS-DOOR", "quantity": NaN}]}',
    ]


def orders_csv_seeds() -> list[bytes]:
    rows = json.loads((EXAMPLES / "harness_orders.json").read_text())["orders"]
    lines = ["id,product,quantity,due,release,priority,action"]
    lines += [f"{r['id']},{r['product']},{r['quantity']},{r['due']},,," for r in rows[:5]]
    lines.append("SO-1001,,,,,,cancel")
    return [
        "\n".join(lines).encode(),
        b"id,product,quantity,due\nA\x00,HARNESS-DOOR,1,2026-03-24T13:00:00Z\n",
        b"id,product,quantity,due\nA,HARNESS-DOOR,1e999,2100-01-01T00:00:00Z\n",
    ]


def _plant(folder: Path) -> OneInput:
    from cloud.plant import PlantInvalid, parse_plant
    from cloud.scheduler.arrays import build
    from contract.errors import ContractError
    from contract.fields import loads

    def one_input(data: bytes) -> None:
        try:
            plant = parse_plant(loads(data, "plant"))
        except (PlantInvalid, ContractError):
            return
        if len(plant.resources) * 1440 // plant.slot_minutes > 2_000_000:
            return  # a big plant is valid; mapping it is the planner benchmark's business
        model = build(plant, [], NOW)
        slots = model.problem.open_.shape[1]
        if slots > (plant.horizon_days + 8) * 1440 // plant.slot_minutes + 1:
            raise AssertionError(f"{slots} slots for a plant without orders")

    return one_input


def plant_seeds() -> list[bytes]:
    good = json.loads((EXAMPLES / "harness_plant.json").read_text())
    tokyo = json.loads(json.dumps(good))
    tokyo["timezone"] = "Asia/Tokyo"
    tokyo["calendars"][0]["closures"][0]["start"] = "0001-01-01T00:00"
    return [
        (EXAMPLES / "harness_plant.json").read_bytes(),
        json.dumps(tokyo).encode(),
        (EXAMPLES / "harness_plant.json")
        .read_bytes()
        .replace(b'"improve_seconds": 0.5', b'"improve_seconds": Infinity'),
    ]


TARGETS = (
    Target("agent_config", "an agent's TOML config file", _agent_config, config_seeds),
    Target("orders_json", "a dropped JSON order file", _orders_json, orders_json_seeds),
    Target("orders_csv", "a dropped CSV order file", _orders_csv, orders_csv_seeds),
    Target("plant", "the plant model (master data)", _plant, plant_seeds),
)
