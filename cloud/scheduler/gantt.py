"""The plan drawn per resource as an SVG Gantt chart (no plotting library needed)."""

from __future__ import annotations

import zlib
from xml.sax.saxutils import escape

from cloud.scheduler.arrays import Model
from cloud.scheduler.backward import Plan

__all__ = ["gantt_svg"]

_ROW = 18
_LEFT = 140
_WIDTH = 1200


def _colour(name: str) -> str:
    hue = zlib.crc32(name.encode()) % 360
    return f"hsl({hue},55%,60%)"


def gantt_svg(model: Model, plan: Plan) -> str:
    """Returns an SVG document: one row per resource, one bar per held window."""
    p = model.problem
    plant = model.plant
    placed = plan.start[plan.start >= 0]
    if placed.shape[0] == 0:
        t0, t1 = 0, 1
    else:
        t0 = int(placed.min())
        t1 = int((plan.start + p.dur)[plan.start >= 0].max())
    scale = _WIDTH / max(t1 - t0, 1)
    n_res = len(plant.resources)
    height = (n_res + 2) * _ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 20}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(plant.site)}: plan from {model.time_of(t0).isoformat()}"
        f" to {model.time_of(t1).isoformat()}</title>",
    ]
    for i, res in enumerate(plant.resources):
        y = (i + 1) * _ROW
        out.append(f'<text x="4" y="{y + 12}">{escape(res.id)} ({res.kind})</text>')
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + _WIDTH}" y1="{y + _ROW}" y2="{y + _ROW}" '
            'stroke="#ddd"/>'
        )
    for s, (o, step) in enumerate(model.steps):
        if plan.start[s] < 0:
            continue
        order = model.orders[o].id
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            r = int(plan.res[q])
            a = int(plan.start[s] + p.req_off[q])
            x = _LEFT + (a - t0) * scale
            w = max(int(p.req_len[q]) * scale, 1.0)
            y = (r + 1) * _ROW + 2
            label = f"{order} / {step.id}: {model.time_of(a).isoformat()}"
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 4}" '
                f'fill="{_colour(order)}"><title>{escape(label)}</title></rect>'
            )
    out.append("</svg>")
    return "\n".join(out)
