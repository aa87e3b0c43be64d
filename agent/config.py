"""The agent's TOML configuration: who it is, where its broker and outbox are, what it serves.

One file per Pi. Errors name the file, the key and the rule broken, so a technician can fix a
config from the message alone. Example (see `hardware/examples/agent-crimp-01.toml`)::

    agent = "pi-crimp-01"
    site = "plant1"
    area = "harness"
    broker = "mqtt://127.0.0.1:1883"
    outbox = "/var/lib/taktline/outbox.db"

    [[station]]
    id = "crimp-01"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent.errors import ConfigError
from contract.fields import ID_PATTERN
from contract.topics import SEGMENT_PATTERN

__all__ = ["AgentConfig", "StationConfig", "load_config", "parse_config"]

_ID_RE: Final = re.compile(ID_PATTERN)
_SEGMENT_RE: Final = re.compile(SEGMENT_PATTERN)
_SYNCHRONOUS: Final = ("FULL", "EXTRA", "NORMAL")
_TOP_KEYS: Final = {
    "agent", "site", "area", "broker", "outbox", "synchronous", "max_events",
    "heartbeat_s", "resend_after_s", "station",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StationConfig:
    """A machine station this agent serves (its readers and signals arrive with the roles)."""

    id: str


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything one agent process needs to start."""

    agent: str
    site: str
    area: str
    broker: str = "mqtt://127.0.0.1:1883"
    outbox: Path = Path("outbox.db")
    synchronous: str = "FULL"
    max_events: int = 1_000_000
    heartbeat_s: float = 30.0
    resend_after_s: float = 10.0
    stations: tuple[StationConfig, ...] = field(default_factory=tuple)


def _need(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ConfigError(f"{where}: missing required key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
    return value


def _name(data: dict[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str:
    value: str = _need(data, key, str, where)
    if not pattern.match(value):
        raise ConfigError(f"{where}: {key} {value!r} does not match {pattern.pattern}")
    return value


def _positive(data: dict[str, Any], key: str, default: float, where: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


def parse_config(
    data: dict[str, Any], where: str = "config", base: Path | None = None
) -> AgentConfig:
    """Validates a decoded TOML document; relative paths are taken from `base`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown} (allowed: {sorted(_TOP_KEYS)})")
    synchronous = data.get("synchronous", "FULL")
    if synchronous not in _SYNCHRONOUS:
        raise ConfigError(
            f"{where}: synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}"
        )
    outbox = Path(data.get("outbox", "outbox.db"))
    if not outbox.is_absolute() and base is not None:
        outbox = base / outbox
    broker = data.get("broker", "mqtt://127.0.0.1:1883")
    if not isinstance(broker, str) or not broker.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(f"{where}: broker must be an mqtt:// or mqtts:// URL, not {broker!r}")
    stations = []
    for index, item in enumerate(data.get("station", [])):
        at = f"{where}: station[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at} must be a table")
        stations.append(StationConfig(id=_name(item, "id", _ID_RE, at)))
    max_events = data.get("max_events", 1_000_000)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise ConfigError(f"{where}: max_events must be a positive integer, got {max_events!r}")
    return AgentConfig(
        agent=_name(data, "agent", _ID_RE, where),
        site=_name(data, "site", _SEGMENT_RE, where),
        area=_name(data, "area", _SEGMENT_RE, where),
        broker=broker,
        outbox=outbox,
        synchronous=synchronous,
        max_events=max_events,
        heartbeat_s=_positive(data, "heartbeat_s", 30.0, where),
        resend_after_s=_positive(data, "resend_after_s", 10.0, where),
        stations=tuple(stations),
    )


def load_config(path: str | Path) -> AgentConfig:
    """Reads and validates an agent's TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read agent config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data, str(path), path.parent)
