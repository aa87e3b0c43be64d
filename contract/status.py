"""The retained per-agent status message (`…/status`), which is also the agent's MQTT will."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from contract.envelope import CONTRACT_VERSION
from contract.errors import SchemaViolation
from contract.fields import ID_RE, loads, parse_time

__all__ = ["AGENT_STATES", "AgentStatus"]

AGENT_STATES: Final = ("online", "offline")
_KEYS = frozenset({"v", "agent", "state", "time"})


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """Whether an agent is connected, as it last said (or as its will said for it)."""

    agent: str
    state: str
    time: str

    def encode(self) -> bytes:
        """The message body."""
        body = {"v": CONTRACT_VERSION, "agent": self.agent, "state": self.state, "time": self.time}
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> AgentStatus:
        """Parses and validates a status message."""
        obj: Any = loads(raw, "status")
        if not isinstance(obj, dict) or obj.keys() != _KEYS:
            raise SchemaViolation(f"status must have exactly the keys {sorted(_KEYS)}")
        if obj["v"] != CONTRACT_VERSION or obj["state"] not in AGENT_STATES:
            raise SchemaViolation(f"status has version {obj['v']!r} and state {obj['state']!r}")
        if not isinstance(obj["agent"], str) or not ID_RE.fullmatch(obj["agent"]):
            raise SchemaViolation(f"status.agent {obj['agent']!r} is not a valid id")
        parse_time(obj["time"], "status.time")
        return cls(agent=obj["agent"], state=obj["state"], time=obj["time"])
