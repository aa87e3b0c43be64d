"""The replanning loop: triggers in, one replan per burst, plans and gap reports out.

`Replanner.submit(trigger)` is the whole input surface: the status model, the ERP intake and
planners call it from any thread. Triggers are coalesced: a replan runs once no trigger arrived
for `quiet` (on the injected clock), or `max_delay` after the first one of a burst, whichever
comes first. A replan publishes the stations' and operators' schedules that changed at once,
then the improvement phase runs within the plant's budget (another version goes out if it moved
anything), then the whole plan and the gap report; the report is mailed only when it changed.

Manual mode (the backup plan) stops automatic replans: triggers wait until it ends, planners'
edits pin steps where they put them, and `export` writes the current plan. Every decision and
manual edit is kept in `audit` with who made it and when.
"""

from __future__ import annotations

import copy
import json
import logging
import smtplib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from cloud.replan.engine import Engine, Outcome
from cloud.replan.errors import ManualModeActive, UnknownOrder
from cloud.replan.jobs import Job, JobBook
from cloud.replan.mailer import GapMailer, gap_digest
from cloud.replan.publish import PlanPublisher
from cloud.replan.record import PlanningRecorder
from cloud.replan.triggers import OperatorsPresent, ResourceLost, StepLate, Trigger
from cloud.scheduler.arrays import order_summary
from cloud.scheduler.causes import OrderCauses
from cloud.scheduler.check import Check, group_unit
from cloud.scheduler.improve import Improvement
from cloud.scheduler.service import PlanResult, schedule_document
from taktline.clock import Clock, SystemClock
from taktline.supervise import Worker

__all__ = ["MAX_BURST_TRIES", "AuditEntry", "ReplanStats", "Replanner"]

log = logging.getLogger(__name__)

