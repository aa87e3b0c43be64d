"""MQTT topics of contract v1 (ISA-95 style namespace).

Every agent owns one path, `taktline/v1/{site}/{area}/{agent}`, and publishes only under it; the
cloud publishes the agent's downlink under the same path. `docs/asyncapi.yaml` lists the same
channels; a test checks that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "AGENT_CHANNELS",
    "NAMESPACE",
    "PLAN_CHANNELS",
    "SEGMENT_PATTERN",
    "AgentPath",
    "TopicError",
    "gap_report_topic",
    "operator_schedule_topic",
    "parse_agent_topic",
    "plan_topic",
    "station_schedule_topic",
    "subscription",
]

NAMESPACE: Final = "taktline/v1"

#: channel suffix -> (direction, retained, QoS), seen from the agent.
AGENT_CHANNELS: Final = {
    "events": ("publish", False, 1),
    "settled": ("subscribe", False, 1),
    "status": ("publish", True, 1),
    "command": ("subscribe", False, 1),
}

#: Plan channels under `taktline/v1/{site}/plan/...`: seven levels, so no agent wildcard
#: (`taktline/v1/+/+/+/events`, six levels) can ever match one. kind -> (retained, QoS).
PLAN_CHANNELS: Final = {
    "station": (True, 1),
    "operator": (True, 1),
    "plan": (True, 1),
    "gaps": (True, 1),
}

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SEGMENT_PATTERN: Final = f"^{_SEGMENT}$"
_SEGMENT_RE = re.compile(SEGMENT_PATTERN)
_AGENT_TOPIC_RE = re.compile(
    f"^{re.escape(NAMESPACE)}/(?P<site>{_SEGMENT})/(?P<area>{_SEGMENT})/(?P<agent>{_SEGMENT})/(?P<channel>[a-z]+)$"
)


class TopicError(ValueError):
    """A topic or topic segment does not follow the namespace."""


@dataclass(frozen=True, slots=True)
class AgentPath:
    """Where one agent lives in the namespace."""

    site: str
    area: str
    agent: str

    def __post_init__(self) -> None:
        for name in ("site", "area", "agent"):
            value = getattr(self, name)
            if not _SEGMENT_RE.fullmatch(value):
                raise TopicError(f"{name} {value!r} is not a valid topic segment ({_SEGMENT})")

    @property
    def root(self) -> str:
        """The agent's topic root."""
        return f"{NAMESPACE}/{self.site}/{self.area}/{self.agent}"

    def topic(self, channel: str) -> str:
        """The full topic of one of the agent's channels."""
        if channel not in AGENT_CHANNELS:
            raise TopicError(f"unknown channel {channel!r}; known: {', '.join(AGENT_CHANNELS)}")
        return f"{self.root}/{channel}"

    @property
    def events(self) -> str:
        """Uplink: `events` messages."""
        return self.topic("events")

    @property
    def settled(self) -> str:
        """Downlink: the cloud's confirmations."""
        return self.topic("settled")

    @property
    def status(self) -> str:
        """Retained online/offline status, also the MQTT will."""
        return self.topic("status")

    @property
    def command(self) -> str:
        """Downlink: commands for the agent's stations (stack light)."""
        return self.topic("command")


def subscription(channel: str, site: str = "+") -> str:
    """The wildcard filter the cloud uses for one agent channel across a site."""
    if channel not in AGENT_CHANNELS:
        raise TopicError(f"unknown channel {channel!r}")
    return f"{NAMESPACE}/{site}/+/+/{channel}"


def parse_agent_topic(topic: str) -> tuple[AgentPath, str]:
    """Splits an agent topic into its path and channel; raises `TopicError` otherwise."""
    match = _AGENT_TOPIC_RE.fullmatch(topic)
    if not match or match["channel"] not in AGENT_CHANNELS:
        raise TopicError(f"topic {topic!r} is not an agent channel under {NAMESPACE}")
    return AgentPath(match["site"], match["area"], match["agent"]), match["channel"]


def station_schedule_topic(site: str, station: str) -> str:
    """The retained schedule of one station (see `contract.downlink.StationSchedule`)."""
    for name, value in (("site", site), ("station", station)):
        if not _SEGMENT_RE.fullmatch(value):
            raise TopicError(f"{name} {value!r} is not a valid topic segment ({_SEGMENT})")
    return f"{NAMESPACE}/{site}/plan/station/{station}/schedule"


def operator_schedule_topic(site: str, operator: str) -> str:
    """The retained schedule of one operator (see `contract.downlink.OperatorSchedule`)."""
    for name, value in (("site", site), ("operator", operator)):
        if not _SEGMENT_RE.fullmatch(value):
            raise TopicError(f"{name} {value!r} is not a valid topic segment ({_SEGMENT})")
    return f"{NAMESPACE}/{site}/plan/operator/{operator}/schedule"


def plan_topic(site: str) -> str:
    """The retained whole plan for planners (see `contract.downlink.PlanSnapshot`)."""
    if not _SEGMENT_RE.fullmatch(site):
        raise TopicError(f"site {site!r} is not a valid topic segment ({_SEGMENT})")
    return f"{NAMESPACE}/{site}/plan/planners/all/plan"


def gap_report_topic(site: str) -> str:
    """The retained gap report for planners (see `contract.downlink.GapReport`)."""
    if not _SEGMENT_RE.fullmatch(site):
        raise TopicError(f"site {site!r} is not a valid topic segment ({_SEGMENT})")
    return f"{NAMESPACE}/{site}/plan/planners/all/gaps"
