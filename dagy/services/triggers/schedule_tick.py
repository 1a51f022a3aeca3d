"""The scheduler's tick: fire the schedules that are due (dagy/scheduler/loop.py calls ``tick``
once a second, and sooner when a schedule's next due time comes first).

A tick is one transaction: every due schedule's runs are queued (run rows and their
``flow_trigger`` events) and every schedule is moved past what it fired, together, so a kill at
any point leaves either all of it or none and a due time fires exactly once. What a run needs
(its flow version, spec, executor, code) is looked up once per tick and reused by every schedule
that runs the same thing, and the rows go in with a few multi-row statements, not one
transaction per run: 1,000 due schedules are one short write.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagy.errors import RequestError
from dagy.scheduler import timing as clock
from dagy.sdk.spec import FlowSpec
from dagy.services.admin import suspension
from dagy.services.catalog import deployments
from dagy.services.runs import trigger as triggers
from dagy.services.triggers.schedule_rules import timing_of
from dagy.services.triggers.schedules import _run_version
from dagy.services.usage import quotas
from dagy.store import queue as queue_sql
from dagy.store import schedules as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment, FlowVersion
from dagy.store.records import RunRecord
from dagy.store.schedules import Advance, Schedule

log = logging.getLogger("dagy.scheduler")


@dataclass(frozen=True)
class TickSettings:
    grace: _dt.timedelta = _dt.timedelta(seconds=60)  # later than this, a due time was missed
    catchup_limit: int = 100  # times one schedule fires in one tick at the most (policy all)
    lookback: _dt.timedelta = _dt.timedelta(days=7)  # older due times are not looked at
    batch: int = 1000  # schedules one tick reads at the most


@dataclass
class TickReport:
    due: int = 0
    fired: int = 0
    dropped: int = 0
    failed: int = 0
    run_ids: list[str] = field(default_factory=list)


def tick(
    store: DuckDBStore,
    now: _dt.datetime,
    settings: TickSettings = TickSettings(),  # noqa: B008 - frozen
    *,
    wake: Callable[[], None] | None = None,
) -> TickReport:
    """Fire what is due at ``now``: the runs and the schedules' advances in one transaction."""
    report = TickReport()
    # One hold of the store from the read to the commit: no other write comes between.
    with store.connection():
        due = sql.due(store, now, settings.batch)
        if not due:
            return report
        with store.transaction():
            batch = _Batch(store)
            for schedule in due:
                report.due += 1
                try:
                    _fire_due(batch, schedule, now, settings, report)
                except (ValueError, TypeError, LookupError) as exc:
                    # A row this code cannot read (bad JSON, a zone or expression gone bad) must
                    # not hold up every other schedule: it is recorded and moved past now.
                    log.exception("schedule %s could not fire", schedule.schedule_id)
                    report.failed += 1
                    batch.advances.append(_stuck(schedule, now, exc))
            batch.write()
    if report.fired and wake is not None:  # after the commit: a worker must find the runs
        wake()
    return report


def _fire_due(
    batch: _Batch,
    schedule: Schedule,
    now: _dt.datetime,
    settings: TickSettings,
    report: TickReport,
) -> None:
    timing = timing_of(schedule)
    assert schedule.next_run_at is not None
    times, dropped = clock.missed_to_fire(
        timing,
        schedule.next_run_at,
        now,
        schedule.catchup_policy,
        grace=settings.grace,
        limit=settings.catchup_limit,
        lookback=settings.lookback,
    )
    if dropped:
        report.dropped += dropped
        log.warning(
            "schedule %s: %d missed due time(s) not run (catchup_policy %s)",
            schedule.schedule_id,
            dropped,
            schedule.catchup_policy,
        )
    after_now = clock.next_due(timing, now)
    advance = Advance(schedule.org_id, schedule.schedule_id, after_now)
    parameters = json.loads(schedule.parameters or "{}")
    for i, at in enumerate(times):
        last = i == len(times) - 1
        advance.next_run_at = after_now if last else clock.next_due(timing, at)
        try:
            run = batch.queue(schedule, parameters, at)
        except RequestError as exc:  # the flow is gone, parameters no longer fit, over quota...
            report.failed += 1
            log.warning("schedule %s: no run for %s: %s", schedule.schedule_id, at, exc)
            advance.failed(str(exc))
            continue
        report.fired += 1
        report.run_ids.append(run.run_id)
        advance.fired(at, run.run_id)
    batch.advances.append(advance)


