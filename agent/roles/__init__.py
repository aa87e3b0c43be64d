"""The role registry: what an agent can be (machine station, tool-crib gate, rest zone, lorry).

A config's `role` names an entry of `ROLES`; its `RoleSpec` says how to validate the role's TOML
section (`parse`) and how to run it on a started agent with the chosen hardware (`start`). Adding a
role is one line here. The section handed to `parse` is the top-level table named `section` (the
role's own name unless given): `[gate]` arrives as its dict; an array of tables (`[[station]]`)
arrives wrapped as `{"station": [...]}`. `parse` raises `agent.errors.ConfigError` naming the key
and the fix; `start` returns a running `Role`, whose `stop()` releases its readers and pins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from agent.roles.gate import parse_gate, start_gate
from agent.roles.lorry import parse_lorry, start_lorry
from agent.roles.rest import parse_rest, start_rest
from agent.roles.station import parse_station, start_station
from taktline.supervise import WorkerHealth

if TYPE_CHECKING:
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = ["ROLES", "Role", "RoleSpec"]


class Role(Protocol):
    """A running role: a context manager whose `stop()` releases its readers and pins."""

    #: Records an agent alarm (a role's poll failing again and again); set by `start_role`.
    alarms: Callable[[str, str], None] | None

    def health(self) -> WorkerHealth:
        """The role's polling worker's state."""
        ...

    def stop(self) -> None:
        """Stops reading, releases readers and pins; safe to call twice."""
        ...

    def __enter__(self) -> Role: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """How to validate and start one role.

    Attributes:
        parse: `(section, where, base) -> config`; `where` prefixes error messages, `base` is the
            folder relative paths in the section are taken from.
        start: `(agent, config, hardware) -> Role`, called with a started agent.
        section: The top-level TOML key holding the role's settings; empty: the role's name.
    """

    parse: Callable[[dict[str, Any], str, Path], Any]
    start: Callable[[Agent, Any, Hardware], Role]
    section: str = ""


#: role name -> how to parse and start it; the lorry engineer adds `"lorry": RoleSpec(...)`.
ROLES: dict[str, RoleSpec] = {
    "station": RoleSpec(parse_station, start_station),
    "gate": RoleSpec(parse_gate, start_gate),
    "rest": RoleSpec(parse_rest, start_rest),
    "lorry": RoleSpec(parse_lorry, start_lorry),
}
