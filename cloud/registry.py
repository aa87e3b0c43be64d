"""The device registry file: which agents exist where, and which source devices each one owns.

The cloud accepts an event only from a registered agent, published under that agent's own path,
from a source registered to that agent (or the agent itself). JSON, e.g.::

    {"agents": [{"agent": "pi-crimp-01", "site": "plant1", "area": "harness",
                 "devices": [{"source": "crimp-01-badge", "station": "crimp-01"}]}]}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from cloud.errors import CloudError
from cloud.store import EventLog
from contract.errors import ContractError
from contract.fields import ID_PATTERN, loads
from contract.topics import SEGMENT_PATTERN

__all__ = ["RegistryError", "apply_registry", "load_registry"]

_ID_RE: Final = re.compile(ID_PATTERN, re.ASCII)
_SEGMENT_RE: Final = re.compile(SEGMENT_PATTERN, re.ASCII)


class RegistryError(CloudError):
    """The registry file breaks a rule (the message names the entry)."""


def _text(item: dict[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RegistryError(f"{where}: {key} {value!r} does not match {pattern.pattern}")
    return value


def load_registry(path: str | Path) -> list[dict[str, Any]]:
    """Reads and validates a registry file; returns its agents."""
    path = Path(path)
    try:
        data = loads(path.read_bytes(), str(path))
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc.strerror}") from exc
    except ContractError as exc:
        raise RegistryError(str(exc)) from exc
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, list):
        raise RegistryError(f"{path}: expected an object with an 'agents' list")
    seen: dict[str, str] = {}
    for index, item in enumerate(agents):
        where = f"{path}: agents[{index}]"
        if not isinstance(item, dict):
            raise RegistryError(f"{where} must be an object")
        agent = _text(item, "agent", _ID_RE, where)
        _text(item, "site", _SEGMENT_RE, where)
        _text(item, "area", _SEGMENT_RE, where)
        for number, device in enumerate(item.get("devices", [])):
            at = f"{where}.devices[{number}]"
            if not isinstance(device, dict):
                raise RegistryError(f"{at} must be an object")
            source = _text(device, "source", _ID_RE, at)
            if device.get("station") is not None:
                _text(device, "station", _ID_RE, at)
            if source in seen and seen[source] != agent:
                raise RegistryError(f"{at}: source {source!r} already belongs to {seen[source]!r}")
            seen[source] = agent
    return agents


def apply_registry(log: EventLog, agents: list[dict[str, Any]]) -> None:
    """Registers every agent and device of a validated registry in the event log's tables."""
    for item in agents:
        log.register_agent(item["agent"], item["site"], item["area"])
        for device in item.get("devices", []):
            log.register_device(device["source"], item["agent"], device.get("station"))
