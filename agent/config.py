"""The agent's TOML configuration: who it is, where its broker and outbox are, what role it serves.

One file per Pi. Errors name the file, the key and the rule broken, and say how to fix it, so a
technician can fix a config from the message alone. The common keys are checked here; the
role's own section (`[[station]]`, `[gate]`, `[rest]`, `[lorry]`) is checked by the role's
`parse` from `agent.roles.ROLES`. The helpers below (`need`, `identifier`, `positive`, ...) are
for those parsers too. Example (see `hardware/examples/` for one file per role)::

    agent = "pi-crimp-01"
    site = "plant1"
    area = "harness"
    role = "station"            # station (default), gate, rest or lorry
    hardware = "pi"             # pi, or emulated (never chosen silently)
    broker = "mqtt://127.0.0.1:1883"
    outbox = "/var/lib/taktline/outbox.db"

    [[station]]
    id = "crimp-01"

    [[rule]]                    # edge rules, any role (agent.rules)
    id = "stop-red"
    when = { event = "machine.signal", signal = "run", on = false }
    do = { stack_light = "red", station = "crimp-01" }
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.errors import ConfigError
from contract.fields import ID_PATTERN
from contract.topics import SEGMENT_PATTERN

if TYPE_CHECKING:
    from agent.roles.station import StationConfig
    from agent.rules import Rule

__all__ = [
    "HARDWARE",
    "ID_RE",
    "AgentConfig",
    "check_keys",
    "identifier",
    "integer",
    "load_config",
    "need",
    "parse_config",
    "positive",
    "relative_path",
]

ID_RE: Final = re.compile(ID_PATTERN)
_SEGMENT_RE: Final = re.compile(SEGMENT_PATTERN)
_SYNCHRONOUS: Final = ("FULL", "EXTRA", "NORMAL")
HARDWARE: Final = ("pi", "emulated")
_COMMON_KEYS: Final = frozenset({
    "agent", "site", "area", "broker", "outbox", "synchronous", "max_events",
    "heartbeat_s", "resend_after_s", "role", "hardware", "rule",
})  # fmt: skip
_DEFAULT_ROLE: Final = "station"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything one agent process needs to start.

    Attributes:
        role: The role's name, a key of `agent.roles.ROLES`.
        hardware: `"pi"`, `"emulated"`, or None to let `$TAKTLINE_HARDWARE` (else `pi`) decide.
        role_config: What the role's `parse` returned for its section.
        rules: The edge rules (`[[rule]]`, see `agent.rules`).
    """

    agent: str
    site: str
    area: str
    broker: str = "mqtt://127.0.0.1:1883"
    outbox: Path = Path("outbox.db")
    synchronous: str = "FULL"
    max_events: int = 1_000_000
    heartbeat_s: float = 30.0
    resend_after_s: float = 10.0
    role: str = _DEFAULT_ROLE
    hardware: str | None = None
    role_config: Any = None
    rules: tuple[Rule, ...] = ()

    @property
    def stations(self) -> tuple[StationConfig, ...]:
        """The machine stations served (empty unless the role is `station`)."""
        if self.role != "station" or self.role_config is None:
            return ()
        stations: tuple[StationConfig, ...] = self.role_config.stations
        return stations


# ----- helpers for the common keys and the roles' sections ----------------------------------


def need(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """`data[key]`, which must exist and be a `kind` (a bool is not an int here)."""
    if key not in data:
        raise ConfigError(f"{where}: missing required key {key!r}; add {key} = ...")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
    return value


def identifier(data: dict[str, Any], key: str, where: str, pattern: re.Pattern[str] = ID_RE) -> str:
    """A required name matching `pattern` (the contract's id pattern by default)."""
    value: str = need(data, key, str, where)
    if not pattern.match(value):
        raise ConfigError(
            f"{where}: {key} {value!r} does not match {pattern.pattern}; use letters, digits, "
            "'-', '_' or '.'"
        )
    return value


def positive(data: dict[str, Any], key: str, default: float, where: str) -> float:
    """An optional number > 0."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


def integer(
    data: dict[str, Any], key: str, default: int | None, where: str, low: int, high: int
) -> int:
    """An integer in `[low, high]`; required when `default` is None."""
    if default is None and key not in data:
        raise ConfigError(f"{where}: missing required key {key!r}; add {key} = <{low}..{high}>")
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_keys(data: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    """Rejects keys outside `allowed` (a typo must not be silently ignored)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {unknown} (allowed: {sorted(allowed)}); check the spelling"
        )


