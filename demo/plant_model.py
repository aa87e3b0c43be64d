"""The demo plant's master data and orders, generated for each run from the simulated line.

`plant_document(start)` is the plant model (`docs/schemas/plant.schema.json`) of the line in
`demo.plant`: one machine resource per station (resource id = station id), the harness process
(cut -> crimp -> seal -> twist -> assembly board -> electrical test) with standard times equal to
the simulation's cycle times, the crimp applicators as shared tools, the operators with their
skills and badges, the job tickets, the supplier with its lorry, the materials it brings and
when they are expected at the line, and the plant's place on the lorry's route
(`hardware.nmea.make_logs`).
Every machine and tool calendar is open around the clock, so the demo plans whenever it runs;
the operators work a day shift that starts with the run, and the plant's grace
(`planning.absent_grace_min`) is set so that an operator not badged in `absent_after_s` after
the start is absent (`demo.plant.ABSENT` never comes). `orders_document`
gives the orders, due over the next hours from `start`, that keep every station busy.

Times that depend on the run (material needs, due dates) are relative to `start`, so a demo
started any time shows the same story: the lorry's deliveries are on time unless it is held up
(see `READY_MIN`), and the first orders are tight enough that a breakdown or a late material
moves jobs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from demo.kanban import kanban_loops
from demo.logistics import material_terms, supplier_terms, transport_section
from demo.plant import DELIVERIES, HARNESS_LINE, LORRY, PLANT_TZ, SITE, TIMEZONE, StationPlan
from hardware.nmea.make_logs import PLANT
from taktline.clock import utc_iso

__all__ = [
    "ABSENT_AFTER_S",
    "HANDLING_MIN",
    "OPERATORS",
    "READY_MIN",
    "STEPS",
    "STEPS_BY_STEP",
    "SUPPLIER",
    "TOOLS",
    "orders_document",
    "plant_document",
    "write_master_data",
]

#: process (as `StationPlan.process` names it) -> (step id, machine group, machine name)
STEPS: Final[dict[str, tuple[str, str, str]]] = {
    "cutting": ("cut", "cutters", "wire cutting machine"),
    "crimping": ("crimp", "crimpers", "crimp press"),
    "sealing": ("seal", "sealers", "seal station"),
    "twisting": ("twist", "twisters", "twisting machine"),
    "assembly board": ("assemble", "boards", "assembly board"),
    "electrical test": ("test", "testers", "electrical test table"),
}
#: step id -> its machine group
STEPS_BY_STEP: Final = {step: group for step, group, _ in STEPS.values()}
#: Minutes from the start to the first due date of each product (door, seat); then every 30 min.
DUE_MIN: Final = (130, 79)
#: step -> (set-up minutes, transfer minutes to the next step)
_STEP_DATA: Final[dict[str, tuple[float, float]]] = {
    "cut": (5, 5),
    "crimp": (10, 5),
    "seal": (5, 5),
    "twist": (5, 5),
    "assemble": (10, 5),
    "test": (5, 0),
}
#: badge tag -> (operator id, name, skills); the stations' operators in `demo.plant`, plus one
#: operator on holiday (never seen on the floor: the labour page shows the leave).
OPERATORS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "04A1B2C3": ("OP-ANNA", "Anna Berger", ("cut", "crimp")),
    "04D4E5F6": ("OP-BEN", "Ben Okafor", ("cut",)),
    "04112233": ("OP-CARLA", "Carla Rossi", ("crimp", "seal")),
    "04445566": ("OP-DENIZ", "Deniz Kaya", ("crimp",)),
    "04AA0001": ("OP-EMRE", "Emre Demir", ("seal", "twist")),
    "04AA0002": ("OP-FATIMA", "Fatima Haddad", ("twist", "seal")),
    "04778899": ("OP-GRETA", "Greta Lind", ("assemble",)),
    "047A7B7C7D7E7F": ("OP-HANNES", "Hannes Vogel", ("assemble", "test")),
    "04AA0003": ("OP-IVO", "Ivo Novak", ("test", "assemble")),
    "04BB0001": ("OP-JONAS", "Jonas Weber", ("inspect",)),
}
#: tool tag -> (tool id, name, tool type); the crimp applicators are the shared tooling.
TOOLS: Final[dict[str, tuple[str, str, str]]] = {
    "E0010001": ("BLADE-1", "cutter blade set 1", "cutting_blade"),
    "E0020001": ("APP-1", "crimp applicator 1", "crimp_applicator"),
    "E0020002": ("APP-2", "crimp applicator 2", "crimp_applicator"),
    "E0020003": ("APP-3", "crimp applicator 3", "crimp_applicator"),
    "E0020004": ("APP-4", "crimp applicator 4", "crimp_applicator"),
    "E0040001": ("SEAL-DIE-1", "seal die 1", "seal_die"),
    "E0050001": ("TWIST-HEAD-1", "twist head 1", "twist_head"),
    "E0030001": ("BOARD-FIX-1", "board fixture door harness", "board_fixture"),
    "E0060001": ("TEST-ADAPT-1", "test adapter door harness", "test_adapter"),
}
#: Cycles between services of a crimp applicator (its tool life on the Tooling page).
APPLICATOR_SERVICE_CYCLES: Final = 5000
#: Minutes to fetch an applicator from the tool crib to a crimp press, and between the presses.
CRIB_TO_CRIMP_MIN: Final = 2.0
CRIMP_TO_CRIMP_MIN: Final = 1.0
SUPPLIER: Final = "acme-cables"
#: The supplier's mean unloading, inspection and shelving minutes (the ready time's margin).
HANDLING_MIN: Final = (5.0, 5.0, 5.0)
#: Minutes after the start when the lorry's materials are expected at the line (the materials'
#: `ready`): the plan starts no step using them earlier, so the plan first needs them a little
#: later. A lorry on its way is ready (ETA + handling) well before, even while it slows at a
#: corner; a lorry crawling in a jam near the supplier (ETA: distance over ~1 m/s) is ready
#: minutes after the plan needs its materials: the delivery is late.
READY_MIN: Final = 20.0
#: product -> its routing and the material each step consumes. The door harness is made from
#: stock; the seat harness needs what the lorry brings. The job tickets at the stations are the
#: door harness's, so real progress on the floor never moves when the lorry's materials are needed.
_PRODUCTS: Final[dict[str, tuple[tuple[str, str | None], ...]]] = {
    "HARNESS-DOOR": (
        ("cut", "wire-0.35-red"), ("crimp", "terminal-a"), ("seal", None), ("twist", None),
        ("assemble", "connector-8p"), ("test", None),
    ),
    "HARNESS-SEAT": (
        ("cut", "wire-0.50-blue"), ("crimp", "terminal-b"), ("seal", None),
        ("assemble", "connector-12p"), ("test", None),
    ),
}  # fmt: skip
#: The materials in stock (ready at the line) that no lorry of the demo brings.
_STOCK: Final = ("wire-0.35-red", "terminal-a", "connector-8p")
_TICKETED: Final = "HARNESS-DOOR"
_ALWAYS: Final = "around-the-clock"
_SHIFT: Final = "day-shift"
#: Seconds after the start when an operator who has not badged in is absent (default).
ABSENT_AFTER_S: Final = 8.0


def _utc(moment: datetime) -> str:
    return utc_iso(moment)[:19] + "Z"


def _orders(start: datetime) -> list[dict[str, Any]]:
    """Twelve orders due over the next hours; the first seat harness waits for the lorry."""
    orders = []
    for n in range(12):
        product = "HARNESS-DOOR" if n % 2 == 0 else "HARNESS-SEAT"
        order: dict[str, Any] = {
            "id": f"H-{101 + n}",
            "product": product,
            "quantity": 120 + 30 * (n % 4),
            "due": _utc(start + timedelta(minutes=DUE_MIN[n % 2] + 30 * n)),
        }
        if n == 1:
            order["priority"] = 1  # planned first: its cutting starts when the wire is there
        orders.append(order)
    return orders


def orders_document(start: datetime) -> dict[str, Any]:
    """The orders (`docs/schemas/orders.schema.json`), due over the next hours from `start`."""
    return {"orders": _orders(start)}


def _tickets(plans: tuple[StationPlan, ...], start: datetime) -> list[dict[str, Any]]:
    """Each station's job tickets stand for its step of successive orders that have the step."""
    orders = _orders(start)
    taken: dict[str, int] = {}
    out = []
    for plan in plans:
        step = STEPS[plan.process][0]
        having = [o for o in orders if o["product"] == _TICKETED]
        for tag in plan.tickets:
            index = taken.get(step, 0)
            taken[step] = index + 1
            order = having[index % len(having)]
            out.append(
                {
                    "tag": tag,
                    "kind": "ticket",
                    "ref": order["id"],
                    "step": step,
                    "product": order["product"],
                    "quantity": order["quantity"],
                }
            )
    return out


