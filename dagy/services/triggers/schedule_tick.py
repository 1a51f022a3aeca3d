"""The scheduler's tick: fire the schedules that are due, each fire in one transaction with the
schedule's advance (dagy/scheduler/loop.py calls ``tick`` once a second)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from dagy.errors import RequestError
from dagy.scheduler import timing as clock
from dagy.services.triggers.schedule_rules import timing_of
from dagy.services.triggers.schedules import queue_run
from dagy.store import schedules as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.schedules import Schedule

log = logging.getLogger("dagy.scheduler")

TICK_CHUNK = 50  # schedules fired under one hold of the store


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


def tick(
    store: DuckDBStore,
    now: _dt.datetime,
    settings: TickSettings = TickSettings(),  # noqa: B008 - frozen
    *,
    wake: Callable[[], None] | None = None,
) -> TickReport:
    """Fire what is due at ``now``, each fire in one transaction with the schedule's advance, so
    a due time fires exactly once. Schedules are read and fired in chunks, each under one hold of
    the store: API requests wait for one chunk at the most, never for the whole tick."""
    report = TickReport()
    while report.due < settings.batch:
        with store.connection():
            chunk = sql.due(store, now, min(TICK_CHUNK, settings.batch - report.due))
            for schedule in chunk:
                report.due += 1
                _fire_due(store, schedule, now, settings, report, wake)
        if len(chunk) < TICK_CHUNK:
            break
    return report


def _fire_due(
    store: DuckDBStore,
    schedule: Schedule,
    now: _dt.datetime,
    settings: TickSettings,
    report: TickReport,
    wake: Callable[[], None] | None,
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
    parameters = json.loads(schedule.parameters or "{}")
    if not times:
        sql.update(
            store, schedule.org_id, schedule.schedule_id, next_run_at=clock.next_due(timing, now)
        )
        return
    for i, at in enumerate(times):
        last = i == len(times) - 1
        following = clock.next_due(timing, now if last else at)
        try:
            queue_run(
                store,
                schedule,
                None,
                trigger="schedule",
                parameters=parameters,
                fired_for=at,
                next_run_at=following,
                wake=wake,
            )
            report.fired += 1
        except RequestError as exc:  # the flow is gone, parameters no longer fit, over quota...
            report.failed += 1
            log.warning("schedule %s: no run for %s: %s", schedule.schedule_id, at, exc)
            sql.update(
                store,
                schedule.org_id,
                schedule.schedule_id,
                next_run_at=following,
                last_error=str(exc),
            )