def _stuck(schedule: Schedule, now: _dt.datetime, exc: Exception) -> Advance:
    """The advance of a schedule that could not be read: its next time if that can be had, else
    an hour from now, so it is looked at again without blocking the ticks in between."""
    try:
        following = clock.next_due(timing_of(schedule), now)
    except (ValueError, TypeError, LookupError):
        following = now + _dt.timedelta(hours=1)
    advance = Advance(schedule.org_id, schedule.schedule_id, following)
    advance.failed(f"internal error: {type(exc).__name__}: {exc}")
    return advance


@dataclass
class _Plan:
    """What every run of one (org, deployment or flow, version) needs, looked up once a tick."""

    version: FlowVersion
    found: Deployment | None
    spec: FlowSpec
    executor: str
    execution_mode: str | None
    code: dict[str, Any]


class _Batch:
    """The runs and advances of one tick, written together by ``write`` (inside the tick's
    transaction). Each run is what ``trigger_run`` would queue for the schedule."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.runs: list[tuple[RunRecord, dict[str, Any]]] = []
        self.advances: list[Advance] = []
        self._plans: dict[tuple[Any, ...], _Plan | RequestError] = {}
        self._active_orgs: dict[str, RequestError | None] = {}
        self._run_ids: set[str] = set()
        self._quotas = quotas.enforced(store)

    def queue(self, schedule: Schedule, parameters: dict[str, Any], at: _dt.datetime) -> RunRecord:
        org_id = schedule.org_id
        self._ensure_active(org_id)
        plan = self._plan(schedule)
        if self._quotas:
            # A quota counts the runs in the store: write the ones before this one first (in
            # this transaction still), so one tick cannot pass the org's limit.
            self._flush_runs()
            quotas.check_trigger(self.store, org_id, execute=True)
        values = triggers.check_parameters(plan.spec, parameters)
        trigger = "schedule"
        run = triggers.new_run(
            plan.version,
            plan.spec,
            org_id,
            parameters=values,
            trigger=trigger,
            deployment_name=plan.found.name if plan.found else None,
            executor=plan.executor,
            execution_mode=plan.execution_mode,
            tags=[trigger, f"schedule:{schedule.schedule_id}", f"scheduled_at:{at.isoformat()}Z"],
        )
        while run.run_id in self._run_ids:  # a 6-hex suffix repeats within a big tick at times
            from dagy.services.runs.execute import new_run_id

            run.run_id = new_run_id(plan.spec.flow_name, run.created_at)
        self._run_ids.add(run.run_id)
        self.runs.append((run, {**plan.code, "actor": None}))
        return run

    def _ensure_active(self, org_id: str) -> None:
        known = self._active_orgs.get(org_id, _UNKNOWN)
        if known is _UNKNOWN:
            try:
                suspension.ensure_active(self.store, org_id)
                known = None
            except RequestError as exc:
                known = exc
            self._active_orgs[org_id] = known
        if known is not None:
            raise known

    def _plan(self, schedule: Schedule) -> _Plan:
        key: tuple[Any, ...] = (
            schedule.org_id,
            schedule.deployment_name,
            None if schedule.deployment_name else schedule.flow_name,
            schedule.flow_version,
        )
        plan = self._plans.get(key)
        if plan is None:
            try:
                plan = self._make_plan(schedule)
            except RequestError as exc:
                plan = exc
            self._plans[key] = plan
        if isinstance(plan, RequestError):
            raise plan
        return plan

    def _make_plan(self, schedule: Schedule) -> _Plan:
        store, org_id = self.store, schedule.org_id
        version_wanted = None if schedule.deployment_name else _run_version(store, schedule)
        version, found = triggers.resolve(
            store,
            org_id,
            deployment=schedule.deployment_name,
            flow_name=None if schedule.deployment_name else schedule.flow_name,
            flow_version=version_wanted,
        )
        spec = FlowSpec.from_json(version.flow_spec)
        executor = (
            triggers._installed(found.default_executor if found else None)
            or triggers._installed(version.default_executor)
            or "local"
        )
        mode = deployments.check_execution_mode(None) or (found.execution_mode if found else None)
        code = triggers.runnable_code(version, spec)
        return _Plan(version, found, spec, executor, mode, code)

    def _flush_runs(self) -> None:
        if self.runs:
            queue_sql.enqueue_runs(self.store, self.runs)
            self.runs = []

    def write(self) -> None:
        self._flush_runs()
        sql.advance_many(self.store, self.advances)


_UNKNOWN: Any = object()
