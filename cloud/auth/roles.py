"""The roles, in order: each may do what the ones before it may.

viewer reads; supervisor also records corrections and acknowledges the andon board's alarms;
planner also sends orders, decides changes, switches manual mode and moves steps; admin also
replaces master data and manages users, tokens and the registry.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["ROLES", "Role", "allows"]

Role = Literal["viewer", "supervisor", "planner", "admin"]
#: Lowest first.
ROLES: Final[tuple[Role, ...]] = get_args(Role)


def allows(role: str | None, needed: Role) -> bool:
    """Whether `role` may do what needs `needed` (None, an anonymous caller: never)."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)
