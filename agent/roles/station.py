"""The machine station role: readers, machine inputs, stop-reason buttons and a stack light.

One agent serves one or more stations (`[[station]]`). Each reader has a function (`reads`:
badge, tool, ticket); a reader with one function takes every tag as that kind, and a reader with
several asks the station's tag directory (`tags`, see `agent.roles.readers.TagDirectory`). A tag
the directory does not place gives a log line and an `unknown_tag` alarm, and the station keeps
working. A job ticket's first tap starts its job, a second tap of the same ticket ends it, and a
different ticket while one runs ends the old job first; the running job of each station is kept
in a small JSON file beside the outbox, so an agent restart does not forget it.

Inputs (active-low, debounced on the clock: `agent.inputs`) become `machine.signal` events: run
transitions, and cycle, good and scrap counts summed per poll. A pressed stop-reason button is a
`machine.stop_reason`. The stack light follows `StackLightCommand`s on the agent's `command`
topic; a station served by a firmware node (`node = {...}`, see `agent.roles.nodes`) gets the
node's reads as its events and its light commands sent to the node. A station whose machine has
a PLC names it in a `plc` table (`agent.plc`: OPC UA or Modbus): the PLC's run bit, counters
and stop-reason code become the same events, with the PLC as their source. Each station's retained
schedule (`StationSchedule`) is logged when a new version arrives, with what changed and the
next jobs.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.bins import BinConfig, SmartBin, parse_bin
from agent.config import check_keys, identifier, need, positive
from agent.errors import ConfigError
from agent.hx711 import HX711
from agent.inputs import COLOURS, DebouncedInput, Light, PulseCounter, StackLight
from agent.plc import PlcConfig, PlcSource, open_source, parse_plc
from agent.recorder import EventRecorder
from agent.roles.base import PollingRole
from agent.roles.nodes import NodeConfig, StationNode, parse_node
from agent.roles.readers import (
    TAG_KINDS,
    ReaderConfig,
    TagDirectory,
    WatchedReader,
    check_wiring,
    load_directory,
    parse_reader,
)
from contract import ContractError, StackLightCommand, StationSchedule, station_schedule_topic
from contract.payloads import STOP_REASONS
from taktline.clock import utc_iso

if TYPE_CHECKING:
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = [
    "COUNT_INPUTS",
    "LightConfig",
    "StationConfig",
    "StationRole",
    "StationRoleConfig",
    "parse_station",
    "start_station",
]

log = logging.getLogger(__name__)

COUNT_INPUTS: Final = ("cycle", "good", "scrap")
_INPUTS: Final = ("run", *COUNT_INPUTS)
_STATION_KEYS: Final = frozenset(
    {
        "id",
        "tags",
        "debounce_s",
        "inputs",
        "stop_buttons",
        "stack_light",
        "reader",
        "node",
        "plc",
        "bin",
    }
)


@dataclass(frozen=True, slots=True)
class LightConfig:
    """The stack light's three outputs (BCM) and its blink half-period."""

    green: int
    amber: int
    red: int
    blink_s: float = 0.5


