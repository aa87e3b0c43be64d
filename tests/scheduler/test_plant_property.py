from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.plant import parse_orders, parse_plant
from cloud.scheduler.arrays import build
from cloud.scheduler.backward import plan_backward

from .test_backward import assert_feasible

NOW = datetime(2026, 3, 23, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin (CET)
DAYS = ["mon", "tue", "wed", "thu", "fri"]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 11),  # working day after now (crosses the DST change on Mar 29)
            st.integers(0, 7 * 60),  # minutes into the day shift (08:00-16:00 local) for due
            st.integers(1, 30),  # quantity
            st.integers(0, 1),  # two steps or one
        ),
        min_size=1,
        max_size=6,
    )
)
def test_uncongested_plant_meets_feasible_due_dates(
    rows: list[tuple[int, int, int, int]],
) -> None:
    n = len(rows)
    plant = parse_plant(
        {
            "site": "prop",
            "timezone": "Europe/Berlin",
            "calendars": [
                {"id": "day", "shifts": [{"days": DAYS, "start": "08:00", "end": "16:00"}]}
            ],
            # every order has machines of its own: nothing competes
            "resources": [
                {"id": f"M{i}-{k}", "kind": "machine", "calendar": "day"}
                for i in range(n)
                for k in range(2)
            ],
            "groups": [
                {"id": f"g{i}-{k}", "kind": "machine", "members": [f"M{i}-{k}"]}
                for i in range(n)
                for k in range(2)
            ],
            "products": [
                {
                    "id": f"P{i}",
                    "steps": [
                        {
                            "id": "a",
                            "per_unit_min": 1,
                            "holds": [{"group": f"g{i}-0"}],
                            "transfer_min": 5,
                        },
                        {"id": "b", "per_unit_min": 1, "holds": [{"group": f"g{i}-1"}]},
                    ][1 - two :],
                }
                for i, (_, _, _, two) in enumerate(rows)
            ],
        }
    )
    tz = plant.tz
    orders_doc = []
    expect_on_time = []
    for i, (day, minute, qty, two) in enumerate(rows):
        local_day = (NOW.astimezone(tz) + timedelta(days=day)).date()
        while local_day.weekday() >= 5:
            local_day += timedelta(days=1)
        shift_start = datetime(local_day.year, local_day.month, local_day.day, 8, tzinfo=tz)
        due = shift_start + timedelta(minutes=minute)
        lead = qty * (2 if two else 1) + (5 if two else 0)
        # feasible: the whole right-aligned chain fits in the shift, after now
        expect_on_time.append(minute >= lead and due - timedelta(minutes=lead) >= NOW)
        orders_doc.append(
            {
                "id": f"O{i}",
                "product": f"P{i}",
                "quantity": qty,
                "due": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    model = build(plant, parse_orders({"orders": orders_doc}, plant), NOW)
    p = model.problem
    plan = plan_backward(p)
    assert_feasible(p, plan)
    last = p.order_ptr[1:] - 1
    ends = plan.start[last] + p.dur[last]
    for o, ok in enumerate(expect_on_time):
        if ok:
            assert ends[o] == p.due[last[o]], f"order {o} should end at its due date"
    assert np.all(plan.start[plan.start >= 0] >= 0)
