"""One agent process: its outbox, its uplink and its heartbeat, started and stopped together.

The roles (station, gate, rest zone, lorry) get an `EventRecorder` per source from here; the
heartbeat reports the outbox's depth, oldest age and dead letters, so the cloud sees a backlog
building before it becomes a loss. `start_role` starts the configured role (`agent.roles.ROLES`)
on a started agent with the chosen hardware. SIGTERM and Ctrl-C stop the role first (its readers
and pins released, what it still held recorded), then the agent: the uplink says offline, the
outbox is closed, nothing pending is lost (it is sent at the next start).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from agent.config import AgentConfig
from agent.errors import OutboxFull
from agent.outbox import Outbox
from agent.recorder import EventRecorder
from agent.uplink import Uplink
from contract import AgentPath, Event
from taktline.clock import Clock, SystemClock
from taktline.supervise import Worker, WorkerHealth

if TYPE_CHECKING:
    from agent.roles import Role
    from agent.rules import RuleEngine
    from hardware.factory import Hardware

__all__ = ["Agent", "start_role", "start_rules"]

log = logging.getLogger(__name__)


class Agent:
    """The composition of one Pi's agent; a context manager."""

    def __init__(self, config: AgentConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.path = AgentPath(config.site, config.area, config.agent)
        config.outbox.parent.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(
            config.outbox,
            agent=config.agent,
            clock=self.clock,
            synchronous=config.synchronous,  # type: ignore[arg-type]
            max_events=config.max_events,
        )
        self.uplink = Uplink(
            self.outbox,
            self.path,
            config.broker_settings(),
            clock=self.clock,
            resend_after_s=config.resend_after_s,
        )
        #: Told of every event a recorder commits (the edge rules, `agent.rules`).
        self.listeners: list[Callable[[Event], None]] = []
        #: The running edge rules (`start_role` starts them when the config has any).
        self.rules: RuleEngine | None = None
        self._started = time.monotonic()
        self._heartbeat = Worker(f"heartbeat-{config.agent}", self._beat, backoff_max_s=5.0)
        #: The running role, once `start_role` started it (its poller is watched too).
        self.role: Role | None = None

    def worker_health(self) -> list[WorkerHealth]:
        """The agent's supervised workers: uplink, heartbeat, role poller, edge-rule loops."""
        out = [self.uplink.health(), self._heartbeat.health()]
        if self.role is not None:
            out.append(self.role.health())
        if self.rules is not None:
            out += [self.rules.runner.health(), self.rules.writer.health()]
        return out

    def recorder(self, source: str, station: str | None = None) -> EventRecorder:
        """The device-layer API for one source device (reader, input board) at a station."""
        return EventRecorder(self.outbox, source, station, self.listeners)

    def heartbeat(self) -> None:
        """Records one `agent.heartbeat` event now."""
        self.outbox.append(
            "agent.heartbeat",
            {
                "uptime_s": round(time.monotonic() - self._started, 3),
                "outbox_depth": self.outbox.depth(),
                "outbox_oldest_age_s": self.outbox.oldest_age_s(),
                "dead_letters": self.outbox.dead_letter_count,
            },
            source=self.config.agent,
        )

    def _beat(self, worker: Worker) -> None:
        while not worker.wait(self.config.heartbeat_s):
            try:
                self.heartbeat()
            except OutboxFull as exc:  # a full outbox (or disk) is its own alarm, not a fault
                log.warning("heartbeat not recorded: %s", exc)
            worker.beat()

    def start(self) -> Agent:
        """Starts the uplink and the heartbeat (supervised workers)."""
        self.uplink.start()
        try:
            self.heartbeat()
        except OutboxFull as exc:
            log.warning("heartbeat not recorded: %s", exc)
        self._heartbeat.start()
        return self

    def stop(self) -> None:
        """Stops heartbeat and uplink, then closes the outbox; pending events stay in it."""
        self._heartbeat.stop(5)
        self.uplink.stop()
        self.outbox.close()

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_role(agent: Agent, hardware: Hardware) -> Role:
    """Starts `agent`'s configured role on `hardware`; the caller stops it before the agent.

    The agent's edge rules (`agent.rules`) start with it and stop first when it stops.
    """
    # Imported here: role modules may import this one.
    from agent.roles import ROLES

    spec = ROLES[agent.config.role]
    config = agent.config.role_config
    if config is None:  # an AgentConfig built in code, not parsed: the role's defaults
        config = spec.parse({}, f"agent {agent.config.agent}", agent.config.outbox.parent)
    role = spec.start(agent, config, hardware)
    role.alarms = agent.outbox.raise_alarm  # a role's poll failing again and again is an alarm
    agent.role = role
    if agent.config.rules:
        try:
            start_rules(agent, hardware, role)
        except BaseException:
            role.stop()
            raise
    return role


def start_rules(agent: Agent, hardware: Hardware, role: Role) -> RuleEngine:
    """Starts the agent's edge rules beside a started `role`; the role's stop ends them."""
    from agent.rules import RuleEngine

    rules = agent.config.rules
    uses_pins = any(r.pins for r in rules)
    light_of = getattr(role, "light_of", None)
    engine = RuleEngine(
        rules,
        agent.recorder(agent.config.agent),  # the agent itself: a source it always owns
        hardware.pin_factory() if uses_pins else None,
        light_of if light_of is not None else (lambda _station: None),
        alarms=agent.outbox.raise_alarm,
    )
    agent.listeners.append(engine.on_event)
    agent.rules = engine
    devices = getattr(role, "devices", None)
    if devices is not None:  # the role's ExitStack: closed (rules first) when it stops
        devices.callback(engine.close)
        devices.callback(agent.listeners.remove, engine.on_event)
    return engine
