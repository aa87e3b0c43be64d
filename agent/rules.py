"""Edge rules: a signal or a local event sets a local output at once, cloud or no cloud.

A rule (`[[rule]]` in the agent's TOML) has a trigger (`when`) and one or more actions (`do`):

    [[rule]]
    id = "bin-low"
    when = { event = "bin.level", below = true }       # an event this agent records ...
    do = [{ stack_light = "amber", station = "assy-01" }, { buzzer = 19, seconds = 1 }]

    [[rule]]
    id = "door-open"
    when = { input = 13, active = true }               # ... or a GPIO input (active-low)
    do = { output = 26, on = false }                   # a permissive output

An `event` trigger matches an event the agent records when every other key of `when` equals the
payload field of that name (`station` compares with the event's station). An `input` trigger
fires on the pin's edge to `active` (default true: pulled low), after the level has lasted
`debounce_s` (default 0: a clean signal from a PLC or a sensor). Actions: `stack_light` (a
colour of a station's light, steady or `blink`), `output` (a pin set `on` or off), `buzzer` (a
pin on for `seconds`) and `kanban` (a card tag: records `kanban.empty` for it, an electronic
kanban signal from a button). Every firing is a `rule.fired` event in the outbox, so it reaches
the cloud after a broker or network outage, exactly once.

The rule engine acts on its own thread: an input's edge or a recorded event is queued, and the
thread sets the outputs; a second thread records the events in firing order, so the time from
signal to output is a queue hand-off, never an SQLite commit (`bench/edge_rules.py`). The last
command wins: a stack light a rule set stays until the cloud (or another rule) sets another
colour.

Edge rules are not a safety function. An output a rule drives is a permissive at most, never an
interlock a person relies on: a hung Pi, a stuck relay or a mistyped rule must not hurt anyone.
Guarding people is the job of safety-rated devices (safety relays, light curtains, e-stops).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from agent.config import check_keys, identifier, integer
from agent.errors import ConfigError, PinUnavailable
from agent.inputs import COLOURS
from contract import EVENT_TYPES, Event
from contract.errors import InvalidTagId
from contract.tags import validate_tag_id
from taktline.supervise import Worker

if TYPE_CHECKING:
    from agent.inputs import Light
    from agent.recorder import EventRecorder

__all__ = ["Action", "Rule", "RuleEngine", "check_rule_pins", "parse_rules"]

log = logging.getLogger(__name__)

ACTIONS: Final = ("stack_light", "output", "buzzer", "kanban")
_RULE_KEYS: Final = frozenset({"id", "when", "do"})
_ACTION_KEYS: Final = {
    "stack_light": frozenset({"stack_light", "station", "blink"}),
    "output": frozenset({"output", "on"}),
    "buzzer": frozenset({"buzzer", "seconds"}),
    "kanban": frozenset({"kanban"}),
}
_SILENT: Final = frozenset({"rule.fired", "agent.heartbeat"})
MAX_RULES: Final = 64


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a rule does: `kind` is one of `ACTIONS`; `target` a colour, pin or card."""

    kind: str
    target: str | int
    station: str | None = None
    blink: bool = False
    on: bool = True
    seconds: float = 1.0

    def describe(self) -> str:
        """A short text for the `rule.fired` event."""
        if self.kind == "stack_light":
            return f"stack light {self.station} {self.target}" + (" blinking" if self.blink else "")
        if self.kind == "output":
            return f"output GPIO{self.target} {'on' if self.on else 'off'}"
        if self.kind == "buzzer":
            return f"buzzer GPIO{self.target} {self.seconds:g} s"
        return f"kanban card {self.target}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A trigger and its actions: `event` (a type and payload fields) or `input` (a pin)."""

    id: str
    actions: tuple[Action, ...]
    event: str | None = None
    match: tuple[tuple[str, Any], ...] = ()
    input: int | None = None
    active: bool = True
    debounce_s: float = 0.0
    station: str | None = None
    pins: tuple[int, ...] = field(default=())

    def matches(self, event: Event) -> bool:
        """Whether a recorded `event` sets this rule off."""
        if event.type != self.event:
            return False
        for key, value in self.match:
            if key == "station":
                if event.station != value:
                    return False
            elif event.payload.get(key) != value or type(event.payload.get(key)) is not type(value):
                return False
        return True


