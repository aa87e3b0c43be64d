"""Master data editing: the plant model loaded from JSON and CSV, changed through the API.

The plant model is one JSON document (`docs/schemas/plant.schema.json`, parsed by
`cloud.plant.parse_plant`). `MasterData` holds it and applies changes all or nothing: rows of
one section (from CSV text or JSON objects) are checked row by row (row number, column,
reason), merged into a copy of the document (a row whose key exists replaces it), and the whole
copy is validated again; only a copy without a single error replaces the document, is saved to
its file and handed to the listeners (the status's master data, the scheduler's input).
CSV columns per section are in `SECTIONS`; lists inside a cell are separated by `;`.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cloud.errors import CloudError
from cloud.plant import Plant, PlantInvalid, parse_plant
from cloud.store import fsync_dir
from taktline.files import write_private

__all__ = ["SECTIONS", "MasterData", "MasterRejected", "RowError"]


@dataclass(frozen=True)
class Column:
    """One CSV column: its name, how its text converts, whether a row must fill it."""

    name: str
    kind: str = "text"  # text, number, integer, list, flag (true/false)
    required: bool = False


def _cols(spec: str) -> tuple[Column, ...]:
    # "id! kind! calendar! skills:list" -> columns; "!" marks required.
    out = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        required = name.endswith("!")
        out.append(Column(name.rstrip("!"), kind or "text", required))
    return tuple(out)


_RESOURCE = (
    "id! calendar! name skills:list station tag tool_type operator_skills:list "
    "service_cycles:integer service_hours:number"
)

#: section -> (the document's list it edits, key fields, fixed fields, CSV columns)
SECTIONS: Final[dict[str, tuple[str, tuple[str, ...], dict[str, str], tuple[Column, ...]]]] = {
    "resources": ("resources", ("id",), {}, _cols("id! kind! " + _RESOURCE[4:])),
    "machines": ("resources", ("id",), {"kind": "machine"}, _cols(_RESOURCE)),
    "tools": ("resources", ("id",), {"kind": "tool"}, _cols(_RESOURCE)),
    "operators": ("resources", ("id",), {"kind": "operator"}, _cols(_RESOURCE)),
    "materials": (
        "materials",
        ("id",),
        {},
        _cols("id! ready supplier needed jis:flag point_of_use per_unit:number"),
    ),
    "suppliers": (
        "suppliers",
        ("id",),
        {},
        _cols(
            "id! name lorries:list unload_min:number inspect_min:number shelve_min:number "
            "transit_min:number window_min:number bucket_min:number email"
        ),
    ),
    "leave": ("leave", ("operator", "start"), {}, _cols("operator! start! end! kind")),
    "tags": ("tags", ("tag",), {}, _cols("tag! kind! ref! step product quantity:integer")),
    "groups": ("groups", ("id",), {}, _cols("id! kind! members:list skill")),
    "calendars": ("calendars", ("id",), {}, ()),
    "products": ("products", ("id",), {}, ()),
}
_PATH = re.compile(r"^plant\.(\w+)\[(\d+)\](?: \('[^']*'\))?(?:\.(\w+))?")


@dataclass(frozen=True)
class RowError:
    """One rejected row: its number (CSV: the file's line, header = 1; JSON: from 1)."""

    row: int
    column: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


class MasterRejected(CloudError, ValueError):
    """A change to the master data was refused; nothing of it was applied."""

    def __init__(self, errors: Sequence[RowError | str]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:10])
        super().__init__(f"{len(self.errors)} error(s), nothing applied: {shown}")

    def to_list(self) -> list[Any]:
        """JSON-ready errors."""
        return [e.to_dict() if isinstance(e, RowError) else {"reason": e} for e in self.errors]


