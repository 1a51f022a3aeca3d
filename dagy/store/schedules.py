"""SQL for schedules: one row each, paged by id, and the due ones for the scheduler's tick."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import _insert, _names, _select, _update


@dataclass
class Schedule:
    org_id: str
    schedule_id: str
    flow_name: str
    mode: str  # cron | interval | one_time | manual
    created_at: _dt.datetime
    updated_at: _dt.datetime
    flow_version: str | None = None  # JSON: "1.0.0" or 5; None runs the flow's latest version
    deployment_name: str | None = None
    enabled: bool = True
    timezone: str = "UTC"
    catchup_policy: str = "skip"
    cron_expression: str | None = None
    interval_seconds: int | None = None
    one_time_at: _dt.datetime | None = None
    start_at: _dt.datetime | None = None
    end_at: _dt.datetime | None = None
    parameters: str = "{}"  # JSON object
    description: str | None = None
    environment: str | None = None
    next_run_at: _dt.datetime | None = None
    last_run_at: _dt.datetime | None = None
    last_run_id: str | None = None
    last_error: str | None = None


COLUMNS = _names(Schedule)
_SELECT = f"SELECT {_select(Schedule)} FROM schedules"


def get(store: DuckDBStore, org_id: str, schedule_id: str) -> Schedule | None:
    with store.connection() as con:
        row = con.execute(
            f"{_SELECT} WHERE org_id = ? AND schedule_id = ?", [org_id, schedule_id]
        ).fetchone()
    return Schedule(*row) if row else None


def of_deployment(store: DuckDBStore, org_id: str, deployment_name: str) -> Schedule | None:
    with store.connection() as con:
        row = con.execute(
            f"{_SELECT} WHERE org_id = ? AND deployment_name = ? ORDER BY created_at LIMIT 1",
            [org_id, deployment_name],
        ).fetchone()
    return Schedule(*row) if row else None


def page(
    store: DuckDBStore,
    org_id: str,
    *,
    flow_name: str | None,
    mode: str | None,
    enabled: bool | None,
    after: str | None,
    limit: int,
) -> list[Schedule]:
    """The org's schedules by id, after ``after``, at most ``limit``."""
    where: list[str] = ["org_id = ?"]
    params: list[Any] = [org_id]
    for column, value in (("flow_name", flow_name), ("mode", mode), ("enabled", enabled)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if after is not None:
        where.append("schedule_id > ?")
        params.append(after)
    with store.connection() as con:
        rows = con.execute(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY schedule_id LIMIT ?",
            [*params, limit],
        ).fetchall()
    return [Schedule(*row) for row in rows]


def due(store: DuckDBStore, now: _dt.datetime, limit: int) -> list[Schedule]:
    """Enabled schedules whose next time has come, the most overdue first."""
    with store.connection() as con:
        rows = con.execute(
            f"{_SELECT} WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= ? "
            "ORDER BY next_run_at, org_id, schedule_id LIMIT ?",
            [now, limit],
        ).fetchall()
    return [Schedule(*row) for row in rows]


def insert(store: DuckDBStore, schedule: Schedule) -> None:
    with store.connection() as con:
        _insert(con, "schedules", schedule)


def update(store: DuckDBStore, org_id: str, schedule_id: str, **changes: Any) -> None:
    with store.connection() as con:
        _update(con, "schedules", {"org_id": org_id, "schedule_id": schedule_id}, changes)


def advance_statement(
    schedule: Schedule, *, next_run_at: _dt.datetime | None, fired: tuple[_dt.datetime, str] | None
) -> tuple[str, list[Any]]:
    """The UPDATE that moves a schedule past a fire, for the run's own enqueue transaction: the
    queued run and the schedule's advance are written together or not at all."""
    sets: list[str] = ["next_run_at = ?"]
    params: list[Any] = [next_run_at]
    if fired is not None:
        sets += ["last_run_at = ?", "last_run_id = ?", "last_error = NULL"]
        params += list(fired)
    return (
        f"UPDATE schedules SET {', '.join(sets)} WHERE org_id = ? AND schedule_id = ?",
        [*params, schedule.org_id, schedule.schedule_id],
    )


def delete(store: DuckDBStore, org_id: str, schedule_id: str) -> bool:
    with store.connection() as con:
        row = con.execute(
            "DELETE FROM schedules WHERE org_id = ? AND schedule_id = ? RETURNING schedule_id",
            [org_id, schedule_id],
        ).fetchone()
    return row is not None


def delete_of_flow(store: DuckDBStore, org_id: str, flow_name: str) -> int:
    with store.connection() as con:
        rows = con.execute(
            "DELETE FROM schedules WHERE org_id = ? AND flow_name = ? RETURNING schedule_id",
            [org_id, flow_name],
        ).fetchall()
    return len(rows)


def delete_of_deployment(store: DuckDBStore, org_id: str, deployment_name: str) -> int:
    with store.connection() as con:
        rows = con.execute(
            "DELETE FROM schedules WHERE org_id = ? AND deployment_name = ? RETURNING schedule_id",
            [org_id, deployment_name],
        ).fetchall()
    return len(rows)
