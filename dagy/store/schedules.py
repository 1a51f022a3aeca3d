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


CHANGED = "schedules.changed"  # the store topic notified when a schedule is added or changed
COLUMNS = _names(Schedule)
_SELECT = f"SELECT {_select(Schedule)} FROM schedules"


def get(store: DuckDBStore, org_id: str, schedule_id: str) -> Schedule | None:
    with store.reading() as con:
        row = con.execute(
            f"{_SELECT} WHERE org_id = ? AND schedule_id = ?", [org_id, schedule_id]
        ).fetchone()
    return Schedule(*row) if row else None


def of_deployment(store: DuckDBStore, org_id: str, deployment_name: str) -> Schedule | None:
    with store.reading() as con:
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
    with store.reading() as con:
        rows = con.execute(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY schedule_id LIMIT ?",
            [*params, limit],
        ).fetchall()
    return [Schedule(*row) for row in rows]


def due(store: DuckDBStore, now: _dt.datetime, limit: int) -> list[Schedule]:
    """Enabled schedules whose next time has come, the most overdue first."""
    with store.reading() as con:
        rows = con.execute(
            f"{_SELECT} WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= ? "
            "ORDER BY next_run_at, org_id, schedule_id LIMIT ?",
            [now, limit],
        ).fetchall()
    return [Schedule(*row) for row in rows]


def insert(store: DuckDBStore, schedule: Schedule) -> None:
    with store.connection() as con:
        _insert(con, "schedules", schedule)
        store.notify(CHANGED)


def update(store: DuckDBStore, org_id: str, schedule_id: str, **changes: Any) -> None:
    with store.connection() as con:
        _update(con, "schedules", {"org_id": org_id, "schedule_id": schedule_id}, changes)
        store.notify(CHANGED)


def next_due_at(store: DuckDBStore) -> _dt.datetime | None:
    """When the next enabled schedule is due (None: none is): how long the scheduler may sleep."""
    with store.reading() as con:
        row = con.execute(
            "SELECT min(next_run_at) FROM schedules WHERE enabled AND next_run_at IS NOT NULL"
        ).fetchone()
    return row[0] if row else None


@dataclass
class Advance:
    """Where a tick leaves one schedule: its next due time, and what it last fired (or failed)."""

    org_id: str
    schedule_id: str
    next_run_at: _dt.datetime | None
    last_run_at: _dt.datetime | None = None
    last_run_id: str | None = None  # None: no run queued this tick, last_run_* unchanged
    last_error: str | None = None
    touched_error: bool = False  # whether this tick decided last_error (else it stays)

    def fired(self, at: _dt.datetime, run_id: str) -> None:
        self.last_run_at, self.last_run_id = at, run_id
        self.last_error, self.touched_error = None, True

    def failed(self, error: str) -> None:
        self.last_error, self.touched_error = error, True


def advance_many(store: DuckDBStore, advances: list[Advance]) -> None:
    """Move every schedule of a tick in one statement (in the tick's transaction)."""
    if not advances:
        return
    columns = list(zip(*[_advance_row(a) for a in advances], strict=True))
    with store.connection() as con:
        con.execute(
            """
            UPDATE schedules SET
                next_run_at = u.next_run_at,
                last_run_at = CASE WHEN u.ran THEN u.last_run_at ELSE schedules.last_run_at END,
                last_run_id = CASE WHEN u.ran THEN u.last_run_id ELSE schedules.last_run_id END,
                last_error = CASE WHEN u.erred THEN u.last_error ELSE schedules.last_error END
            FROM (
                SELECT unnest(?::VARCHAR[]) AS org_id, unnest(?::VARCHAR[]) AS schedule_id,
                       unnest(?::TIMESTAMP[]) AS next_run_at, unnest(?::BOOLEAN[]) AS ran,
                       unnest(?::TIMESTAMP[]) AS last_run_at, unnest(?::VARCHAR[]) AS last_run_id,
                       unnest(?::BOOLEAN[]) AS erred, unnest(?::VARCHAR[]) AS last_error
            ) AS u
            WHERE schedules.org_id = u.org_id AND schedules.schedule_id = u.schedule_id
            """,
            [list(c) for c in columns],
        )


def _advance_row(a: Advance) -> tuple[Any, ...]:
    ran = a.last_run_id is not None
    return (
        a.org_id,
        a.schedule_id,
        a.next_run_at,
        ran,
        a.last_run_at,
        a.last_run_id,
        a.touched_error,
        a.last_error,
    )


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
