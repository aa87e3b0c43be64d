"""A supplier's call-off document: lines with delivery windows and ship times, the JIS sequence.

`content(plant, supplier, needs)` turns the requirement (`cloud.calloff.requirement`) of the
supplier's materials into the document's body: one line per material, point of use and time
bucket — deliver `quantity` within [`start`, `end`), the window ending when the bucket's need
begins and `window_min` long; `ship_by`, the promised ship time, is the window's start less the
supplier's `transit_min` — and, for just-in-sequence materials, the orders in line order
(`seq` from 1 per material and point of use). `digest` is the SHA-256 of the canonical body: a
new version is issued only when it changes. `changes` says what changed from the version
before, line by line; `to_csv` writes the document as CSV (lines, then the sequence).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cloud.calloff.requirement import Need, buckets, sequences
from cloud.plant import Plant
from contract.logistics import MAX_CALLOFF_LINES, MAX_CHANGES

__all__ = ["CSV_COLUMNS", "changes", "content", "digest", "to_csv"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def content(plant: Plant, supplier: str, needs: Sequence[Need]) -> dict[str, Any]:
    """The body of `supplier`'s call-off: `lines`, `sequence` and the earliest `ship_by`.

    At most `MAX_CALLOFF_LINES` lines and as many in sequence, the earliest; `left_out` counts
    the rest (they come with later versions, as the earlier ones leave the plan).
    """
    terms = plant.suppliers[supplier]
    mine = [n for n in needs if plant.materials[n.material].supplier == supplier]
    window = timedelta(minutes=terms.window_min)
    transit = timedelta(minutes=terms.transit_min)
    lines: list[dict[str, Any]] = []
    every = buckets(plant, mine)
    for bucket in every[:MAX_CALLOFF_LINES]:
        start = bucket.start - window
        lines.append(
            {
                "material": bucket.material,
                "point_of_use": bucket.point_of_use,
                "start": _iso(start),
                "end": _iso(bucket.start),
                "quantity": bucket.quantity,
                "ship_by": _iso(start - transit),
            }
        )
    sequence = []
    in_sequence = 0
    for (material, point), items in sorted(sequences(plant, mine).items()):
        in_sequence += len(items)
        for seq, need in enumerate(items[:MAX_CALLOFF_LINES], start=1):
            sequence.append(
                {
                    "material": material,
                    "point_of_use": point,
                    "seq": seq,
                    "order": need.order,
                    "step": need.step,
                    "needed": _iso(need.needed),
                    "quantity": need.quantity,
                }
            )
    ship_by = min((str(line["ship_by"]) for line in lines), default=None)
    sequence = sequence[:MAX_CALLOFF_LINES]
    left_out = len(every) - len(lines) + in_sequence - len(sequence)
    return {"ship_by": ship_by, "lines": lines, "sequence": sequence, "left_out": left_out}


def digest(body: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical lines and sequence (keys sorted, no whitespace)."""
    text = json.dumps(
        {"lines": body["lines"], "sequence": body["sequence"]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _line_key(line: Mapping[str, Any]) -> tuple[str, str, str]:
    return line["material"], line["point_of_use"], line["end"]


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """What changed from `before` (None: the first version) to `after`, one line each."""
    if before is None:
        return ["first call-off"]
    out: list[str] = []
    old = {_line_key(x): x for x in before["lines"]}
    new = {_line_key(x): x for x in after["lines"]}
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k[2], k[0], k[1])):
        material, point, end = key
        a, b = old.get(key), new.get(key)
        where = f"{material} at {point} by {end}"
        if a is None and b is not None:
            out.append(f"{where}: new line, {b['quantity']:g}")
        elif b is None and a is not None:
            out.append(f"{where}: line dropped (was {a['quantity']:g})")
        elif a is not None and b is not None and a["quantity"] != b["quantity"]:
            out.append(f"{where}: {a['quantity']:g} -> {b['quantity']:g}")
    old_seq, new_seq = _orders(before["sequence"]), _orders(after["sequence"])
    for pair, orders in sorted(new_seq.items()):
        if orders != old_seq.get(pair, []):
            out.append(f"sequence of {pair[0]} at {pair[1]}: {' '.join(orders) or '-'}"[:200])
    for pair in sorted(old_seq.keys() - new_seq.keys()):
        out.append(f"sequence of {pair[0]} at {pair[1]}: dropped"[:200])
    if len(out) > MAX_CHANGES:
        out = [*out[: MAX_CHANGES - 1], f"and {len(out) - MAX_CHANGES + 1} more changes"]
    return [line[:200] for line in out] or ["no line changed"]


def _orders(sequence: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for item in sequence:
        out.setdefault((item["material"], item["point_of_use"]), []).append(item["order"])
    return out


CSV_COLUMNS = (
    "supplier", "version", "issued", "kind", "material", "point_of_use", "start", "end",
    "quantity", "ship_by", "seq", "order", "step", "needed",
)  # fmt: skip


def to_csv(document: Mapping[str, Any]) -> str:
    """The call-off as CSV (`CSV_COLUMNS`): its lines (`kind` line), then its sequence."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    info = {k: document.get(k, "") for k in ("supplier", "version", "issued")}
    for line in document["lines"]:
        writer.writerow({**info, "kind": "line", **line, "quantity": f"{line['quantity']:g}"})
    for item in document["sequence"]:
        writer.writerow({**info, "kind": "sequence", **item, "quantity": f"{item['quantity']:g}"})
    return out.getvalue()