def _pin(data: dict[str, Any], key: str, where: str) -> int:
    from agent.roles.readers import HEADER_PINS

    pin = integer(data, key, None, where, 2, 27)
    if pin not in HEADER_PINS:
        raise ConfigError(f"{where}: {key} = {pin}: not a free BCM pin (use 2-6 or 12-27)")
    return pin


def _action(data: Any, where: str) -> Action:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table, e.g. {{ output = 26, on = true }}")
    kinds = [k for k in ACTIONS if k in data]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: give exactly one action of {list(ACTIONS)}, got {sorted(data)}"
        )
    kind = kinds[0]
    check_keys(data, _ACTION_KEYS[kind], where)
    if kind == "stack_light":
        colour = data["stack_light"]
        if colour not in (*COLOURS, "off"):
            raise ConfigError(f"{where}: stack_light must be one of off, {COLOURS}, not {colour!r}")
        blink = data.get("blink", False)
        if not isinstance(blink, bool):
            raise ConfigError(f"{where}: blink must be true or false")
        return Action(kind, colour, station=identifier(data, "station", where), blink=blink)
    if kind == "kanban":
        try:
            return Action(kind, validate_tag_id(data["kanban"]))
        except InvalidTagId as exc:
            raise ConfigError(f"{where}: kanban must be a card's tag id: {exc}") from exc
    pin = _pin(data, kind, where)
    if kind == "output":
        on = data.get("on", True)
        if not isinstance(on, bool):
            raise ConfigError(f"{where}: on must be true or false")
        return Action(kind, pin, on=on)
    seconds = data.get("seconds", 1.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
        raise ConfigError(f"{where}: seconds must be a number in (0, 600], got {seconds!r}")
    return Action(kind, pin, seconds=float(seconds))


def _parse_rule(data: Any, where: str) -> Rule:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table ([[rule]])")
    check_keys(data, _RULE_KEYS, where)
    rule_id = identifier(data, "id", where)
    when = data.get("when")
    if not isinstance(when, dict) or ("event" in when) == ("input" in when):
        raise ConfigError(
            f'{where}: when must be a table with event = "TYPE" or input = PIN, e.g. '
            '{ event = "bin.level", below = true }'
        )
    raw = data.get("do")
    items = raw if isinstance(raw, list) else [raw]
    if not items or raw is None:
        raise ConfigError(f"{where}: do must be an action or a list of actions")
    actions = tuple(_action(item, f"{where}.do[{i}]") for i, item in enumerate(items))
    pins = tuple(int(a.target) for a in actions if a.kind in ("output", "buzzer"))
    if "input" in when:
        check_keys(when, {"input", "active", "debounce_s"}, f"{where}.when")
        pin = _pin(when, "input", f"{where}.when")
        active = when.get("active", True)
        debounce = when.get("debounce_s", 0.0)
        if not isinstance(active, bool):
            raise ConfigError(f"{where}.when: active must be true or false")
        if (
            isinstance(debounce, bool)
            or not isinstance(debounce, int | float)
            or not 0 <= debounce <= 1
        ):
            raise ConfigError(f"{where}.when: debounce_s must be a number from 0 to 1")
        return Rule(
            rule_id, actions, input=pin, active=active, debounce_s=float(debounce),
            pins=(pin, *pins),
        )  # fmt: skip
    event = when["event"]
    if event not in EVENT_TYPES or event in _SILENT:
        raise ConfigError(
            f"{where}.when: event {event!r} is not an event type a rule can follow "
            f"(one of the contract's types, not {sorted(_SILENT)})"
        )
    if event == "kanban.empty" and any(a.kind == "kanban" for a in actions):
        raise ConfigError(f"{where}: a rule on kanban.empty may not record kanban.empty again")
    match = tuple((k, v) for k, v in when.items() if k != "event")
    for key, value in match:
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(f"{where}.when: {key} must be a string, number or boolean")
    return Rule(rule_id, actions, event=event, match=match, pins=pins)


def parse_rules(data: Any, where: str) -> tuple[Rule, ...]:
    """Checks the `[[rule]]` tables of an agent's config."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{where}: rule must be an array of tables ([[rule]])")
    if len(data) > MAX_RULES:
        raise ConfigError(f"{where}: at most {MAX_RULES} rules, got {len(data)}")
    rules = tuple(_parse_rule(item, f"{where}: rule[{i}]") for i, item in enumerate(data))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: rule ids {ids} repeat; give every rule its own id")
    inputs = [r.input for r in rules if r.input is not None]
    if len(set(inputs)) != len(inputs):
        raise ConfigError(f"{where}: rule inputs {inputs} repeat; one rule per input pin")
    outputs = {int(a.target) for r in rules for a in r.actions if a.kind in ("output", "buzzer")}
    if outputs & set(inputs):
        raise ConfigError(
            f"{where}: GPIO{sorted(outputs & set(inputs))} is a rule input and output"
        )
    return rules


def check_rule_pins(rules: tuple[Rule, ...], used: dict[int, str], where: str) -> None:
    """Rejects a rule pin the role already uses (`used`: BCM pin -> what uses it)."""
    for rule in rules:
        for pin in rule.pins:
            if pin in used:
                raise ConfigError(
                    f"{where}: rule {rule.id} uses GPIO{pin}, which is {used[pin]}; "
                    "give the rule a pin of its own"
                )


class RuleEngine:
    """Runs an agent's rules on its own thread; a context manager.

    Args:
        rules: The parsed rules.
        recorder: Records `rule.fired` and the kanban actions' `kanban.empty`.
        factory: The gpiozero pin factory (inputs, outputs, buzzers); None when no rule uses pins.
        lights: A station id -> its stack light, on pins or a firmware node (None: none).
        alarms: Records an agent alarm when a loop fails again and again (None: logged only).
    """

    def __init__(
        self,
        rules: tuple[Rule, ...],
        recorder: EventRecorder,
        factory: Any,
        lights: Callable[[str], Light | None] = lambda _station: None,
        alarms: Callable[[str, str], None] | None = None,
    ) -> None:
        self.rules = rules
        #: Records an agent alarm (the agent's `Outbox.raise_alarm`), for a loop failing again.
        self.alarms = alarms
        self.recorder = recorder
        self.lights = lights
        self.fired = 0
        self.failed = 0
        #: signal -> output, nanoseconds (perf_counter) of the last firings (newest last).
        self.latencies_ns: list[int] = []
        self._queue: queue.SimpleQueue[tuple[Rule, str, int] | None] = queue.SimpleQueue()
        #: What the firings leave to record: the outputs never wait for the outbox's disk.
        self._records: queue.SimpleQueue[tuple[str, str, list[str], list[str]] | None] = (
            queue.SimpleQueue()
        )
        self._devices: dict[int, Any] = {}
        self._inputs: dict[str, Any] = {}
        self._by_event: dict[str, list[Rule]] = {}
        self._timers: list[threading.Timer] = []
        self._closed = False
        try:
            self._open(factory)
        except BaseException:
            self._release()
            raise
        for rule in rules:
            if rule.event is not None:
                self._by_event.setdefault(rule.event, []).append(rule)
        # Both loops are supervised workers (taktline/supervise.py): a fault is retried after a
        # back-off, three in a row are a `worker_fault` alarm, and the agent's watchdog and
        # metrics see them (`Agent.worker_health`).
        self._unwritten: list[Any] | None = None
        self.runner = Worker(
            "edge-rules", self._run, on_fault=self._fault, backoff_s=0.05, backoff_max_s=2.0
        ).start()
        self.writer = Worker(
            "edge-rules-log",
            self._write,
            on_fault=self._fault,
            on_recover=self._recovered,
            backoff_s=0.2,
            backoff_max_s=10.0,
        ).start()

    def _open(self, factory: Any) -> None:
        import gpiozero

        for rule in self.rules:
            for action in rule.actions:
                if action.kind in ("output", "buzzer") and action.target not in self._devices:
                    pin = int(action.target)
                    try:
                        self._devices[pin] = gpiozero.DigitalOutputDevice(
                            pin, pin_factory=factory, initial_value=False
                        )
                    except gpiozero.GPIOZeroError as exc:
                        raise PinUnavailable(f"rule {rule.id}: GPIO{pin}: {exc}") from exc
            if rule.input is not None:
                try:
                    device = gpiozero.DigitalInputDevice(
                        rule.input, pin_factory=factory, pull_up=True
                    )
                except gpiozero.GPIOZeroError as exc:
                    raise PinUnavailable(f"rule {rule.id}: GPIO{rule.input}: {exc}") from exc
                self._inputs[rule.id] = device
                edge = partial(self._edge, rule)
                if rule.active:
                    device.when_activated = edge
                else:
                    device.when_deactivated = edge

    # ----- triggers (any thread) -------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Called with every event the agent records: queues the rules it sets off."""
        for rule in self._by_event.get(event.type, ()):
            if rule.matches(event):
                fields = ", ".join(f"{k}={v}" for k, v in rule.match)
                trigger = f"{event.type} from {event.source}" + (f" ({fields})" if fields else "")
                self._queue.put((rule, trigger, time.perf_counter_ns()))

    def _edge(self, rule: Rule) -> None:
        self._queue.put((rule, "", time.perf_counter_ns()))

    # ----- the engine's thread --------------------------------------------------------------

    def _run(self, worker: Worker) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                if worker.stopping:
                    return
                worker.beat()
                continue
            if item is None:  # close(): the queued firings are done; the stop follows
                worker.wait(10)
                return
            rule, trigger, at_ns = item
            try:
                self._fire(rule, trigger, at_ns)
            except Exception:  # one failing rule must not end the others
                self.failed += 1
                log.exception("rule %s failed", rule.id)
            worker.beat()

    def _fault(self, worker: Worker, exc: BaseException) -> None:
        if worker.faults_in_a_row == worker.failing_after and self.alarms is not None:
            self.alarms("worker_fault", f"{worker.name}: {worker.last_error}")

    def _recovered(self, worker: Worker) -> None:
        if self.alarms is not None:
            self.alarms("worker_recovered", f"{worker.name} runs again")

    def _fire(self, rule: Rule, trigger: str, at_ns: int) -> None:
        if rule.input is not None:
            if rule.debounce_s:
                wait = rule.debounce_s - (time.perf_counter_ns() - at_ns) / 1e9
                if wait > 0:
                    time.sleep(wait)
            if bool(self._inputs[rule.id].is_active) != rule.active:
                return  # a bounce shorter than debounce_s
            trigger = f"GPIO{rule.input} {'active' if rule.active else 'inactive'}"
        done: list[str] = []
        kanban: list[str] = []
        for action in rule.actions:
            if self._act(action):
                done.append(action.describe())
                if action.kind == "kanban":
                    kanban.append(str(action.target))
        self.latencies_ns = [*self.latencies_ns[-9999:], time.perf_counter_ns() - at_ns]
        self.fired += 1
        if done:
            self._records.put((rule.id, trigger[:200], [d[:200] for d in done], kanban))

    def _write(self, worker: Worker) -> None:
        # Records in firing order, on a thread of its own: an fsync never delays an output. A
        # record that cannot be stored (a full outbox, a full disk) is kept and tried again
        # after the supervisor's back-off, never dropped; what of it was stored is not repeated.
        while True:
            if self._unwritten is None:
                try:
                    item = self._records.get(timeout=0.2)
                except queue.Empty:
                    if worker.stopping:
                        return
                    worker.beat()
                    continue
                if item is None:
                    worker.wait(10)
                    return
                rule, trigger, done, kanban = item
                log.info("rule %s fired on %s: %s", rule, trigger, "; ".join(done))
                self._unwritten = [rule, trigger, done, list(kanban)]
            rule, trigger, done, kanban = self._unwritten
            while kanban:
                self.recorder.kanban_empty(kanban[0])
                kanban.pop(0)
            self.recorder.rule_fired(rule, trigger, done)
            self._unwritten = None
            worker.beat()

    def _act(self, action: Action) -> bool:
        if action.kind == "stack_light":
            light = self.lights(action.station or "")
            if light is None:
                log.warning("rule action %s: no such stack light", action.describe())
                return False
            light.set(str(action.target), action.blink)
            return True
        if action.kind == "output":
            device = self._devices[int(action.target)]
            device.on() if action.on else device.off()
            return True
        if action.kind == "buzzer":
            device = self._devices[int(action.target)]
            device.on()
            timer = threading.Timer(action.seconds, device.off)
            timer.daemon = True
            timer.start()
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
            return True
        return True  # kanban: recorded after the outputs are set

    # ----- stop ----------------------------------------------------------------------------

    def _release(self) -> None:
        for device in [*self._inputs.values(), *self._devices.values()]:
            device.close()
        self._inputs.clear()
        self._devices.clear()

    def close(self) -> None:
        """Stops the thread (after the queued firings) and releases the pins."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)  # after the queued firings
        self.runner.stop(5)
        self._records.put(None)
        self.writer.stop(10)
        if self._unwritten is not None:
            log.error(
                "rule %s fired, but its event could not be recorded before the stop",
                self._unwritten[0],
            )
        for timer in self._timers:
            timer.cancel()
        self._release()

    def __enter__(self) -> RuleEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
