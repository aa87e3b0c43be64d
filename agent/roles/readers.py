"""What every role's RFID readers share: their config, the tag directory, and reader health.

A reader is configured as a table (`name`, `bus`, `device`, `reset_pin`, and for a station
`reads`); `parse_reader` checks it. `TagDirectory` is the local file that says which tag is a
badge, a tool or a job ticket (`badge = ["04A1B2C3", ...]`), re-read when the file changes.
`WatchedReader` wraps `agent.rfid.RfidReader`: a reader that stops answering (SPI errors, an
unreadable version register) raises one `reader_lost` alarm and one `reader_restored` when it is
back, while the role goes on serving its other readers and inputs. `check_wiring` rejects two
devices on one pin or chip select before anything is opened.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from agent.config import check_keys, identifier, integer, relative_path
from agent.errors import ConfigError
from agent.recorder import EventRecorder
from agent.rfid import RfidReader
from contract.errors import InvalidTagId
from contract.tags import validate_tag_id
from hardware.factory import EmulatedHardware, Hardware

__all__ = [
    "HEADER_PINS",
    "KANBAN_TAPS",
    "TAG_KINDS",
    "ReaderConfig",
    "TagDirectory",
    "WatchedReader",
    "check_wiring",
    "parse_reader",
]

log = logging.getLogger(__name__)

TAG_KINDS: Final = ("badge", "tool", "ticket", "kanban")
#: What a kanban card's tap at a reader means (`kanban = ...` of a reader that reads kanban):
#: `empty` is a `kanban.empty` event, the others a `kanban.card` event with that state.
KANBAN_TAPS: Final = ("empty", "in_transit", "at_supplier", "full")
#: BCM pins on the 40-pin header a role may use for inputs, outputs and reset lines: GPIO0/1
#: (HAT EEPROM) and SPI0 (GPIO7-11: CE1, CE0, MISO, MOSI, SCLK) are taken.
HEADER_PINS: Final = frozenset(range(2, 28)) - {7, 8, 9, 10, 11}
_READER_KEYS: Final = frozenset({"name", "bus", "device", "reset_pin", "reads", "kanban"})


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """One MFRC522: its name (the events' source), SPI bus and chip select, reset pin, kinds."""

    name: str
    bus: int = 0
    device: int = 0
    reset_pin: int = 25
    reads: tuple[str, ...] = ("badge",)
    kanban: str = "empty"


def parse_reader(
    data: Any, where: str, *, default_name: str, kinds: tuple[str, ...] | None = None
) -> ReaderConfig:
    """Checks one reader table; `kinds` None means the role takes no `reads` key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table, e.g. {{ device = 0, reset_pin = 25 }}")
    check_keys(data, _READER_KEYS if kinds else _READER_KEYS - {"reads", "kanban"}, where)
    reads: tuple[str, ...] = ("badge",)
    if kinds:
        raw = data.get("reads", ["badge"])
        if (
            not isinstance(raw, list)
            or not raw
            or any(kind not in kinds for kind in raw)
            or len(set(raw)) != len(raw)
        ):
            raise ConfigError(
                f"{where}: reads must list what the reader reads, some of {list(kinds)}, "
                f'got {raw!r}; e.g. reads = ["badge", "ticket"]'
            )
        reads = tuple(raw)
    kanban = data.get("kanban", "empty")
    if kanban not in KANBAN_TAPS or ("kanban" in data and "kanban" not in reads):
        raise ConfigError(
            f"{where}: kanban must be one of {list(KANBAN_TAPS)} on a reader that reads kanban "
            f'cards, got {kanban!r}; e.g. reads = ["kanban"], kanban = "full"'
        )
    reset_pin = integer(data, "reset_pin", 25, where, 2, 27)
    if reset_pin not in HEADER_PINS:
        raise ConfigError(f"{where}: reset_pin GPIO{reset_pin} is an SPI0 pin; use e.g. 25 or 24")
    named = {"name": data.get("name", default_name)}
    return ReaderConfig(
        name=identifier(named, "name", where),
        bus=integer(data, "bus", 0, where, 0, 6),
        device=integer(data, "device", 0, where, 0, 2),
        reset_pin=reset_pin,
        reads=reads,
        kanban=kanban,
    )


def check_wiring(
    readers: Iterable[ReaderConfig], pins: Iterable[tuple[str, int]], where: str
) -> None:
    """Rejects a chip select or a pin used twice, and pins outside `HEADER_PINS`.

    Args:
        readers: Every reader of the role.
        pins: `(what, BCM pin)` of every input and output of the role.
        where: Prefix of the error message.
    """
    spi: dict[tuple[int, int], str] = {}
    used: dict[int, str] = {}
    for reader in readers:
        if reader.name in spi.values():
            raise ConfigError(f"{where}: two readers are named {reader.name!r}; rename one")
        other = spi.setdefault((reader.bus, reader.device), reader.name)
        if other != reader.name:
            raise ConfigError(
                f"{where}: readers {other!r} and {reader.name!r} share SPI {reader.bus}."
                f"{reader.device}; give each its own chip select (device = 0 or 1)"
            )
        pins = [*pins, (f"reader {reader.name} reset_pin", reader.reset_pin)]
    for what, pin in pins:
        if pin not in HEADER_PINS:
            raise ConfigError(
                f"{where}: {what} = {pin}: not a free BCM pin (use 2-6 or 12-27; 7-11 are SPI0)"
            )
        other = used.setdefault(pin, what)
        if other != what:
            raise ConfigError(f"{where}: {what} and {other} both use GPIO{pin}; give each its own")


class TagDirectory:
    """The local tag -> kind file (TOML: `badge = [...]`, `tool = [...]`, `ticket = [...]`).

    Re-read when its modification time changes; a broken edit is logged and the last good
    contents stay in use.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = self._stat()
        self._kinds = self.load(path)

    @staticmethod
    def load(path: Path) -> dict[str, str]:
        """Reads and checks the file; raises `ConfigError` naming the key and the fix."""
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read tag directory {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        check_keys(data, TAG_KINDS, str(path))
        kinds: dict[str, str] = {}
        for kind in TAG_KINDS:
            tags = data.get(kind, [])
            if not isinstance(tags, list):
                raise ConfigError(f'{path}: {kind} must be a list of tag ids, e.g. ["04A1B2C3"]')
            for tag in tags:
                try:
                    tag_id = validate_tag_id(tag)
                except InvalidTagId as exc:
                    raise ConfigError(f"{path}: {kind}: {exc}") from exc
                if kinds.setdefault(tag_id, kind) != kind:
                    raise ConfigError(
                        f"{path}: tag {tag_id} is listed as {kinds[tag_id]} and as {kind}; "
                        "keep it under one"
                    )
        return kinds

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def kind_of(self, tag: str) -> str | None:
        """The tag's kind, or None when the directory does not list it."""
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._kinds = self.load(self.path)
                log.info("tag directory %s re-read: %d tags", self.path, len(self._kinds))
            except ConfigError as exc:
                log.error("%s; keeping the previous tag directory", exc)
        return self._kinds.get(tag)


def load_directory(value: Any, where: str, base: Path) -> Path:
    """Checks a `tags` key: the file must exist and be a valid tag directory now."""
    path = relative_path(value, "tags", where, base)
    try:
        TagDirectory.load(path)
    except ConfigError as exc:
        raise ConfigError(f"{where}: tags: {exc}") from exc
    return path


class WatchedReader:
    """An `RfidReader` whose loss and return each become one `agent.alarm`.

    On emulated hardware a chip is wired to the reader's chip select if none is there yet, so an
    agent started with `hardware = "emulated"` has its readers (tests wire their own first).
    """

    def __init__(self, hardware: Hardware, config: ReaderConfig, recorder: EventRecorder) -> None:
        self.config = config
        self.name = config.name
        self.recorder = recorder
        if isinstance(hardware, EmulatedHardware) and (
            hardware.wiring.target(config.bus, config.device) is None
            and (config.bus, config.device) in hardware.wiring.nodes
        ):
            hardware.add_mfrc522(config.bus, config.device, reset_pin=config.reset_pin)
        self.reader = RfidReader(
            hardware, config.bus, config.device, reset_pin=config.reset_pin, name=config.name
        )
        self.lost = False
        self._check()

    def poll(self) -> str | None:
        """Scans once; returns a tag that entered the field, and raises health alarms."""
        tag = self.reader.poll()
        self._check()
        return tag

    def _check(self) -> None:
        where = f"reader {self.name} (SPI {self.config.bus}.{self.config.device})"
        if not self.reader.is_connected and not self.lost:
            self.lost = True
            log.error(
                "%s lost: %s (serving the other readers and inputs)", where, self.reader.error
            )
            self.recorder.alarm("reader_lost", f"{where}: {self.reader.error}")
        elif self.reader.is_connected and self.lost:
            self.lost = False
            log.warning("%s is back", where)
            self.recorder.alarm("reader_restored", f"{where} answers again")

    def close(self) -> None:
        """Releases the reader's SPI device and reset pin."""
        self.reader.close()

    def __enter__(self) -> WatchedReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