def relative_path(value: Any, key: str, where: str, base: Path) -> Path:
    """A path; a relative one is taken from `base` (the config file's folder)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a file path, got {value!r}")
    path = Path(value)
    return path if path.is_absolute() else base / path


# ----- the document -------------------------------------------------------------------------


def parse_config(
    data: dict[str, Any], where: str = "config", base: Path | None = None
) -> AgentConfig:
    """Validates a decoded TOML document; relative paths are taken from `base`."""
    # Imported here, not at the top: role modules import this module's helpers.
    from agent.roles import ROLES
    from agent.rules import check_rule_pins, parse_rules

    base = base if base is not None else Path.cwd()
    sections = {spec.section or name: name for name, spec in ROLES.items()}
    check_keys(data, _COMMON_KEYS | set(sections), where)
    role = data.get("role", _DEFAULT_ROLE)
    if not isinstance(role, str) or role not in ROLES:
        raise ConfigError(
            f'{where}: role must be one of {sorted(ROLES)}, not {role!r}; set role = "station"'
        )
    spec = ROLES[role]
    own = spec.section or role
    for key, owner in sections.items():
        if key in data and owner != role:
            raise ConfigError(
                f"{where}: the [{key}] section is for role {owner!r}, but this agent's role is "
                f"{role!r}; remove the section or set role = {owner!r}"
            )
    hardware = data.get("hardware")
    if hardware is not None and hardware not in HARDWARE:
        raise ConfigError(
            f'{where}: hardware must be one of {HARDWARE}, not {hardware!r}; use "pi" on a '
            'Raspberry Pi and "emulated" to run without one'
        )
    synchronous = data.get("synchronous", "FULL")
    if synchronous not in _SYNCHRONOUS:
        raise ConfigError(
            f"{where}: synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}"
        )
    outbox = Path(data.get("outbox", "outbox.db"))
    if not outbox.is_absolute():
        outbox = base / outbox
    broker = data.get("broker", "mqtt://127.0.0.1:1883")
    if not isinstance(broker, str) or not broker.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(f"{where}: broker must be an mqtt:// or mqtts:// URL, not {broker!r}")
    max_events = data.get("max_events", 1_000_000)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise ConfigError(f"{where}: max_events must be a positive integer, got {max_events!r}")
    raw = data.get(own, {})
    section = {own: raw} if isinstance(raw, list) else raw
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: {own} must be a table ([{own}]), got {raw!r}")
    role_config = spec.parse(section, where, base)
    rules = parse_rules(data.get("rule"), where)
    check_rule_pins(rules, _role_pins(role_config), where)
    return AgentConfig(
        agent=identifier(data, "agent", where),
        site=identifier(data, "site", where, _SEGMENT_RE),
        area=identifier(data, "area", where, _SEGMENT_RE),
        broker=broker,
        outbox=outbox,
        synchronous=synchronous,
        max_events=max_events,
        heartbeat_s=positive(data, "heartbeat_s", 30.0, where),
        resend_after_s=positive(data, "resend_after_s", 10.0, where),
        role=role,
        hardware=hardware,
        role_config=role_config,
        rules=rules,
    )


def _role_pins(role_config: Any) -> dict[int, str]:
    """The BCM pins a station role uses (inputs, buttons, lights, bins, reader resets)."""
    used: dict[int, str] = {}
    for station in getattr(role_config, "stations", ()):
        for name, pin in (*station.inputs, *station.stop_buttons):
            used[pin] = f"station {station.id}'s {name}"
        if station.stack_light is not None:
            for colour in ("green", "amber", "red"):
                used[getattr(station.stack_light, colour)] = f"station {station.id}'s {colour} lamp"
        for smart_bin in station.bins:
            used[smart_bin.dout] = used[smart_bin.sck] = f"bin {smart_bin.id}"
        for reader in station.readers:
            used[reader.reset_pin] = f"reader {reader.name}'s reset"
    return used


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