class MasterData:
    """The plant model document, validated, saved and announced on every accepted change."""

    def __init__(self, document: Mapping[str, Any], *, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._document = copy.deepcopy(dict(document))
        self.plant = parse_plant(self._document)
        self.path = path
        self._listeners: list[Callable[[Plant], None]] = []

    @classmethod
    def load(cls, path: str | Path) -> MasterData:
        """Reads a plant JSON file (edits are saved back to it)."""
        target = Path(path)
        try:
            document = json.loads(target.read_text())
        except (OSError, ValueError) as exc:
            raise PlantInvalid([f"{target}: cannot read a JSON plant model ({exc})"]) from exc
        return cls(document, path=target)

    def document(self) -> dict[str, Any]:
        """A copy of the current document."""
        with self._lock:
            return copy.deepcopy(self._document)

    def subscribe(self, listener: Callable[[Plant], None]) -> None:
        """Calls `listener(plant)` now and after every accepted change."""
        self._listeners.append(listener)
        listener(self.plant)

    def replace(self, document: Any) -> Plant:
        """Replaces the whole document (validated first); raises `MasterRejected`."""
        try:
            plant = parse_plant(document)
        except PlantInvalid as exc:
            raise MasterRejected(exc.errors) from exc
        with self._lock:
            self._swap(copy.deepcopy(document), plant)
        return plant

    def import_csv(self, section: str, text: str) -> int:
        """Upserts the rows of a CSV text (header row first) into `section`; returns the count."""
        rows, errors = _read_csv(section, text)
        return self._import(section, rows, errors)

    def import_rows(self, section: str, rows: Any) -> int:
        """Upserts JSON objects into `section`; returns how many rows were applied."""
        if not isinstance(rows, list):
            raise MasterRejected(["rows must be a JSON list of objects"])
        numbered: list[tuple[int, dict[str, Any]]] = []
        errors: list[RowError] = []
        for index, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                errors.append(RowError(index, None, "must be an object"))
            else:
                numbered.append((index, row))
        return self._import(section, numbered, errors)

    def _import(
        self, section: str, rows: list[tuple[int, dict[str, Any]]], errors: list[RowError]
    ) -> int:
        if section not in SECTIONS:
            raise MasterRejected([f"unknown section {section!r}: one of {', '.join(SECTIONS)}"])
        listed, keys, fixed, _ = SECTIONS[section]
        with self._lock:
            document = copy.deepcopy(self._document)
            items = document.setdefault(listed, [])
            if not isinstance(items, list):
                raise MasterRejected([f"the document's {listed} is not a list"])
            at_index: dict[int, int] = {}
            for number, row in rows:
                item = {**row, **fixed}
                missing = [k for k in keys if k not in item]
                if missing:
                    errors.extend(RowError(number, k, "is required") for k in missing)
                    continue
                key = tuple(item[k] for k in keys)
                for index, old in enumerate(items):
                    if isinstance(old, dict) and tuple(old.get(k) for k in keys) == key:
                        items[index] = item
                        break
                else:
                    index = len(items)
                    items.append(item)
                at_index[index] = number
            try:
                plant = parse_plant(document)
            except PlantInvalid as exc:
                errors.extend(_row_errors(exc.errors, listed, at_index))
            if errors:
                ordered: list[RowError] = sorted(errors, key=lambda e: e.row)
                raise MasterRejected(ordered)
            self._swap(document, plant)
        return len(rows)

    def _swap(self, document: dict[str, Any], plant: Plant) -> None:
        if self.path is not None:
            write_private(self.path, json.dumps(document, indent=2, allow_nan=False) + "\n")
            fsync_dir(self.path.parent)  # the rename survives a power cut too
        self._document, self.plant = document, plant
        for listener in self._listeners:
            listener(plant)


def _row_errors(messages: list[str], listed: str, at_index: dict[int, int]) -> list[RowError]:
    out = []
    for message in messages:
        path, _, reason = message.partition(": ")
        found = _PATH.match(path)
        if found and found.group(1) == listed and int(found.group(2)) in at_index:
            column = found.group(3)
            out.append(RowError(at_index[int(found.group(2))], column, reason))
        else:
            out.append(RowError(0, None, message))  # row 0: the document, not one row
    return out


def _read_csv(section: str, text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    if section not in SECTIONS or not SECTIONS[section][3]:
        raise MasterRejected([f"section {section!r} cannot be loaded from CSV (use JSON)"])
    columns = {c.name: c for c in SECTIONS[section][3]}
    reader = csv.DictReader(io.StringIO(text))
    return _csv_rows(reader, columns)  # csv.Error: the web layer answers 400 (not CSV)


def _csv_rows(
    reader: csv.DictReader[str], columns: dict[str, Any]
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in columns]
    missing = [c.name for c in columns.values() if c.required and c.name not in header]
    if unknown or missing:
        problems = [RowError(1, name, "unknown column") for name in unknown]
        problems += [RowError(1, name, "required column missing") for name in missing]
        raise MasterRejected(problems)
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    for raw in reader:
        number = reader.line_num
        item: dict[str, Any] = {}
        for name, cell in raw.items():
            column = columns.get(name or "")
            if column is None or not isinstance(cell, str):
                errors.append(RowError(number, name, "more cells than columns"))
                continue
            cell = cell.strip()
            if not cell:
                if column.required:
                    errors.append(RowError(number, name, "is required"))
                continue
            try:
                item[column.name] = _convert(cell, column.kind)
            except ValueError as exc:
                errors.append(RowError(number, name, str(exc)))
        rows.append((number, item))
    return rows, errors


def _convert(cell: str, kind: str) -> Any:
    if kind == "list":
        return [part.strip() for part in cell.split(";") if part.strip()]
    if kind == "number":
        try:
            return float(cell)
        except ValueError:
            raise ValueError(f"must be a number, got {cell!r}") from None
    if kind == "flag":
        if cell.strip().lower() not in ("true", "false"):
            raise ValueError(f"must be true or false, got {cell!r}")
        return cell.strip().lower() == "true"
    if kind == "integer":
        try:
            return int(cell)
        except ValueError:
            raise ValueError(f"must be an integer, got {cell!r}") from None
    return cell
