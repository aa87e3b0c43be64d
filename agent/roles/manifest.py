"""The supplier's manifest: which package tag is which material, order and quantity, per delivery.

The file lies on the lorry's Pi (copied there with the delivery papers) as JSON
(`docs/schemas/manifest.schema.json`: `{"supplier": ..., "deliveries": [{"delivery": "D-1001",
"lines": [{"tag", "material", "order", "quantity"}]}]}`) or as CSV with the header
`delivery,tag,material,order,quantity`. A tag may appear once across the file: a tag listed
twice would make a read ambiguous, so it is rejected with both places named. `Manifest` re-reads
the file when it changes; a broken edit is logged and the last good contents stay in use.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any, Final

from agent.errors import ConfigError
from contract.errors import ContractError, InvalidTagId
from contract.fields import ID_RE, loads
from contract.tags import validate_tag_id

__all__ = ["CSV_COLUMNS", "Manifest", "ManifestLine", "load_manifest"]

log = logging.getLogger(__name__)

CSV_COLUMNS: Final = ("delivery", "tag", "material", "order", "quantity")
#: tag -> (delivery id, the line as the contract's `package.read` manifest object)
ManifestLine = tuple[str, dict[str, Any]]


def _line(raw: Any, delivery: str, where: str, lines: dict[str, ManifestLine]) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object with tag, material, order, quantity")
    missing = [key for key in ("tag", "material", "order", "quantity") if key not in raw]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}; every line needs all four")
    try:
        tag = validate_tag_id(raw["tag"])
    except InvalidTagId as exc:
        raise ConfigError(f"{where}: tag: {exc}; write the UID in upper-case hex") from exc
    for key in ("material", "order"):
        if not isinstance(raw[key], str) or not ID_RE.match(raw[key]):
            raise ConfigError(
                f"{where}: {key} {raw[key]!r} is not an id (letters, digits, '.', '_', '-')"
            )
    quantity = raw["quantity"]
    if isinstance(quantity, str):
        try:
            quantity = float(quantity) if "." in quantity else int(quantity)
        except ValueError:
            quantity = None
    if type(quantity) not in (int, float) or not 0 < quantity <= 1e9:
        raise ConfigError(f"{where}: quantity {raw['quantity']!r} must be a number in (0, 1e9]")
    if tag in lines:
        raise ConfigError(
            f"{where}: tag {tag} is listed again (first in delivery {lines[tag][0]}); "
            "a tag may appear once in the manifest"
        )
    lines[tag] = (
        delivery,
        {"material": raw["material"], "order": raw["order"], "quantity": quantity},
    )


def _delivery(value: Any, where: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ConfigError(f"{where}: delivery {value!r} is not an id (e.g. D-1001)")
    return value


def load_manifest(path: Path) -> dict[str, ManifestLine]:
    """Reads and checks a manifest (JSON, or CSV when the name ends in `.csv`).

    Raises:
        ConfigError: The file cannot be read or breaks a rule; the message names the place.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc.strerror}") from exc
    lines: dict[str, ManifestLine] = {}
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ConfigError(
                f"{path}: the header must be {','.join(CSV_COLUMNS)}, got {reader.fieldnames}"
            )
        for number, row in enumerate(reader, start=2):
            where = f"{path} line {number}"
            _line(row, _delivery(row["delivery"], where), where, lines)
        return lines
    try:
        data = loads(text, str(path))
    except ContractError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    deliveries = data.get("deliveries") if isinstance(data, dict) else None
    if not isinstance(deliveries, list):
        raise ConfigError(f'{path}: needs "deliveries": [{{"delivery": ..., "lines": [...]}}]')
    for i, entry in enumerate(deliveries):
        where = f"{path}: deliveries[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("lines"), list):
            raise ConfigError(f'{where} must be {{"delivery": "D-1001", "lines": [...]}}')
        delivery = _delivery(entry.get("delivery"), where)
        for j, raw in enumerate(entry["lines"]):
            _line(raw, delivery, f"{where}.lines[{j}]", lines)
    return lines


class Manifest:
    """The manifest file, re-read when it changes (a broken edit keeps the last good one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = self._stat()
        self._lines = load_manifest(path)

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def __len__(self) -> int:
        return len(self._lines)

    def lookup(self, tag: str) -> ManifestLine | None:
        """The delivery and line listing `tag`, or None when the manifest does not list it."""
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._lines = load_manifest(self.path)
                log.info("manifest %s re-read: %d tags", self.path, len(self._lines))
            except ConfigError as exc:
                log.error("%s; keeping the previous manifest", exc)
        return self._lines.get(tag)