def _products(plans: tuple[StationPlan, ...]) -> list[dict[str, Any]]:
    cycle = {STEPS[p.process][0]: p.cycle_s for p in plans}  # the standard: the machine's cycle
    products = []
    for product, steps in _PRODUCTS.items():
        routing = []
        for step, material in steps:
            setup, transfer = _STEP_DATA[step]
            holds: list[dict[str, Any]] = [{"group": STEPS_BY_STEP[step]}]
            if step == "crimp":
                holds.append({"group": "applicators"})
            holds.append({"group": f"{step}-operators"})
            item: dict[str, Any] = {
                "id": step,
                "setup_min": setup,
                "per_unit_min": cycle[step] / 60,
                "holds": holds,
            }
            if transfer and step != steps[-1][0]:
                item["transfer_min"] = transfer
            if material:
                item["materials"] = [material]
            routing.append(item)
        products.append({"id": product, "steps": routing})
    return products


def _resources(plans: tuple[StationPlan, ...]) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for plan in plans:
        step, _, name = STEPS[plan.process]
        numbers[step] = numbers.get(step, 0) + 1
        resources.append(
            {
                "id": plan.station, "kind": "machine", "calendar": _ALWAYS,
                "name": f"{name} {numbers[step]}", "station": plan.station,
                "operator_skills": [step],
            }
        )  # fmt: skip
    for tag, (tool, name, tool_type) in TOOLS.items():
        item: dict[str, Any] = {"id": tool, "kind": "tool", "calendar": _ALWAYS, "name": name}
        item["tag"] = tag
        item["tool_type"] = tool_type
        if tool_type == "crimp_applicator":
            item["skills"] = ["crimp-applicator"]
            item["service_cycles"] = APPLICATOR_SERVICE_CYCLES
        resources.append(item)
    for tag, (operator, name, skills) in OPERATORS.items():
        resources.append(
            {
                "id": operator, "kind": "operator", "calendar": _SHIFT, "name": name,
                "skills": list(skills), "tag": tag,
            }
        )  # fmt: skip
    return resources


