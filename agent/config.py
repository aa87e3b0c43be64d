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
    broker = "mqtt://pi-crimp-01@127.0.0.1:1883"
    broker_password_file = "/etc/taktline/broker.password"   # or $TAKTLINE_BROKER_PASSWORD
    # or, with a device certificate from the plant CA (`taktline cloud devices provision`):
    # broker = "mqtts://broker.plant1:8883"
    # ca_file = "/etc/taktline/tls/ca.pem"
    # cert_file = "/etc/taktline/tls/pi-crimp-01.pem"
    # key_file = "/etc/taktline/tls/pi-crimp-01.key"      # must be 0600
    outbox = "/var/lib/taktline/outbox.db"

    [[station]]
    id = "crimp-01"

    [[rule]]                    # edge rules, any role (agent.rules)
    id = "stop-red"
    when = { event = "machine.signal", signal = "run", on = false }
    do = { stack_light = "red", station = "crimp-01" }
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.errors import ConfigError
from contract.fields import ID_PATTERN
from contract.topics import SEGMENT_PATTERN
from taktline.mqtt import BrokerSettings, read_secret, redacted, tls_files

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
    "read_config",
    "relative_path",
]

ID_RE: Final = re.compile(ID_PATTERN, re.ASCII)
_SEGMENT_RE: Final = re.compile(SEGMENT_PATTERN, re.ASCII)
#: Where the broker password comes from when the config names no file (never argv, never logs).
PASSWORD_ENV: Final = "TAKTLINE_BROKER_PASSWORD"
_SYNCHRONOUS: Final = ("FULL", "EXTRA", "NORMAL")
HARDWARE: Final = ("pi", "emulated")
_COMMON_KEYS: Final = frozenset({
    "agent", "site", "area", "broker", "broker_password_file", "outbox", "synchronous",
    "max_events",
    "heartbeat_s", "resend_after_s", "role", "hardware", "metrics", "rule",
    "ca_file", "cert_file", "key_file",
})  # fmt: skip
_DEFAULT_ROLE: Final = "station"
#: The largest number of seconds (or other positive quantity) a config may give: about a year.
_MAX_SECONDS: Final = 31_622_400.0


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
    #: Where the agent serves its Prometheus metrics (`host:port`), or None for nowhere.
    metrics: tuple[str, int] | None = None
    #: the broker password file (`broker_password_file`), read when the agent starts
    broker_password_file: Path | None = None
    #: TLS files for an mqtts:// broker: the plant CA, this agent's certificate and key (0600).
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def broker_url(self) -> str:
        """The broker URL with any password in it replaced by `***` (for logs)."""
        return redacted(self.broker)

    def broker_settings(self) -> BrokerSettings:
        """The broker settings, with the password from the file or `$TAKTLINE_BROKER_PASSWORD`.

        A password in the URL itself is kept (the config file is the agent's own, 0600) unless
        a file or the environment gives one.
        """
        file = str(self.broker_password_file) if self.broker_password_file else None
        try:
            password = read_secret(file=file, env=PASSWORD_ENV)
        except ValueError as exc:
            raise ConfigError(f"broker_password_file: {exc}") from exc
        try:
            tls = tls_files(
                self.broker,
                ca_file=str(self.ca_file) if self.ca_file else None,
                cert_file=str(self.cert_file) if self.cert_file else None,
                key_file=str(self.key_file) if self.key_file else None,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if password is None:
            return BrokerSettings.from_url(self.broker, **tls)
        return BrokerSettings.from_url(self.broker, password=password, **tls)

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
    if not pattern.fullmatch(value):
        raise ConfigError(
            f"{where}: {key} {value!r} does not match {pattern.pattern}; use letters, digits, "
            "'-', '_' or '.'"
        )
    return value


def positive(
    data: dict[str, Any], key: str, default: float, where: str, high: float = _MAX_SECONDS
) -> float:
    """An optional number > 0 (and at most `high`: by default about a year of seconds)."""
    value = data.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= high
    ):
        raise ConfigError(f"{where}: {key} must be a positive number up to {high:g}, got {value!r}")
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
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ConfigError(f"{where}: {key} must be a file path (no NUL), got {value!r}")
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
    outbox = relative_path(data.get("outbox", "outbox.db"), "outbox", where, base)
    broker = data.get("broker", "mqtt://127.0.0.1:1883")
    if not isinstance(broker, str) or not broker.startswith(("mqtt://", "mqtts://")):
        shown = redacted(broker) if isinstance(broker, str) else repr(broker)
        raise ConfigError(f"{where}: broker must be an mqtt:// or mqtts:// URL, not {shown}")
    try:
        BrokerSettings.from_url(broker)  # what the run does: --check must refuse what it refuses
    except ValueError as exc:
        raise ConfigError(f"{where}: broker: {exc}") from exc
    password_file = data.get("broker_password_file")
    if password_file is not None:
        password_file = relative_path(password_file, "broker_password_file", where, base)
    tls = {
        key: relative_path(data[key], key, where, base) if key in data else None
        for key in ("ca_file", "cert_file", "key_file")
    }
    try:
        tls_files(broker, **{key: str(path) if path else None for key, path in tls.items()})
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    max_events = data.get("max_events", 1_000_000)
    if (
        isinstance(max_events, bool)
        or not isinstance(max_events, int)
        or not 1 <= max_events <= 1_000_000_000
    ):
        raise ConfigError(
            f"{where}: max_events must be an integer from 1 to 1000000000, got {max_events!r}"
        )
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
        broker_password_file=password_file,
        ca_file=tls["ca_file"],
        cert_file=tls["cert_file"],
        key_file=tls["key_file"],
        metrics=_address(data, "metrics", where),
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


def _address(data: dict[str, Any], key: str, where: str) -> tuple[str, int] | None:
    """`host:port` (IPv6 as `[::1]:9101`), or None when the key is absent."""
    value = data.get(key)
    if value is None:
        return None
    text = value if isinstance(value, str) else ""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f'{where}: {key} must be "host:port" with a port from 1 to 65535, got {value!r}; '
            f'e.g. {key} = "127.0.0.1:9101"'
        )
    return host, int(port)


def load_config(path: str | Path) -> AgentConfig:
    """Reads and validates an agent's TOML file."""
    if "\x00" in os.fspath(path):
        raise ConfigError(f"agent config path {os.fspath(path)!r} holds a NUL")
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read agent config {path}: {exc.strerror}") from exc
    return read_config(raw, str(path), path.parent)


def read_config(raw: bytes, where: str, base: Path) -> AgentConfig:
    """Validates a config file's bytes (UTF-8 TOML); every fault is a `ConfigError`."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{where}: not valid TOML: nested too deeply") from exc
    return parse_config(data, where, base)
