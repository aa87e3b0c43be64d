"""The plan drawn per resource as an SVG Gantt chart (no plotting library needed).

One row per resource (its master-data name, the id in the tooltip), one bar per held window
labelled with its order and step where the bar is wide enough (always in the tooltip), a time
axis with ticks in the plant's time zone, a dashed due marker per order (red when the order ends
late), and a legend of the orders' colours with their due times and lateness.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Final
from xml.sax.saxutils import escape

from cloud.scheduler.arrays import Model
from cloud.scheduler.backward import Plan

__all__ = ["gantt_svg"]

_ROW: Final = 20
_LEFT: Final = 180
_WIDTH: Final = 1200
_AXIS: Final = 34
_LEGEND_ROW: Final = 16
_CHAR_PX: Final = 6.2  # average width of an 11 px sans-serif character
#: Tick spacings (minutes) to choose from: the first that gives at most ~12 ticks.
_TICKS_MIN: Final = (15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)


def _colour(name: str) -> str:
    hue = zlib.crc32(name.encode()) % 360
    return f"hsl({hue},55%,62%)"


def _fit(text: str, width_px: float) -> str | None:
    """`text`, cut with an ellipsis to fit `width_px`, or None when not even 3 characters fit."""
    room = int((width_px - 6) / _CHAR_PX)
    if room >= len(text):
        return text
    return text[: room - 1] + "…" if room >= 4 else None


def _tick_minutes(span_min: float) -> int:
    return next((t for t in _TICKS_MIN if span_min / t <= 12), _TICKS_MIN[-1])


def _duration(minutes: float) -> str:
    minutes = round(minutes)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours / 24:.1f} d"


def gantt_svg(model: Model, plan: Plan) -> str:
    """Returns an SVG document: one row per resource, one bar per held window."""
    p = model.problem
    plant = model.plant
    tz = plant.tz
    slot_min = plant.slot_minutes
    placed_steps = plan.start >= 0
    ends = plan.start + p.dur
    # each order's end (slot) and due (slot, from the order's due time)
    order_end: dict[int, int] = {}
    for s, (o, _step) in enumerate(model.steps):
        if placed_steps[s]:
            order_end[o] = max(order_end.get(o, -(10**9)), int(ends[s]))
    due_slot = {
        o: (model.orders[o].due - model.origin).total_seconds() / 60 / slot_min for o in order_end
    }
    if not order_end:
        t0, t1 = 0, 1
    else:
        t0 = int(plan.start[placed_steps].min())
        t1 = max(int(ends[placed_steps].max()), int(max(due_slot.values())) + 1)
        t0 = min(t0, int(min(due_slot.values())))
    scale = _WIDTH / max(t1 - t0, 1)

    def x_of(slot: float) -> float:
        return _LEFT + (slot - t0) * scale

    n_res = len(plant.resources)
    chart_bottom = _AXIS + n_res * _ROW
    legend_top = chart_bottom + 24
    legend = sorted(order_end, key=lambda o: (model.orders[o].due, model.orders[o].id))
    height = legend_top + (len(legend) + 2) * _LEGEND_ROW + 10
    start, end = model.time_of(t0).astimezone(tz), model.time_of(t1).astimezone(tz)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 20}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(plant.site)}: plan from {start.isoformat()} to {end.isoformat()}</title>",
        f'<text x="4" y="14" font-weight="bold">{escape(plant.site)}: plan, times in '
        f"{escape(plant.timezone)}</text>",
    ]
    # time axis: ticks at whole local hours/days
    step_min = _tick_minutes((t1 - t0) * slot_min)
    first = start.replace(minute=0, second=0, microsecond=0)
    if step_min >= 1440:
        first = first.replace(hour=0)
    elif step_min >= 60:  # whole multiples of the step in local time: 00:00, 06:00, 12:00...
        first = first.replace(hour=first.hour - first.hour % (step_min // 60))
    moment: datetime = first
    last_day = None
    while moment <= end:
        slot = (moment - model.origin).total_seconds() / 60 / slot_min
        if slot >= t0:
            x = x_of(slot)
            label = moment.strftime("%H:%M")
            if moment.date() != last_day:  # the date at the first tick and at each new day
                label = moment.strftime("%a %d %b" + (" %H:%M" if moment.hour else ""))
                last_day = moment.date()
            out.append(
                f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{_AXIS - 6}" '
                f'y2="{chart_bottom}" stroke="#e4e4e4"/>'
            )
            out.append(
                f'<text class="tick-label" x="{x + 2:.1f}" y="{_AXIS - 10}">{escape(label)}</text>'
            )
        moment = (moment + timedelta(minutes=step_min)).astimezone(tz)
    for i, res in enumerate(plant.resources):
        y = _AXIS + i * _ROW
        name = _fit(res.name or res.id, _LEFT - 8) or res.id
        out.append(
            f'<text class="row-label" x="4" y="{y + 14}">{escape(name)}'
            f"<title>{escape(res.id)} ({escape(res.kind)})</title></text>"
        )
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + _WIDTH}" y1="{y + _ROW}" y2="{y + _ROW}" '
            'stroke="#ddd"/>'
        )
    for s, (o, step) in enumerate(model.steps):
        if not placed_steps[s]:
            continue
        order = model.orders[o].id
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            r = int(plan.res[q])
            a = int(plan.start[s] + p.req_off[q])
            x = x_of(a)
            w = max(int(p.req_len[q]) * scale, 1.0)
            y = _AXIS + r * _ROW + 2
            text = f"{order} / {step.id}"
            when = model.time_of(a).astimezone(tz)
            tip = f"{text}: {when:%a %d %b %H:%M}, {_duration(int(p.req_len[q]) * slot_min)}"
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 4}" '
                f'fill="{_colour(order)}"><title>{escape(tip)}</title></rect>'
            )
            shown = _fit(text, w)
            if shown is not None:
                out.append(
                    f'<text class="bar-label" x="{x + 3:.1f}" y="{y + 12}" '
                    f'pointer-events="none">{escape(shown)}</text>'
                )
    for o in legend:
        late = order_end[o] > due_slot[o]
        x = x_of(due_slot[o])
        colour = "#c0392b" if late else "#555"
        out.append(
            f'<line class="due" x1="{x:.1f}" x2="{x:.1f}" y1="{_AXIS - 4}" y2="{chart_bottom}" '
            f'stroke="{colour}" stroke-dasharray="3,3"><title>'
            f"{escape(model.orders[o].id)} due "
            f"{model.orders[o].due.astimezone(tz):%a %d %b %H:%M}</title></line>"
        )
    y = legend_top
    out.append(
        f'<text x="4" y="{y}" font-weight="bold">Orders</text>'
        f'<text x="{_LEFT}" y="{y}" fill="#555">dashed line: due time (red: the order ends '
        "late)</text>"
    )
    for o in legend:
        y += _LEGEND_ROW
        entry = model.orders[o]
        late_min = (order_end[o] - due_slot[o]) * slot_min
        state = f"late {_duration(late_min)}" if late_min > 0 else "on time"
        fill = ' fill="#c0392b"' if late_min > 0 else ""
        out.append(
            f'<rect class="legend" x="4" y="{y - 10}" width="12" height="12" '
            f'fill="{_colour(entry.id)}"/>'
            f'<text x="22" y="{y}"{fill}>'
            f"{escape(entry.id)} ({escape(entry.product)}): due "
            f"{entry.due.astimezone(tz):%a %d %b %H:%M}, {state}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