def _groups(plans: tuple[StationPlan, ...]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for process, (step, group, _) in STEPS.items():
        members = [p.station for p in plans if p.process == process]
        groups.append({"id": group, "kind": "machine", "members": members})
        groups.append({"id": f"{step}-operators", "kind": "operator", "skill": step})
    groups.append({"id": "applicators", "kind": "tool", "skill": "crimp-applicator"})
    return groups


def plant_document(
    start: datetime,
    plans: tuple[StationPlan, ...] = HARNESS_LINE,
    absent_after_s: float = ABSENT_AFTER_S,
) -> dict[str, Any]:
    """The demo plant's model (`docs/schemas/plant.schema.json`) for a run started at `start`."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    # The operators' shift starts on the minute of the start (calendars are HH:MM) and lasts a
    # day; the grace runs from there, so the absence falls `absent_after_s` after the start.
    shift = start.replace(second=0, microsecond=0)
    local = shift.astimezone(PLANT_TZ)  # a calendar's times are the plant's clock
    grace_min = ((start - shift).total_seconds() + absent_after_s) / 60
    ready = _utc(start + timedelta(minutes=READY_MIN))
    brought = sorted({m for lines in DELIVERIES.values() for m, _, _ in lines.values()})
    materials: list[dict[str, Any]] = [
        {"id": m, "supplier": SUPPLIER, "ready": ready, **material_terms(m)} for m in brought
    ]
    materials += [{"id": m, "ready": _utc(start - timedelta(days=1))} for m in _STOCK]
    unload, inspect, shelve = HANDLING_MIN
    handling: dict[str, Any] = {"unload_min": unload, "inspect_min": inspect, "shelve_min": shelve}
    supplier: dict[str, Any] = {"id": SUPPLIER, "name": "ACME Cables & Connectors"}
    supplier.update(lorries=[LORRY[0]], lorry_names={LORRY[0]: "ACME truck 1 (M-AC 101)"})
    supplier.update(**handling, **supplier_terms())
    logistics: dict[str, Any] = {"lat": round(PLANT[0], 7), "lon": round(PLANT[1], 7)}
    logistics.update(road_factor=1.3, cruise_kmh=40, **handling)
    return {
        "site": SITE,
        "timezone": TIMEZONE,
        "slot_minutes": 1,
        "planning": {
            "improve_seconds": 0.3,
            "improve_iterations": 500,
            "absent_grace_min": round(grace_min, 4),
        },
        "calendars": [
            {"id": _ALWAYS, "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]},
            {
                "id": _SHIFT,
                "shifts": [{"days": days, "start": f"{local:%H:%M}", "end": f"{local:%H:%M}"}],
            },
        ],
        "resources": _resources(plans),
        "groups": _groups(plans),
        "materials": materials,
        "products": _products(plans),
        "tags": _tickets(plans, start),
        "leave": [
            {
                "operator": "OP-JONAS",
                "start": _utc(start - timedelta(days=2)),
                "end": _utc(start + timedelta(days=5)),
                "kind": "holiday",
            }
        ],
        "suppliers": [supplier],
        "logistics": logistics,
        "kanban": kanban_loops(),
        "transport": transport_section(),
        "tooling": _tooling(plans),
    }


def _tooling(plans: tuple[StationPlan, ...]) -> dict[str, Any]:
    """Transfer times of the applicators: crib to each crimp press, and press to press.

    The first crimp jobs start within the hour, so the plan's lookahead covers them: an
    applicator fetched for one is on its way.
    """
    presses = [p.station for p in plans if p.shared_tools]
    transfers: list[dict[str, Any]] = [
        {"from": "crib", "to": press, "minutes": CRIB_TO_CRIMP_MIN} for press in presses
    ]
    transfers += [
        {"from": a, "to": b, "minutes": CRIMP_TO_CRIMP_MIN}
        for n, a in enumerate(presses)
        for b in presses[n + 1 :]
    ]
    return {"lookahead_min": 60, "warn_at": 0.9, "transfers": transfers}


def write_master_data(
    folder: Path, start: datetime, absent_after_s: float = ABSENT_AFTER_S
) -> tuple[Path, Path]:
    """Writes `plant.json` and `orders.json` for a run started at `start`; returns both paths."""
    plant, orders = folder / "plant.json", folder / "orders.json"
    document = plant_document(start, absent_after_s=absent_after_s)
    plant.write_text(json.dumps(document, indent=1) + "\n")
    orders.write_text(json.dumps(orders_document(start), indent=1) + "\n")
    return plant, orders
