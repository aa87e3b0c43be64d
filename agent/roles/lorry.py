"""The lorry unit: where the lorry is (gpsd), and which packages went on and off (RFID + manifest).

Positions are sampled, not streamed: one `gps.position` every `interval_s`, and sooner when the
lorry moved `distance_m`, turned `heading_deg` or changed speed by `speed_mps` since the last
one, never two within `min_gap_s` (`SamplingRule`; the volume this gives is in docs/lorry.md).
A position needs a usable fix (a position and a speed the receiver reported); its heading is the
receiver's course or null, never a default. The fix state is explicit: a fix gained is one
`gps.fix` at once, with the first position; a fix lost and a change between `"2d"` and `"3d"`
are one `gps.fix` once they last `fix_hold_s`; losing the fix or gpsd adds a `gps_lost` alarm,
the next fix a `gps_restored`. Until the first fix from a gpsd that answers, the role is
`"starting"` and reports nothing for up to `gps_startup_s`; a receiver time further than
`gps_time_bound_s` from the agent's clock (a 1,024-week rollover, a receiver's stale almanac) is
left out of the positions (`gps_time` null) and flagged once with a `gps_time_off` alarm. A
package tag read by the lorry's reader becomes one `package.read` at the stage the driver's
LOAD/UNLOAD switch shows (or a fixed `stage`), with its line of the supplier's manifest, or with
none and an `unknown_tag` alarm.
Nothing here stops the role: gpsd gone, no fix, a reader lost, a broken manifest edit are each
reported and the rest goes on. The events wait in the outbox through a dead zone and leave when
the network is back.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.config import check_keys, identifier, integer, positive, relative_path
from agent.errors import ConfigError
from agent.gps import Fix, GpsClient, GpsdUnreachable, parse_address
from agent.inputs import DebouncedInput
from agent.recorder import EventRecorder
from agent.roles.base import PollingRole
from agent.roles.manifest import Manifest
from agent.roles.readers import ReaderConfig, WatchedReader, check_wiring, parse_reader
from contract.payloads import PACKAGE_STAGES

if TYPE_CHECKING:
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = ["LorryConfig", "LorryUnit", "Sampler", "SamplingRule", "parse_lorry", "start_lorry"]

log = logging.getLogger(__name__)

STAGES: Final = ("switch", *PACKAGE_STAGES)
_KEYS: Final = frozenset({
    "id", "interval_s", "distance_m", "heading_deg", "speed_mps", "min_gap_s", "gps_poll_s",
    "gps_timeout_s", "gps_retry_max_s", "fix_hold_s", "manifest", "stage", "stage_pin", "reader",
    "gpsd", "gps_startup_s", "gps_time_bound_s",
})  # fmt: skip
#: How often gpsd is asked while there is no usable fix: the first position comes at once.
_SEARCH_POLL_S: Final = 0.2
_EARTH_M: Final = 6_371_000.0


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """When a position is worth an event (see the module's docstring)."""

    interval_s: float = 30.0
    distance_m: float = 100.0
    heading_deg: float = 30.0
    speed_mps: float = 5.0
    min_gap_s: float = 2.0


@dataclass(frozen=True, slots=True)
class LorryConfig:
    """The `[lorry]` section, checked.

    Attributes:
        id: The lorry (its plate or fleet number); GPS events come from source `{id}-gps`.
        rule: The position sampling rule.
        gps_poll_s: Seconds between questions to gpsd.
        gps_timeout_s: How long gpsd may take to answer.
        gps_retry_max_s: Longest wait between attempts to reach a gpsd that is gone (the wait
            starts at 1 s and doubles).
        fix_hold_s: How long a lost fix or a 2D/3D change must last before it is reported (a
            fix gained is reported at once).
        gpsd: gpsd's (host, port) from `gpsd = "host:port"`; None: the hardware's default.
        gps_startup_s: How long after start a gpsd without a fix yet is the start-up state
            (gpsd opens its device when a client watches; a receiver's cold start) and reported
            as nothing rather than as a fault.
        gps_time_bound_s: Largest difference between the receiver's time and the agent's clock
            for `gps_time` to be passed on.
        manifest: The supplier's manifest file (needed with a reader).
        stage: `"switch"` (the driver's LOAD/UNLOAD switch on `stage_pin`), `"load"` or `"unload"`.
        stage_pin: BCM pin of the switch: open is LOAD, closed to ground is UNLOAD.
        reader: The package reader, or None for a lorry that only reports where it is.
    """

    id: str
    rule: SamplingRule = field(default_factory=SamplingRule)
    gps_poll_s: float = 1.0
    gps_timeout_s: float = 2.0
    gps_retry_max_s: float = 30.0
    fix_hold_s: float = 3.0
    gpsd: tuple[str, int] | None = None
    gps_startup_s: float = 30.0
    gps_time_bound_s: float = 3600.0
    manifest: Path | None = None
    stage: str = "switch"
    stage_pin: int = 17
    reader: ReaderConfig | None = None
    poll_s: float = 0.05


def parse_lorry(section: dict[str, Any], where: str, base: Path) -> LorryConfig:
    """Checks the `[lorry]` section; errors name the key and the fix."""
    at = f"{where}: [lorry]"
    if not section:
        raise ConfigError(f'{at} is missing; add [lorry] with id = "lorry-01" (see docs/lorry.md)')
    check_keys(section, _KEYS, at)
    lorry = identifier(section, "id", at)
    rule = SamplingRule(
        interval_s=positive(section, "interval_s", 30.0, at),
        distance_m=positive(section, "distance_m", 100.0, at),
        heading_deg=positive(section, "heading_deg", 30.0, at),
        speed_mps=positive(section, "speed_mps", 5.0, at),
        min_gap_s=positive(section, "min_gap_s", 2.0, at),
    )
    if rule.min_gap_s > rule.interval_s:
        raise ConfigError(
            f"{at}: min_gap_s ({rule.min_gap_s}) is longer than interval_s ({rule.interval_s}); "
            "make min_gap_s the shorter (e.g. 2 and 30)"
        )
    stage = section.get("stage", "switch")
    if stage not in STAGES:
        raise ConfigError(
            f'{at}: stage must be one of {list(STAGES)}, not {stage!r}; use "switch" for the '
            "driver's LOAD/UNLOAD switch"
        )
    reader = None
    if "reader" in section:
        reader = parse_reader(section["reader"], f"{at}.reader", default_name=f"{lorry}-packages")
    stage_pin = integer(section, "stage_pin", 17, at, 2, 27)
    pins = [("stage_pin", stage_pin)] if stage == "switch" else []
    check_wiring([reader] if reader is not None else [], pins, at)
    manifest = None
    if "manifest" in section:
        manifest = relative_path(section["manifest"], "manifest", at, base)
        try:
            Manifest(manifest)
        except ConfigError as exc:
            raise ConfigError(f"{at}: manifest: {exc}") from exc
    elif reader is not None:
        raise ConfigError(
            f'{at}: a reader needs the supplier\'s manifest; add manifest = "manifest.json"'
        )
    gpsd = None
    if "gpsd" in section:
        raw = section["gpsd"]
        try:
            gpsd = parse_address(raw if isinstance(raw, str) else repr(raw))
        except ValueError as exc:
            raise ConfigError(f"{at}: gpsd: {exc}; gpsd's own default is 127.0.0.1:2947") from exc
    return LorryConfig(
        id=lorry,
        rule=rule,
        gps_poll_s=positive(section, "gps_poll_s", 1.0, at),
        gps_timeout_s=positive(section, "gps_timeout_s", 2.0, at),
        gps_retry_max_s=positive(section, "gps_retry_max_s", 30.0, at),
        fix_hold_s=positive(section, "fix_hold_s", 3.0, at),
        gpsd=gpsd,
        gps_startup_s=positive(section, "gps_startup_s", 30.0, at),
        # up to the contract's whole span of time (1970-2099): a very large bound turns it off
        gps_time_bound_s=positive(section, "gps_time_bound_s", 3600.0, at, high=4.2e9),
        manifest=manifest,
        stage=stage,
        stage_pin=stage_pin,
        reader=reader,
    )


# ----- sampling -------------------------------------------------------------------------------


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


class Sampler:
    """Applies a `SamplingRule` to a stream of fixes; times are monotonic nanoseconds."""

    def __init__(self, rule: SamplingRule) -> None:
        self.rule = rule
        self._last: Fix | None = None
        self._at_ns = 0

    def reset(self) -> None:
        """Forgets the last position: the next fix is recorded at once (after a fix gained)."""
        self._last = None

    def due(self, fix: Fix, now_ns: int) -> str | None:
        """Why `fix` should be recorded now (`first`, `interval`, `distance`, ...), or None."""
        last = self._last
        if last is None:
            return "first"
        elapsed = (now_ns - self._at_ns) / 1e9
        if elapsed >= self.rule.interval_s:
            return "interval"
        if elapsed < self.rule.min_gap_s:
            return None
        assert fix.lat is not None and fix.lon is not None
        assert last.lat is not None and last.lon is not None
        if distance_m((last.lat, last.lon), (fix.lat, fix.lon)) >= self.rule.distance_m:
            return "distance"
        if (
            fix.speed_mps is not None
            and last.speed_mps is not None
            and abs(fix.speed_mps - last.speed_mps) >= self.rule.speed_mps
        ):
            return "speed"
        if fix.heading_deg is not None and last.heading_deg is not None:
            turn = abs(fix.heading_deg - last.heading_deg) % 360
            if min(turn, 360 - turn) >= self.rule.heading_deg:
                return "heading"
        return None

    def taken(self, fix: Fix, now_ns: int) -> None:
        """Notes that `fix` was recorded at `now_ns`."""
        self._last = fix
        self._at_ns = now_ns


# ----- the role -------------------------------------------------------------------------------


class LorryUnit(PollingRole):
    """Polls gpsd (every `gps_poll_s`) and the package reader (every poll)."""

    def __init__(self, agent: Agent, config: LorryConfig, hardware: Hardware) -> None:
        super().__init__(f"lorry-{config.id}", config.poll_s)
        self.config = config
        self.clock = hardware.clock
        self.gps_recorder = agent.recorder(f"{config.id}-gps")
        self.sampler = Sampler(config.rule)
        self.fix = "starting"  # the reported fix state; "starting" until the first is reported
        self.gps_alarm = False  # a gps_lost alarm is out and not yet answered by gps_restored
        self.time_alarm = False  # a gps_time_off alarm is out: the receiver's time is not used
        self.reasons: dict[str, int] = {}
        self._candidate: tuple[str, str, int] | None = None  # state, detail, first seen (ns)
        self._next_gps_ns = 0
        self._started_ns = self.clock.monotonic_ns()
        self._waiting_logged = False
        self.reader: WatchedReader | None = None
        self.package_recorder: EventRecorder | None = None
        self.stage_switch: DebouncedInput | None = None
        self.manifest = Manifest(config.manifest) if config.manifest is not None else None
        try:
            self.gps = self.devices.enter_context(
                GpsClient(
                    hardware.gpsd_address(config.gpsd),
                    clock=self.clock,
                    timeout_s=config.gps_timeout_s,
                    backoff_max_s=config.gps_retry_max_s,
                )
            )
            if config.reader is not None:
                self.package_recorder = agent.recorder(config.reader.name)
                self.reader = self.devices.enter_context(
                    WatchedReader(hardware, config.reader, self.package_recorder)
                )
                if config.stage == "switch":
                    self.stage_switch = self.devices.enter_context(
                        DebouncedInput(
                            hardware.pin_factory(),
                            config.stage_pin,
                            clock=self.clock,
                            debounce_s=0.05,
                            name=f"{config.id} stage switch",
                        )
                    )
        except BaseException:
            self.devices.close()
            raise

    def __enter__(self) -> LorryUnit:
        return self

    @property
    def stage(self) -> str:
        """`"load"` or `"unload"`: the switch's position (closed: unload), or the fixed stage."""
        if self.stage_switch is None:
            return self.config.stage if self.config.stage != "switch" else "load"
        self.stage_switch.update()
        return "unload" if self.stage_switch.is_active else "load"

    def poll(self) -> None:
        """Asks gpsd when due, then scans the package reader once."""
        now = self.clock.monotonic_ns()
        if now >= self._next_gps_ns:
            every = self.config.gps_poll_s
            if not self.has_fix:  # searching: ask more often, so the first position comes at once
                every = min(every, _SEARCH_POLL_S)
            self._next_gps_ns = now + int(every * 1e9)
            try:
                self.poll_gps(now)
            except Exception:  # e.g. a full outbox: the package reader must still be served
                log.exception("%s: GPS poll failed; the package reader goes on", self.name)
        if self.reader is not None:
            tag = self.reader.poll()
            if tag is not None:
                self.package(tag)

    # ----- GPS ----------------------------------------------------------------------------

    @property
    def has_fix(self) -> bool:
        """Whether the reported fix state is `"2d"` or `"3d"`."""
        return self.fix in ("2d", "3d")

    def poll_gps(self, now_ns: int) -> None:
        """One reading from gpsd: fix state changes, alarms, and a position when due."""
        try:
            reading = self.gps.read()
        except GpsdUnreachable as exc:
            if not self.gps_alarm:
                log.error("%s: %s; retrying, positions resume when it answers", self.name, exc)
                self.gps_recorder.alarm("gps_lost", str(exc))
                self.gps_alarm = True
            reading = Fix("none", detail=str(exc))
        else:
            if self._starting(reading, now_ns):
                return
        self._observe(reading, now_ns)
        if not (reading.is_usable and self.has_fix):
            return
        if self.gps_alarm:  # after a lost fix or a gpsd outage, however short
            log.warning("%s: GPS fix back (%s)", self.name, reading.fix)
            detail = f"GPS fix back ({reading.fix}) from {self.gps.where}"
            self.gps_recorder.alarm("gps_restored", detail)
            self.gps_alarm = False
        reason = self.sampler.due(reading, now_ns)
        if reason is not None:
            assert reading.lat is not None and reading.lon is not None
            assert reading.speed_mps is not None
            self.gps_recorder.position(
                reading.lat,
                reading.lon,
                min(reading.speed_mps, 400.0),
                reading.heading_deg,
                reading.fix,
                self._checked_time(reading.time),
            )
            self.sampler.taken(reading, now_ns)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def _starting(self, reading: Fix, now_ns: int) -> bool:
        """Whether this reading is still the start-up state: gpsd up, no fix from it yet."""
        if self.fix != "starting" or reading.has_fix:
            return False
        waited = (now_ns - self._started_ns) / 1e9
        if waited >= self.config.gps_startup_s:
            detail = f"{reading.detail} {waited:.0f} s after start"
            if not reading.receiver:
                detail += ": check the receiver's cable and DEVICES in /etc/default/gpsd"
            self._report(Fix("none", detail=detail, receiver=reading.receiver))
            if not reading.receiver:
                log.error("%s: %s", self.name, detail)
                self.gps_recorder.alarm("gps_lost", detail)
                self.gps_alarm = True
            return True
        if not self._waiting_logged:
            where = self.gps.where
            log.info("%s: starting: waiting for %s and its receiver's first fix", self.name, where)
            self._waiting_logged = True
        return True

    def _checked_time(self, gps_time: str | None) -> str | None:
        """The receiver's time if it agrees with the agent's clock within the bound, else None."""
        if gps_time is None:
            return None
        receiver = datetime.fromisoformat(gps_time.replace("Z", "+00:00"))
        agent = self.clock.now()
        off_s = (receiver - agent).total_seconds()
        if abs(off_s) <= self.config.gps_time_bound_s:
            if self.time_alarm:
                log.info("%s: the receiver's time agrees with the agent's clock again", self.name)
                self.time_alarm = False
            return gps_time
        if not self.time_alarm:
            detail = (
                f"receiver time {gps_time} is {off_s:+.0f} s from the agent's clock "
                f"{agent.isoformat(timespec='seconds')} (bound {self.config.gps_time_bound_s:g} "
                "s): gps_time left out of positions; a 1,024-week rollover in an old receiver, "
                "or the Pi's clock without NTP"
            )
            log.warning("%s: %s", self.name, detail)
            self.gps_recorder.alarm("gps_time_off", detail)
            self.time_alarm = True
        return None

    def _observe(self, reading: Fix, now_ns: int) -> None:
        state = reading.fix
        if state == self.fix:
            self._candidate = None
            return
        gained = state != "none" and not self.has_fix
        if gained and not reading.is_usable:
            return  # a fix without a speed yet: the next report completes it
        if self._candidate is None or self._candidate[0] != state:
            self._candidate = (state, reading.detail, now_ns)
        first = self.fix == "starting"
        held = now_ns - self._candidate[2] >= self.config.fix_hold_s * 1e9
        if not (first or gained or held):
            return  # a loss or a 2D/3D step not held long enough yet: a flicker is not a change
        self._report(reading)

    def _report(self, reading: Fix) -> None:
        previous, self.fix, self._candidate = self.fix, reading.fix, None
        self.gps_recorder.fix_changed(reading.fix, reading.detail)
        if reading.fix == "none":
            if previous != "starting" and not self.gps_alarm:
                log.warning("%s: GPS fix lost: %s", self.name, reading.detail)
                self.gps_recorder.alarm("gps_lost", f"GPS fix lost: {reading.detail}")
                self.gps_alarm = True
            return
        if previous in ("starting", "none"):
            self.sampler.reset()

    # ----- packages -----------------------------------------------------------------------

    def package(self, tag: str) -> None:
        """One package tag entered the reader's field: record it with its manifest line."""
        assert self.package_recorder is not None and self.manifest is not None
        stage = self.stage
        found = self.manifest.lookup(tag)
        if found is not None:
            delivery, line = found
            self.package_recorder.package_read(tag, stage, delivery, line)
            return
        self.package_recorder.package_read(tag, stage, None, None)
        problem = (
            f"package tag {tag} read at {stage} on lorry {self.config.id} is not in the "
            f"manifest {self.manifest.path}; check the tag or load this delivery's manifest"
        )
        log.warning("%s: unknown tag: %s", self.name, problem)
        self.package_recorder.alarm("unknown_tag", problem)


def start_lorry(agent: Agent, config: LorryConfig, hardware: Hardware) -> LorryUnit:
    """Opens gpsd, the package reader and the stage switch, and starts polling them."""
    role = LorryUnit(agent, config, hardware)
    role.start()
    return role
