"""A station's `plc = {...}` table: which PLC, over what, and where each signal lives in it.

Checked at `--check` like every other key: a node id that is not one, a register spec that does
not parse, a stop code that names no stop reason is a `ConfigError` naming the key. The maps and
examples are in `hardware/plc-maps.md` and `hardware/examples/agent-station-plc-*.toml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent.config import check_keys, identifier, integer, need, positive, relative_path
from agent.errors import ConfigError
from agent.plc.signals import SIGNALS
from contract.payloads import STOP_REASONS

__all__ = ["PROTOCOLS", "ModbusPoint", "PlcConfig", "PlcSecurity", "parse_plc"]

PROTOCOLS: Final = ("opcua", "modbus")
_KEYS: Final = frozenset({
    "id", "protocol", "url", "mode", "interval_s", "keepalive_s", "reconnect_max_s", "nodes",
    "registers", "stop_codes", "security", "unit", "baudrate", "parity", "word_order",
})  # fmt: skip
_SECURITY_KEYS: Final = frozenset(
    {"policy", "mode", "certificate", "private_key", "server_certificate", "application_uri"}
)
_REGISTER_RE: Final = re.compile(r"^(coil|discrete|holding|input):(\d{1,5})(?::(u16|u32))?$")


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """Where one signal is in a Modbus device: table, address (0-based), counter width."""

    table: str
    address: int
    bits: int = 16

    @property
    def words(self) -> int:
        """Registers read for it (1 for a bit or a 16-bit value, 2 for 32 bits)."""
        return 2 if self.bits == 32 else 1


@dataclass(frozen=True, slots=True)
class PlcSecurity:
    """OPC UA Basic256Sha256 SignAndEncrypt with this client certificate and key."""

    certificate: Path
    private_key: Path
    server_certificate: Path | None = None
    application_uri: str = "urn:taktline:agent"


@dataclass(frozen=True, slots=True)
class PlcConfig:
    """The PLC a station's signals come from.

    Attributes:
        id: The events' source (register it in the cloud's device registry).
        url: `opc.tcp://host:port/path`, `modbus+tcp://host:port` or `modbus+rtu:///dev/ttyUSB0`.
        mode: OPC UA: `subscribe` (data change, the default) or `poll`; Modbus always polls.
        interval_s: Poll interval (and the subscription's publishing interval).
        keepalive_s: No answer from the PLC for this long raises a `plc_lost` alarm.
        nodes: OPC UA: signal -> node id (`ns=2;s=Machine.Cycles`) or browse path
            (`/Objects/2:Machine/2:Cycles`).
        registers: Modbus: signal -> where it is.
        stop_codes: PLC stop-reason code -> contract stop reason.
    """

    id: str
    protocol: str
    url: str
    mode: str = "subscribe"
    interval_s: float = 0.5
    keepalive_s: float = 5.0
    reconnect_max_s: float = 30.0
    nodes: tuple[tuple[str, str], ...] = ()
    registers: tuple[tuple[str, ModbusPoint], ...] = ()
    stop_codes: tuple[tuple[int, str], ...] = ()
    security: PlcSecurity | None = None
    unit: int = 1
    baudrate: int = 19200
    parity: str = "N"
    word_order: str = "big"
    signals: tuple[str, ...] = field(default=())


def _node(value: Any, at: str) -> str:
    from asyncua import ua

    if not isinstance(value, str) or not value:
        raise ConfigError(f"{at} must be an OPC UA node id or browse path, got {value!r}")
    if value.startswith("/"):
        for part in value.strip("/").split("/"):
            if not re.match(r"^(\d+:)?[^:/]+$", part):
                raise ConfigError(
                    f"{at}: {value!r} is not a browse path; write /Objects/2:Machine/2:Cycles"
                )
        return value
    try:
        ua.NodeId.from_string(value)
    except Exception as exc:
        raise ConfigError(
            f"{at}: {value!r} is not an OPC UA node id ({exc}); write e.g. ns=2;s=Machine.Cycles "
            "or ns=2;i=1002, or a browse path /Objects/2:Machine/2:Cycles"
        ) from exc
    return value


def _register(value: Any, signal: str, at: str) -> ModbusPoint:
    match = _REGISTER_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            f'{at}: {value!r} is not a register; write "coil:0", "discrete:3", "holding:10:u32" '
            'or "input:4:u16"'
        )
    table, address, width = match.group(1), int(match.group(2)), match.group(3)
    if address > 65535:
        raise ConfigError(f"{at}: address {address} is past 65535")
    bit = table in ("coil", "discrete")
    if bit and width:
        raise ConfigError(f"{at}: a {table} is one bit; drop :{width}")
    if signal == "run" and not bit and width:
        raise ConfigError(f"{at}: run is a bit; give a coil or discrete input, or a register")
    if signal != "run" and bit:
        raise ConfigError(f"{at}: {signal} is a number; give a holding or input register")
    return ModbusPoint(table, address, 32 if width == "u32" else 16)


def _security(raw: Any, where: str, base: Path) -> PlcSecurity:
    at = f"{where}.security"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at} must be a table with certificate and private_key")
    check_keys(raw, _SECURITY_KEYS, at)
    if raw.get("policy", "Basic256Sha256") != "Basic256Sha256":
        raise ConfigError(f"{at}: policy must be Basic256Sha256, got {raw['policy']!r}")
    if raw.get("mode", "SignAndEncrypt") != "SignAndEncrypt":
        raise ConfigError(f"{at}: mode must be SignAndEncrypt, got {raw['mode']!r}")
    server = raw.get("server_certificate")
    return PlcSecurity(
        certificate=relative_path(raw.get("certificate"), "certificate", at, base),
        private_key=relative_path(raw.get("private_key"), "private_key", at, base),
        server_certificate=None
        if server is None
        else relative_path(server, "server_certificate", at, base),
        application_uri=str(raw.get("application_uri", "urn:taktline:agent")),
    )


def parse_plc(raw: Any, where: str, station: str, base: Path) -> PlcConfig:
    """Checks a station's `plc` table."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f'{where} must be a table, e.g. [station.plc] protocol = "opcua", url = "opc.tcp://..."'
        )
    check_keys(raw, _KEYS, where)
    protocol = need(raw, "protocol", str, where)
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{where}: protocol must be one of {PROTOCOLS}, not {protocol!r}")
    url = need(raw, "url", str, where)
    schemes = ("opc.tcp://",) if protocol == "opcua" else ("modbus+tcp://", "modbus+rtu://")
    if not url.startswith(schemes):
        raise ConfigError(f"{where}: url {url!r} must start with {' or '.join(schemes)}")
    mode = raw.get("mode", "subscribe" if protocol == "opcua" else "poll")
    if mode not in (("subscribe", "poll") if protocol == "opcua" else ("poll",)):
        raise ConfigError(f"{where}: mode {mode!r} is not subscribe or poll (Modbus: poll)")
    key = "nodes" if protocol == "opcua" else "registers"
    other = "registers" if protocol == "opcua" else "nodes"
    if other in raw:
        raise ConfigError(f"{where}: {other} is for the other protocol; use {key} for {protocol}")
    table = need(raw, key, dict, where)
    check_keys(table, SIGNALS, f"{where}.{key}")
    if not table:
        raise ConfigError(f"{where}.{key}: name at least one of {list(SIGNALS)}")
    nodes: list[tuple[str, str]] = []
    registers: list[tuple[str, ModbusPoint]] = []
    for signal, value in table.items():
        at = f"{where}.{key}.{signal}"
        if protocol == "opcua":
            nodes.append((signal, _node(value, at)))
        else:
            registers.append((signal, _register(value, signal, at)))
    codes_raw = raw.get("stop_codes", {})
    if not isinstance(codes_raw, dict):
        raise ConfigError(f'{where}.stop_codes must be a table, e.g. {{ 1 = "changeover" }}')
    codes: list[tuple[int, str]] = []
    for code, reason in codes_raw.items():
        if not code.isdigit() or int(code) == 0 or int(code) > 65535:
            raise ConfigError(f"{where}.stop_codes: {code!r} must be a code from 1 to 65535")
        if reason not in STOP_REASONS:
            raise ConfigError(
                f"{where}.stop_codes.{code}: {reason!r} is not one of {list(STOP_REASONS)}"
            )
        codes.append((int(code), reason))
    if codes and "stop_reason" not in table:
        raise ConfigError(f"{where}: stop_codes needs {key}.stop_reason (where the code is)")
    parity = raw.get("parity", "N")
    if parity not in ("N", "E", "O"):
        raise ConfigError(f"{where}: parity must be N, E or O, got {parity!r}")
    word_order = raw.get("word_order", "big")
    if word_order not in ("big", "little"):
        raise ConfigError(f"{where}: word_order must be big (high word first) or little")
    interval = positive(raw, "interval_s", 0.5, where)
    keepalive = positive(raw, "keepalive_s", 5.0, where)
    if keepalive < 2 * interval:
        raise ConfigError(f"{where}: keepalive_s {keepalive} must be at least 2 x interval_s")
    security = None if "security" not in raw else _security(raw["security"], where, base)
    if security is not None and protocol != "opcua":
        raise ConfigError(f"{where}: security is for OPC UA; Modbus has none")
    return PlcConfig(
        id=identifier(raw, "id", where) if "id" in raw else f"{station}-plc",
        protocol=protocol,
        url=url,
        mode=mode,
        interval_s=interval,
        keepalive_s=keepalive,
        reconnect_max_s=positive(raw, "reconnect_max_s", 30.0, where),
        nodes=tuple(nodes),
        registers=tuple(registers),
        stop_codes=tuple(codes),
        security=security,
        unit=integer(raw, "unit", 1, where, 0, 247),
        baudrate=integer(raw, "baudrate", 19200, where, 1200, 4_000_000),
        parity=parity,
        word_order=word_order,
        signals=tuple(table),
    )