#: Tries of one failing burst of triggers before it is dropped (with an error in the log).
MAX_BURST_TRIES = 3


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when (decisions on changed orders, manual mode, manual edits)."""

    who: str
    when: str
    what: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplanStats:
    """Counters and the last outcomes, for tests, benchmarks and the web view."""

    replans: int = 0
    completed: int = 0
    triggers: int = 0
    ignored: int = 0
    mails: int = 0
    mail_errors: int = 0
    errors: int = 0
    #: Triggers dropped after their burst failed `MAX_BURST_TRIES` times.
    dropped: int = 0
    #: Seconds spent in replans (the engine's part), in all.
    replan_seconds: float = 0.0
    #: From a burst's first trigger to its changed schedules published, for the last burst.
    publish_lag_s: float | None = None
    last: Outcome | None = None
    last_improvement: Outcome | None = None
    removed_by_improvement: float = 0.0


class Replanner:
    """Owns the engine; turns bursts of triggers into replans and publishes the results."""

    def __init__(
        self,
        engine: Engine,
        *,
        publisher: PlanPublisher | None = None,
        mailer: GapMailer | None = None,
        clock: Clock | None = None,
        quiet: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(seconds=10),
        late_threshold: timedelta = timedelta(minutes=5),
        improve: bool = True,
        on_replan: Callable[[Outcome], None] | None = None,
        recorder: PlanningRecorder | None = None,
    ) -> None:
        self.engine = engine
        #: Writes manual mode and pins to the event log before they take effect.
        self.recorder = recorder
        self.publisher = publisher
        self.mailer = mailer
        self.clock = clock or SystemClock()
        self.quiet = quiet
        self.max_delay = max_delay
        self.late_threshold = late_threshold
        self.improve_enabled = improve
        self.on_replan = on_replan
        self.book = JobBook()
        self.stats = ReplanStats()
        self._audit: list[AuditEntry] = []
        self.gap_report: dict[str, Any] = {"digest": "", "gaps": [], "orders": []}
        self._pending: list[Trigger] = []
        self._first: datetime | None = None
        self._last: datetime | None = None
        self._manual: str | None = None
        self._lock = threading.RLock()
        self._wake = threading.Condition()
        self._failed_bursts = 0
        self.worker = Worker("replanner", self._run, backoff_s=0.2, backoff_max_s=10.0)
        #: tool id -> {"out": hold reason or None, "until", "life": ok/warn/due/None} for the
        #: gap report (the cloud's `ToolWatch.summary`); None: tools are not reported
        self.tool_status: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None

    def engine_copy(self) -> Engine:
        """A deep copy of the engine as it is between replans (what-if scenarios start here)."""
        with self._lock:
            return copy.deepcopy(self.engine)

    # --- input -------------------------------------------------------------------------------

    def submit(self, trigger: Trigger) -> None:
        """Queues one trigger (thread-safe); the loop replans once the burst is over."""
        now = self.clock.now()
        if isinstance(trigger, OperatorsPresent):  # a preference for what is placed next:
            with self._lock:  # no replan of its own
                self.engine.apply([trigger], now)
            self.stats.triggers += 1
            return
        with self._wake:
            if isinstance(trigger, StepLate):
                planned = self._planned_end(trigger.order, trigger.step)
                if planned is not None and trigger.expected_end - planned < self.late_threshold:
                    self.stats.ignored += 1
                    return
            self._pending.append(trigger)
            self.stats.triggers += 1
            self._first = self._first or now
            self._last = now
            self._wake.notify_all()

    def _planned_end(self, order: str, step: str) -> datetime | None:
        eng = self.engine
        try:
            s = eng.step_index(order, step)
        except KeyError:
            return None
        p = eng.model.problem
        return eng.model.time_of(int(eng.plan.start[s] + p.dur[s]))

    # --- the loop ----------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether a burst is over (or waited long enough) and manual mode is off."""
        if not self._pending or self._manual is not None:
            return False
        now = self.clock.now()
        assert self._first is not None and self._last is not None
        return now - self._last >= self.quiet or now - self._first >= self.max_delay

    def poll(self) -> Outcome | None:
        """Replans if a burst is due; returns what the replan did (None when nothing was due).

        A replan that raises puts its burst back (before what came meanwhile) and raises: the
        loop's supervisor backs off and tries again. A burst failing `MAX_BURST_TRIES` times in a
        row is dropped with an error in the log (`stats.dropped`), so one poisoned trigger cannot
        stop planning for good; the worker stays *failing* (and the cloud not ready) meanwhile.
        """
        with self._wake:
            if not self.due():
                return None
            burst, self._pending = self._pending, []
            first, self._first, self._last = self._first, None, None
        try:
            outcome = self.replan(burst, since=first)
        except Exception:
            self.stats.errors += 1
            self._failed_bursts += 1
            if self._failed_bursts >= MAX_BURST_TRIES:
                self._failed_bursts = 0
                self.stats.dropped += len(burst)
                log.error(
                    "replan failed %d times: %d trigger(s) dropped", MAX_BURST_TRIES, len(burst)
                )
            else:
                with self._wake:
                    self._pending = burst + self._pending
                    now = self.clock.now()
                    self._first, self._last = now - self.max_delay, now
            raise
        self._failed_bursts = 0
        return outcome

    def replan(
        self, triggers: list[Trigger], *, restore: bool = False, since: datetime | None = None
    ) -> Outcome:
        """Applies `triggers` in one replan and publishes (see the module docstring).

        `since`: when the burst's first trigger came; the time from then until the changed
        schedules are out is `stats.publish_lag_s`.
        """
        with self._lock:
            now = self.clock.now()
            outcome = self.engine.apply(triggers, now, restore=restore)
            self.stats.replans += 1
            self.stats.last = outcome
            self.stats.replan_seconds += outcome.seconds
            self._publish_schedules(now)
            if since is not None:
                self.stats.publish_lag_s = (self.clock.now() - since).total_seconds()
            if self.improve_enabled:
                imp = self.engine.improve(now)
                self.stats.last_improvement = imp
                self.stats.removed_by_improvement += max(
                    0.0, imp.cost_before_improvement - imp.cost_after_improvement
                )
                self._publish_schedules(now)
            self._publish_plan_and_gaps(now)
            self.stats.completed += 1
            if self.on_replan is not None:
                self.on_replan(outcome)
            return outcome

    def publish_all(self) -> None:
        """Publishes the current plan everywhere (at start-up, after a reconnect)."""
        with self._lock:
            now = self.clock.now()
            self._publish_schedules(now, full=True)
            self._publish_plan_and_gaps(now)

    def _publish_schedules(self, now: datetime, full: bool = False) -> None:
        eng = self.engine
        self.book.update(eng.model, eng.plan, full=full or eng.rebuilt)
        if self.publisher is not None:
            self.publisher.schedules(eng.plant, self.book, _iso(now))
        else:
            self.book.dirty.clear()

    def _publish_plan_and_gaps(self, now: datetime) -> None:
        check = self.engine.check()
        causes = self.engine.causes(now, check)
        report = self.current_gap_report(check, causes)
        self.gap_report = report
        generated = _iso(now)
        if self.publisher is not None:
            self.publisher.plan(self.document(check, causes), generated)
            self.publisher.gaps(report["digest"], report["gaps"], report["orders"], generated)
        if self.mailer is None:
            return
        try:
            if self.mailer.send_if_changed(
                self.engine.plant.site, report["gaps"], report["orders"]
            ):
                self.stats.mails += 1
        except (OSError, smtplib.SMTPException) as exc:
            # A mail server down must not stop planning: the report is on MQTT and the web, and
            # the mail goes out with the next replan (its digest was not recorded as sent).
            self.stats.mail_errors += 1
            log.error("gap report not mailed: %s", exc)

    def current_gap_report(
        self, check: Check | None = None, causes: Mapping[str, OrderCauses] | None = None
    ) -> dict[str, Any]:
        """The resource check as a report: gaps, and every order it makes early or late.

        Each order carries its cause chain (`cloud.scheduler.causes`): `cause` in one line,
        `causes` link by link.
        """
        eng = self.engine
        model = eng.model
        check = check or eng.check()
        if causes is None:
            causes = eng.causes(self.clock.now(), check)
        slot = eng.plant.slot_minutes
        gaps = [
            {
                "group": g.group,
                "start": _iso(model.time_of(g.start_slot)),
                "end": _iso(model.time_of(g.end_slot)),
                "shortfall": g.shortfall,
                "unit": group_unit(eng.plant, g.group),
                "orders": list(g.orders),
                "earliness_min": g.earliness_slots * slot,
                "tardiness_min": g.tardiness_slots * slot,
            }
            for g in check.gaps
        ]
        for gap in gaps:
            gap.update(self._absent_in(str(gap["group"]), str(gap["start"]), str(gap["end"])))
            gap.update(self._tools_in(str(gap["group"])))
        orders = [
            {
                "order": str(r["order"]),
                "status": str(r["status"]),
                "earliness_min": int(r["earliness_min"]),  # type: ignore[call-overload]
                "tardiness_min": int(r["tardiness_min"]),  # type: ignore[call-overload]
                **(causes[str(r["order"])].to_dict() if str(r["order"]) in causes else {}),
            }
            for r in order_summary(model, eng.plan)
            if r["status"] in ("early", "late", "unplanned")
        ]
        return {"digest": gap_digest(gaps, orders), "gaps": gaps, "orders": orders}

    def _absent_in(self, pool: str, start: str, end: str) -> dict[str, Any]:
        """For an operator gap: the groups' skills and the members absent in it (else {})."""
        plant = self.engine.plant
        groups = [plant.groups[g] for g in pool.split("+") if g in plant.groups]
        groups = [g for g in groups if g.kind == "operator"]
        a, b = _utc(start), _utc(end)
        absent = sorted(
            {
                m
                for g in groups
                for m in g.members
                if any(w.start < b and a < w.end for w in self.engine.absent.get(m, ()))
            }
        )
        if not absent:
            return {}
        members = {m for g in groups for m in g.members}
        return {
            "skills": sorted({g.skill for g in groups if g.skill}),
            "absent": absent,
            "none_present": members <= set(absent),
        }

    def _tools_in(self, pool: str) -> dict[str, Any]:
        """For a tool gap: members held out of the plan or near their service limit (else {})."""
        plant = self.engine.plant
        members = [
            m for g in pool.split("+") if g in plant.groups and plant.groups[g].kind == "tool"
            for m in plant.groups[g].members
        ]  # fmt: skip
        known = self.tool_status() if self.tool_status is not None and members else {}
        tools = [
            {"tool": m, **{k: known[m].get(k) for k in ("out", "until", "life")}}
            for m in sorted(set(members))
            if m in known and (known[m].get("out") or known[m].get("life") in ("warn", "due"))
        ]
        return {"tools": tools} if tools else {}

    def jobs_of(self, resource: str) -> list[Job]:
        """The planned jobs of one resource (a copy, taken under the replanner's lock)."""
        with self._lock:
            return list(self.book.jobs.get(resource, {}).values())

    def jobs_snapshot(self) -> dict[str, dict[str, Job]]:
        """Every resource's planned jobs by key (copies, taken under the replanner's lock)."""
        with self._lock:
            return {resource: dict(per) for resource, per in self.book.jobs.items()}

    def material_needs(self) -> dict[str, datetime]:
        """When each material is first needed by the plan: the earliest start of a step using it."""
        products = self.engine.plant.products
        needs: dict[str, datetime] = {}
        with self._lock:
            jobs = {j.key: j for per in self.book.jobs.values() for j in per.values()}
        for job in jobs.values():
            product = products.get(job.product)
            step = next((s for s in product.steps if s.id == job.step), None) if product else None
            if step is None or not step.materials:
                continue
            start = datetime.fromisoformat(job.start.replace("Z", "+00:00"))
            for material in step.materials:
                if material not in needs or start < needs[material]:
                    needs[material] = start
        return needs

    def material_demand(self, horizon: timedelta = timedelta(hours=24)) -> dict[str, float]:
        """Each material's demand by the plan over the next `horizon`, product units per minute.

        Each planned step that uses the material counts its quantity spread evenly over the
        step's duration, for the part of it inside [now, now + horizon]: the rate a kanban
        loop is sized from (`cloud.status.kanban`).
        """
        products = self.engine.plant.products
        now = self.clock.now()
        until = now + horizon
        with self._lock:
            jobs = {j.key: j for per in self.book.jobs.values() for j in per.values()}
        units: dict[str, float] = {}
        for job in jobs.values():
            product = products.get(job.product)
            step = next((s for s in product.steps if s.id == job.step), None) if product else None
            if step is None or not step.materials:
                continue
            start = datetime.fromisoformat(job.start.replace("Z", "+00:00"))
            end = datetime.fromisoformat(job.end.replace("Z", "+00:00"))
            inside = (min(end, until) - max(start, now)).total_seconds()
            if inside <= 0:
                continue
            length = (end - start).total_seconds()
            share = job.quantity * (inside / length if length > 0 else 1.0)
            for material in step.materials:
                units[material] = units.get(material, 0.0) + share
        minutes = horizon.total_seconds() / 60
        return {material: quantity / minutes for material, quantity in units.items()}

    def document(
        self, check: Check | None = None, causes: Mapping[str, OrderCauses] | None = None
    ) -> dict[str, Any]:
        """The current plan as a schedule document (`docs/schemas/schedule.schema.json`)."""
        eng = self.engine
        cost = eng.cost()
        imp = Improvement(eng.plan.start, eng.plan.res, cost, cost, 0, 0.0)
        check = check or eng.check()
        if causes is None:
            causes = eng.causes(self.clock.now(), check)
        result = PlanResult(eng.model, eng._busy(), imp, check, 0.0)
        return schedule_document(result, causes)

    # --- manual mode (backup plan) -----------------------------------------------------------

    @property
    def manual(self) -> str | None:
        """The planner who holds manual mode, or None."""
        return self._manual

    def enter_manual(self, user: str) -> None:
        """Stops automatic replans; triggers wait until `leave_manual`."""
        with self._lock:
            if self.recorder is not None:
                self.recorder.manual(True, user)
            self._manual = user
            self._record(user, "manual_mode_on")

    def leave_manual(self, user: str) -> None:
        """Resumes automatic replans (the triggers that waited are replanned at once)."""
        if self.recorder is not None:
            self.recorder.manual(False, user)
        with self._wake:
            self._manual = None
            self._record(user, "manual_mode_off")
            if self._pending:
                self._first = self._last = self.clock.now() - self.max_delay
            self._wake.notify_all()

    def move_step(self, order: str, step: str, start: datetime, user: str) -> Outcome:
        """A planner's manual edit: pins `order`'s `step` at `start` and replans around it."""
        with self._lock:
            if self._manual is None:
                raise ManualModeActive("manual edits need manual mode (enter_manual first)")
            eng = self.engine
            s = eng.step_index(order, step)
            p = eng.model.problem
            held = tuple(
                eng.plant.resources[int(eng.plan.res[q])].id
                for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
            )
            if self.recorder is not None:
                self.recorder.pin(order, step, start, held, user)
            eng.manual[(order, step)] = (start, held)
            self._record(user, "move_step", order=order, step=step, start=_iso(start))
            from cloud.replan.triggers import OrderChanged

            return self.replan([OrderChanged(eng.orders[order], "adjust")])

    def restore(
        self,
        manual: str | None,
        maintenance: Sequence[tuple[str, datetime, datetime]] = (),
    ) -> None:
        """Takes back manual mode and planned maintenance as the event log has them (at start)."""
        with self._lock:
            self._manual = manual
        now = self.clock.now()
        for resource, start, end in maintenance:
            if end > now:
                self.submit(ResourceLost(resource, start, end, reason="maintenance"))

    def plan_maintenance(self, resource: str, start: datetime, minutes: int, by: str) -> None:
        """A planner plans maintenance: recorded (`plan.maintenance`) first, then planned.

        Raises:
            UnknownOrder: `resource` is no machine of the plant (nothing recorded).
        """
        machines = {r.id for r in self.engine.plant.resources if r.kind == "machine"}
        if resource not in machines:
            raise UnknownOrder(f"{resource!r} is no machine of the plant")
        if self.recorder is not None:
            self.recorder.maintenance(resource, start, minutes, by)
        self._record(
            by, "maintenance_planned", resource=resource, start=_iso(start), minutes=minutes
        )
        end = start + timedelta(minutes=minutes)
        self.submit(ResourceLost(resource, start, end, reason="maintenance"))

    @property
    def audit(self) -> list[AuditEntry]:
        """Who did what, when: from the event log's planning events when there is a recorder."""
        if self.recorder is None:
            return list(self._audit)
        return [
            AuditEntry(a.who, a.when, a.what, dict(a.detail)) for a in self.recorder.ledger.audit
        ]

    def flush(self, *, restore: bool = False) -> Outcome | None:
        """Replans every queued trigger now, whatever the burst timing (at start).

        With `restore`, the plan is built afresh from the engine's orders, pins and the floor's
        state the triggers carry (`Engine.apply(..., restore=True)`); nothing is frozen.
        """
        with self._wake:
            burst, self._pending = self._pending, []
            self._first = self._last = None
        if not burst and not restore:
            return None
        return self.replan(burst, restore=restore)

    def export(self, path: str | Path) -> Path:
        """Writes the current plan (schedule document) as JSON; returns the path."""
        out = Path(path)
        with self._lock:
            out.write_text(json.dumps(self.document(), indent=1))
        return out

    def _record(self, who: str, what: str, **detail: Any) -> AuditEntry:
        entry = AuditEntry(who, _iso(self.clock.now()), what, dict(detail))
        if self.recorder is None:  # with one, the planning event's fold keeps the audit
            self._audit.append(entry)
        return entry

    # --- thread ------------------------------------------------------------------------------

    def start(self) -> Replanner:
        """Starts the loop thread (a supervised worker polling on the injected clock)."""
        self.worker.start()
        return self

    def close(self) -> None:
        """Stops the loop thread."""
        with self._wake:
            self._wake.notify_all()
        self.worker.stop(10)

    def __enter__(self) -> Replanner:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, worker: Worker) -> None:
        while not worker.stopping:
            with self._wake:
                if not self.due():
                    self._wake.wait(0.005)
            self.poll()  # a failure goes to the supervisor (logged, backed off, tried again)
            worker.beat()