@dataclass(frozen=True, slots=True)
class StationConfig:
    """One machine station: its readers, inputs (BCM pins), buttons and stack light."""

    id: str
    readers: tuple[ReaderConfig, ...] = ()
    inputs: tuple[tuple[str, int], ...] = ()
    stop_buttons: tuple[tuple[str, int], ...] = ()
    stack_light: LightConfig | None = None
    debounce_s: float = 0.02
    tags: Path | None = None
    node: NodeConfig | None = None
    plc: PlcConfig | None = None
    bins: tuple[BinConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class StationRoleConfig:
    """The stations of one agent.

    Attributes:
        state: The JSON file keeping each station's running job; None: beside the outbox.
        poll_s: Seconds between polls of the readers and inputs.
    """

    stations: tuple[StationConfig, ...] = field(default_factory=tuple)
    state: Path | None = None
    poll_s: float = 0.05

    @property
    def readers(self) -> tuple[ReaderConfig, ...]:
        """Every reader of every station."""
        return tuple(reader for station in self.stations for reader in station.readers)


# ----- config -------------------------------------------------------------------------------


def _pins(data: dict[str, Any], key: str, names: tuple[str, ...], where: str) -> dict[str, int]:
    table = data.get(key, {})
    at = f"{where}.{key}"
    if not isinstance(table, dict):
        raise ConfigError(f"{at} must be a table of name = BCM pin, e.g. {{ {names[0]} = 17 }}")
    check_keys(table, names, at)
    pins: dict[str, int] = {}
    for name, pin in table.items():
        if isinstance(pin, bool) or not isinstance(pin, int):
            raise ConfigError(f"{at}: {name} must be a BCM pin number, got {pin!r}")
        pins[name] = pin
    return pins


def _parse_one(item: Any, where: str, base: Path) -> StationConfig:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table ([[station]])")
    check_keys(item, _STATION_KEYS, where)
    station = identifier(item, "id", where)
    raw_readers = item.get("reader", [])
    if not isinstance(raw_readers, list):
        raise ConfigError(f"{where}: reader must be an array of tables ([[station.reader]])")
    readers: list[ReaderConfig] = []
    for index, raw in enumerate(raw_readers):
        at = f"{where}.reader[{index}]"
        kinds = raw.get("reads", ["badge"]) if isinstance(raw, dict) else []
        default = f"{station}-{'-'.join(map(str, kinds)) if isinstance(kinds, list) else 'rfid'}"
        if any(r.name == default for r in readers):
            default += str(index + 1)
        readers.append(parse_reader(raw, at, default_name=default, kinds=TAG_KINDS))
    tags = None if "tags" not in item else load_directory(item["tags"], where, base)
    for index, reader in enumerate(readers):
        if len(reader.reads) > 1 and tags is None:
            raise ConfigError(
                f"{where}.reader[{index}]: reads {list(reader.reads)} needs a tag directory to "
                'tell them apart; add tags = "tags.toml" to the station'
            )
    inputs = _pins(item, "inputs", _INPUTS, where)
    buttons = _pins(item, "stop_buttons", STOP_REASONS, where)
    light = None
    if "stack_light" in item:
        table = item["stack_light"]
        at = f"{where}.stack_light"
        if not isinstance(table, dict):
            raise ConfigError(f"{at} must be a table {{ green = 16, amber = 20, red = 21 }}")
        check_keys(table, {*COLOURS, "blink_s"}, at)
        pins = {colour: need(table, colour, int, at) for colour in COLOURS}
        light = LightConfig(**pins, blink_s=positive(table, "blink_s", 0.5, at))
    raw_bins = item.get("bin", [])
    if not isinstance(raw_bins, list):
        raise ConfigError(f"{where}: bin must be an array of tables ([[station.bin]])")
    bins = tuple(parse_bin(raw, f"{where}.bin[{i}]") for i, raw in enumerate(raw_bins))
    if len({b.id for b in bins}) != len(bins):
        raise ConfigError(f"{where}: bin ids {[b.id for b in bins]} repeat")
    wiring = [
        *((f"bin {b.id}.{w}", getattr(b, w)) for b in bins for w in ("dout", "sck")),
        *((f"inputs.{n}", p) for n, p in inputs.items()),
        *((f"stop_buttons.{n}", p) for n, p in buttons.items()),
        *((f"stack_light.{c}", getattr(light, c)) for c in COLOURS if light is not None),
    ]
    check_wiring(readers, wiring, where)
    debounce_s = positive(item, "debounce_s", 0.02, where)
    if debounce_s > 1:
        raise ConfigError(f"{where}: debounce_s {debounce_s} is over 1 s; 0.02 suits most inputs")
    node = parse_node(item["node"], f"{where}.node") if "node" in item else None
    plc = parse_plc(item["plc"], f"{where}.plc", station, base) if "plc" in item else None
    both = sorted(set(inputs) & set(plc.signals if plc is not None else ()))
    if both:
        raise ConfigError(f"{where}: {both} come from inputs and from plc; keep one of them")
    return StationConfig(
        id=station,
        node=node,
        plc=plc,
        readers=tuple(readers),
        inputs=tuple(inputs.items()),
        stop_buttons=tuple(buttons.items()),
        stack_light=light,
        debounce_s=debounce_s,
        tags=tags,
        bins=bins,
    )


def parse_station(section: dict[str, Any], where: str, base: Path) -> StationRoleConfig:
    """Checks the `[[station]]` tables (handed over as `{"station": [...]}`)."""
    items = section.get("station", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: station must be an array of tables ([[station]])")
    stations = [_parse_one(item, f"{where}: station[{i}]", base) for i, item in enumerate(items)]
    ids = [s.id for s in stations]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: station ids {ids} repeat; give every station its own id")
    ports = [s.node.port for s in stations if s.node is not None]
    if len(set(ports)) != len(ports):
        raise ConfigError(f"{where}: node ports {ports} repeat; one node per serial port")
    check_wiring(
        [r for s in stations for r in s.readers],
        [
            (f"station {s.id} {what}", pin)
            for s in stations
            for what, pin in (
                *((f"bin {b.id}.{w}", getattr(b, w)) for b in s.bins for w in ("dout", "sck")),
                *s.inputs,
                *s.stop_buttons,
                *((c, getattr(s.stack_light, c)) for c in COLOURS if s.stack_light),
            )
        ],
        where,
    )
    return StationRoleConfig(stations=tuple(stations))


# ----- the running station ------------------------------------------------------------------


class JobState:
    """Each station's running job ticket, in a JSON file replaced atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[str, str] = {}
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                self.jobs = {str(k): str(v) for k, v in loaded.items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.error("job state %s unreadable (%s); starting with no running jobs", path, exc)

    def set(self, station: str, ticket: str | None) -> None:
        """Records `ticket` as `station`'s running job (None: none) and writes the file."""
        if ticket is None:
            self.jobs.pop(station, None)
        else:
            self.jobs[station] = ticket
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w") as out:
            json.dump(self.jobs, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


class _Station:
    """One station's devices and recorders."""

    def __init__(
        self, role: StationRole, config: StationConfig, agent: Agent, hardware: Hardware
    ) -> None:
        self.config = config
        self.id = config.id
        self.io = agent.recorder(f"{config.id}-io", config.id)
        self.directory = TagDirectory(config.tags) if config.tags is not None else None
        devices = role.devices
        self.readers: list[tuple[WatchedReader, EventRecorder]] = []
        for reader in config.readers:
            recorder = agent.recorder(reader.name, config.id)
            watched = devices.enter_context(WatchedReader(hardware, reader, recorder))
            self.readers.append((watched, recorder))
        needs_pins = config.inputs or config.stop_buttons or config.stack_light or config.bins
        factory = hardware.pin_factory() if needs_pins else None
        self.bins: list[SmartBin] = []
        for bin_config in config.bins:
            hardware.wire_hx711(bin_config.dout, bin_config.sck)
            hx711 = HX711(
                factory,
                dout=bin_config.dout,
                sck=bin_config.sck,
                gain=bin_config.gain,
                name=f"{config.id} bin {bin_config.id}",
                clock=hardware.clock,
            )
            self.bins.append(devices.enter_context(SmartBin(bin_config, hx711, hardware.clock)))
        clock, debounce = hardware.clock, config.debounce_s
        self.run: DebouncedInput | None = None
        self.counters: dict[str, PulseCounter] = {}
        for name, pin in config.inputs:
            what = f"{config.id} inputs.{name}"
            if name == "run":
                self.run = devices.enter_context(
                    DebouncedInput(factory, pin, clock=clock, debounce_s=debounce, name=what)
                )
            else:
                self.counters[name] = devices.enter_context(
                    PulseCounter(factory, pin, clock=clock, debounce_s=debounce, name=what)
                )
        self.buttons = {
            reason: devices.enter_context(
                DebouncedInput(
                    factory,
                    pin,
                    clock=clock,
                    debounce_s=debounce,
                    name=f"{config.id} stop_buttons.{reason}",
                )
            )
            for reason, pin in config.stop_buttons
        }
        self.light: StackLight | None = None
        if config.stack_light is not None:
            pins = config.stack_light
            self.light = devices.enter_context(
                StackLight(
                    factory, green=pins.green, amber=pins.amber, red=pins.red, blink_s=pins.blink_s
                )
            )
        self.node: StationNode | None = None
        if config.node is not None:
            self.node = devices.enter_context(StationNode(config.node, config.id, agent, hardware))
        self.plc: PlcSource | None = None
        if config.plc is not None:
            outbox = agent.config.outbox
            state = outbox.with_name(outbox.name + ".plc.json")
            self.plc = devices.enter_context(open_source(config.plc, config.id, agent, state))
        self.schedule: StationSchedule | None = None


class StationRole(PollingRole):
    """The machine station role of one agent (all its `[[station]]`s); see the module doc."""

    def __init__(self, agent: Agent, config: StationRoleConfig, hardware: Hardware) -> None:
        super().__init__(f"station-{agent.config.agent}", config.poll_s)
        self.agent = agent
        self.config = config
        self.unknown_tags = 0
        state = config.state or agent.config.outbox.with_name(
            agent.config.outbox.name + ".jobs.json"
        )
        self.jobs = JobState(state)
        try:
            self.stations = {s.id: _Station(self, s, agent, hardware) for s in config.stations}
        except BaseException:
            self.devices.close()
            raise
        for station in self.stations.values():
            if station.run is not None:
                station.io.run_signal(station.run.is_active)  # the state at start
            topic = station_schedule_topic(agent.config.site, station.id)
            agent.uplink.subscribe(topic, partial(self.on_schedule, station))
        agent.uplink.subscribe(agent.path.command, self.on_command)

    # ----- polling (the role's thread) ------------------------------------------------------

    def poll(self) -> None:
        """One pass: every reader once, then the inputs and buttons."""
        for station in self.stations.values():
            if station.node is not None:
                station.node.watch()
            if station.plc is not None:
                station.plc.watch()
                station.plc.record()  # each fact taken off only once its event is stored
            for reader, recorder in station.readers:
                tag = reader.poll()
                if tag is not None:
                    self._tag(station, reader, recorder, tag)
            # each fact is taken off its input only once its event is stored: an append that
            # fails (a full disk) leaves it for the next poll
            if station.run is not None:
                for level in station.run.to_record():
                    station.io.run_signal(level)
                    station.run.recorded()
            for name, counter in station.counters.items():
                count = counter.count_to_record()
                if count:
                    getattr(station.io, "cycles" if name == "cycle" else name)(count)
                    counter.recorded_count(count)
            for reason, button in station.buttons.items():
                for pressed in button.to_record():
                    if pressed:
                        log.info("%s: stop reason %s", station.id, reason)
                        station.io.stop_reason(reason)
                    button.recorded()
            for smart_bin in station.bins:
                crossing = smart_bin.poll()
                if crossing is not None:
                    log.info(
                        "%s: bin %s %s: %.1f pieces, threshold %.1f (%.1f/h)",
                        station.id,
                        smart_bin.id,
                        "low" if crossing["below"] else "stocked",
                        crossing["quantity"],
                        crossing["threshold"],
                        crossing["rate_per_h"],
                    )
                    station.io.bin_level(crossing)
                    smart_bin.recorded()

    def light_of(self, station: str) -> Light | None:
        """The stack light of one of this agent's stations, for edge rules (None: none wired).

        A station served by a firmware node shows the colour on the node's light too (steady).
        """
        found = self.stations.get(station)
        if found is None or found.node is None:
            return found.light if found is not None else None
        return _StationLight(found.light, found.node)

    def _kind(self, station: _Station, reader: WatchedReader, tag: str) -> tuple[str | None, str]:
        reads = reader.config.reads
        listed = station.directory.kind_of(tag) if station.directory is not None else None
        if listed is None:
            if len(reads) == 1:
                return reads[0], ""
            return None, (
                f"tag {tag} at reader {reader.name} is not in the tag directory "
                f"{station.directory.path if station.directory else ''}; add it under one of "
                f"{', '.join(reads)}"
            )
        if listed not in reads:
            return None, (
                f"tag {tag} is a {listed} in the tag directory, but reader {reader.name} reads "
                f"only {', '.join(reads)}"
            )
        return listed, ""

    def _tag(
        self, station: _Station, reader: WatchedReader, recorder: EventRecorder, tag: str
    ) -> None:
        kind, problem = self._kind(station, reader, tag)
        if kind is None:
            self.unknown_tags += 1
            log.warning("%s: unknown tag: %s", station.id, problem)
            recorder.alarm("unknown_tag", problem)
        elif kind == "badge":
            recorder.badge_read(tag)
        elif kind == "tool":
            recorder.tool_read(tag)
        elif kind == "kanban":
            tap = reader.config.kanban
            log.info("%s: kanban card %s %s at %s", station.id, tag, tap, reader.name)
            if tap == "empty":
                recorder.kanban_empty(tag)
            else:
                recorder.kanban_card(tag, tap)
        else:
            self._ticket(station, recorder, tag)

    def _ticket(self, station: _Station, recorder: EventRecorder, tag: str) -> None:
        running = self.jobs.jobs.get(station.id)
        if running is not None:
            recorder.job_ticket(running, "end")
            log.info("%s: job %s ended", station.id, running)
        if running != tag:
            recorder.job_ticket(tag, "start")
            log.info("%s: job %s started", station.id, tag)
        self.jobs.set(station.id, None if running == tag else tag)

    # ----- downlink (the uplink's thread) ---------------------------------------------------

    def on_command(self, raw: bytes) -> None:
        """Applies a `StackLightCommand` from the agent's `command` topic."""
        try:
            command = StackLightCommand.decode(raw)
        except ContractError as exc:
            log.warning("ignoring a bad command: %s", exc)
            return
        station = self.stations.get(command.station)
        if station is None:
            log.warning(
                "command %s is for station %s, which this agent does not serve (it serves %s)",
                command.id,
                command.station,
                ", ".join(self.stations) or "none",
            )
            return
        if self.is_stopped:
            return
        if station.node is not None:
            station.node.set_light(command.colour)
        if station.light is None:  # the cloud sets every station's light; this one has none
            if station.node is None:
                log.debug("%s: no stack light wired; %s ignored", station.id, command.colour)
            return
        station.light.set(command.colour, command.blink)
        log.info(
            "%s: stack light %s%s", station.id, command.colour, " blinking" if command.blink else ""
        )

    def on_schedule(self, station: _Station, raw: bytes) -> None:
        """Logs a new version of `station`'s retained schedule: what changed, the next jobs."""
        try:
            schedule = StationSchedule.decode(raw)
        except ContractError as exc:
            log.warning("%s: ignoring a bad schedule: %s", station.id, exc)
            return
        old = station.schedule
        if old is not None and schedule.version <= old.version:
            return  # a retained copy seen again after a reconnect
        station.schedule = schedule
        upcoming = schedule.next_jobs(utc_iso(self.agent.clock.now()), 3)
        jobs = "; ".join(
            f"{job.key} {job.start[11:16]}-{job.end[11:16]}"
            + (f" {job.product}" if job.product else "")
            + (f" x{job.quantity:g}" if job.quantity is not None else "")
            for job in upcoming
        )
        changed = ", ".join(schedule.changed) or "nothing"
        log.info(
            "%s: schedule v%d (changed: %s); next: %s",
            station.id,
            schedule.version,
            changed,
            jobs or "no jobs",
        )


def start_station(agent: Agent, config: StationRoleConfig, hardware: Hardware) -> StationRole:
    """Opens the stations' readers and pins and starts polling them."""
    role = StationRole(agent, config, hardware)
    role.start()
    return role


class _StationLight:
    """A station's lights as one: its Pi-wired stack light and its firmware node's, if any."""

    def __init__(self, light: StackLight | None, node: StationNode | None) -> None:
        self._light, self._node = light, node

    def set(self, colour: str, blink: bool = False) -> None:
        """Shows `colour` on both; the node's light has no blink and shows it steady."""
        if self._node is not None:
            self._node.set_light(colour)
        if self._light is not None:
            self._light.set(colour, blink)
