"""A deployment's own schedule ``deployment:<name>``, kept in step with its ``schedule`` setting.

Apart from schedules.py, which queues runs (and so imports runs, which import deployments):
deployments call this module, which imports neither.
"""

from __future__ import annotations

from dataclasses import replace

from dagy.services.triggers.schedule_rules import (
    _INTERVAL,
    DEFAULT_TIMEZONE,
    DEPLOYMENT_PREFIX,
    _next_from,
    check_interval,
    timing_of,
)
from dagy.store import flows as flow_sql
from dagy.store import schedules as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment
from dagy.store.records import utcnow
from dagy.store.schedules import Schedule


def deployment_schedule_id(name: str) -> str:
    return DEPLOYMENT_PREFIX + name


def sync_deployment(store: DuckDBStore, deployment: Deployment) -> Schedule | None:
    """Make ``deployment:<name>`` match the deployment's ``schedule`` setting (a cron expression
    or an interval like ``30m``) and time zone; no setting removes it. Call with the store held."""
    schedule_id = deployment_schedule_id(deployment.name)
    existing = sql.get(store, deployment.org_id, schedule_id)
    if not deployment.schedule:
        if existing is not None:
            sql.delete(store, deployment.org_id, schedule_id)
        return None
    is_interval = _INTERVAL.match(deployment.schedule) is not None
    now = utcnow()
    base = existing or Schedule(
        org_id=deployment.org_id,
        schedule_id=schedule_id,
        flow_name=deployment.flow_name,
        mode="cron",
        created_at=now,
        updated_at=now,
        deployment_name=deployment.name,
        description=f"The schedule of deployment {deployment.name}",
    )
    wanted = replace(
        base,
        mode="interval" if is_interval else "cron",
        timezone=deployment.timezone or DEFAULT_TIMEZONE,
        cron_expression=None if is_interval else deployment.schedule,
        interval_seconds=check_interval(deployment.schedule) if is_interval else None,
        environment=deployment.environment,
    )
    timing_changed = existing is None or timing_of(existing) != timing_of(wanted)
    if existing is not None and not timing_changed and existing.environment == wanted.environment:
        return existing
    wanted.updated_at = now
    if timing_changed:
        wanted.next_run_at = _next_from(wanted, now)
    if existing is None:
        sql.insert(store, wanted)
    else:
        sql.update(
            store,
            wanted.org_id,
            schedule_id,
            mode=wanted.mode,
            timezone=wanted.timezone,
            cron_expression=wanted.cron_expression,
            interval_seconds=wanted.interval_seconds,
            environment=wanted.environment,
            next_run_at=wanted.next_run_at,
            updated_at=now,
        )
    return wanted


def write_back(store: DuckDBStore, schedule: Schedule) -> None:
    """A deployment's schedule changed through PATCH /schedules: the deployment says so too."""
    setting = schedule.cron_expression or (
        f"{schedule.interval_seconds}s" if schedule.interval_seconds else None
    )
    flow_sql.update_deployment(
        store,
        schedule.org_id,
        schedule.deployment_name or "",
        schedule=setting,
        timezone=schedule.timezone,
        updated_at=utcnow(),
    )


def delete_of_flow(store: DuckDBStore, org_id: str, flow_name: str) -> int:
    return sql.delete_of_flow(store, org_id, flow_name)


def delete_of_deployment(store: DuckDBStore, org_id: str, deployment_name: str) -> int:
    return sql.delete_of_deployment(store, org_id, deployment_name)
