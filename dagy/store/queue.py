"""SQL for the run queue the server's workers consume, the event log, and the metrics they expose.

A queued run is a ``runs`` row (status PENDING, no pid or host yet) plus a ``flow_trigger`` event
(``pending`` → ``processing`` → ``done``/``failed``), written in one transaction. While the server
holds the store every call here runs under its connection lock, so a claim and a cancel never
interleave; each multi-statement change is also one DuckDB transaction, so a crash leaves either
all of it or none.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Event, FlowVersion, _select
from dagy.store.records import ACTIVE_STATUSES, API_STATUS, RUN_COLUMNS, RunRecord, row_of

FLOW_TRIGGER = "flow_trigger"
QUEUED = "runs.queued"  # the store topic notified when a run is queued (DuckDBStore.notify)
RUN_STATUS_UPDATE = "run_status_update"
EVENT_STATUSES = ("pending", "processing", "done", "failed")


def _transaction(store: DuckDBStore, *statements: tuple[str, list[Any]]) -> None:
    with store.transaction() as con:
        for sql, params in statements:
            con.execute(sql, params)


_INSERT_RUN = (
    f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})"
)
_INSERT_EVENT = (
    "INSERT INTO events (org_id, type, status, run_id, flow_name, deployment_name, payload, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _event_params(
    run: RunRecord, kind: str, status: str, payload: dict[str, Any] | None, at: _dt.datetime
) -> list[Any]:
    return [
        run.org_id,
        kind,
        status,
        run.run_id,
        run.flow_name,
        run.deployment_name,
        json.dumps(payload) if payload is not None else None,
        at,
    ]


# -- enqueue ----------------------------------------------------------------------------------------


def enqueue_run(
    store: DuckDBStore,
    run: RunRecord,
    payload: dict[str, Any] | None,
    *,
    execute: bool = True,
    also: Sequence[tuple[str, list[Any]]] = (),
) -> None:
    """Create the queued run and its ``flow_trigger`` event in one transaction (``execute`` False:
    the run only, which no worker will pick up), with ``also``: statements that must happen with
    the run or not at all (a schedule moving past the time it fired for)."""
    statements = [(_INSERT_RUN, row_of(run, RUN_COLUMNS))]
    if execute:
        statements.append(
            (_INSERT_EVENT, _event_params(run, FLOW_TRIGGER, "pending", payload, run.created_at))
        )
    statements.extend(also)
    with store.transaction():
        _transaction(store, *statements)
        if execute:
            store.notify(QUEUED)


def enqueue_runs(store: DuckDBStore, runs: Sequence[tuple[RunRecord, dict[str, Any]]]) -> None:
    """Many queued runs and their ``flow_trigger`` events (a scheduler tick's), each table in one
    multi-row statement: every column travels as one list and is unnested in SQL. Call it inside
    the caller's transaction when other writes must go with it."""
    if not runs:
        return
    with store.transaction() as con:
        run_types = _column_types(con, "runs")
        run_rows = [row_of(run, RUN_COLUMNS) for run, _ in runs]
        con.execute(
            f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) SELECT "
            + ", ".join(f"unnest(?::{run_types[c]}[])" for c in RUN_COLUMNS),
            [list(column) for column in zip(*run_rows, strict=True)],
        )
        event_rows = [
            _event_params(run, FLOW_TRIGGER, "pending", payload, run.created_at)
            for run, payload in runs
        ]
        con.execute(
            "INSERT INTO events (org_id, type, status, run_id, flow_name, deployment_name, "
            "payload, created_at) SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::TIMESTAMP[])",
            [list(column) for column in zip(*event_rows, strict=True)],
        )
        store.notify(QUEUED)


def _column_types(con: Any, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table],
    ).fetchall()
    return {name: kind for name, kind in rows}


def active_runs(
    store: DuckDBStore,
    org_id: str,
    *,
    deployment_name: str | None = None,
    flow_name: str | None = None,
) -> int:
    """Queued or running runs of a deployment, or of a flow (what ``singleton`` refuses to join)."""
    where = ["org_id = ?", "status IN (SELECT unnest(?::VARCHAR[]))"]
    params: list[Any] = [org_id, list(ACTIVE_STATUSES)]
    if deployment_name is not None:
        where.append("deployment_name = ?")
        params.append(deployment_name)
    if flow_name is not None:
        where.append("flow_name = ?")
        params.append(flow_name)
    with store.reading() as con:
        row = con.execute(
            f"SELECT count(*) FROM runs WHERE {' AND '.join(where)}", params
        ).fetchone()
    return int(row[0]) if row else 0


def flow_version_by_number(
    store: DuckDBStore, org_id: str, flow_name: str, deployment_version: int
) -> FlowVersion | None:
    """A flow version by its registration number (the spec's ``"flow_version": 5``)."""
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(FlowVersion)} FROM flows "
            "WHERE org_id = ? AND flow_name = ? AND deployment_version = ?",
            [org_id, flow_name, deployment_version],
        ).fetchone()
    return FlowVersion(*row) if row else None


# -- the workers' side ------------------------------------------------------------------------------


def claim_next(store: DuckDBStore, at: _dt.datetime) -> Event | None:
    """Mark the oldest runnable pending ``flow_trigger`` event ``processing`` and return it.

    An event waits while its deployment already has ``max_concurrent_runs`` events processing;
    the events behind it of other deployments go first, those of the same deployment keep their
    order.
    """
    with store.transaction() as con:
        event = _next_runnable(con)
        if event is not None:
            con.execute(
                "UPDATE events SET status = 'processing', claimed_at = ?, "
                "attempts = attempts + 1 WHERE event_id = ?",
                [at, event.event_id],
            )
    if event is None:
        return None
    event.status, event.claimed_at, event.attempts = "processing", at, event.attempts + 1
    return event


def _next_runnable(con: Any) -> Event | None:
    row = con.execute(
        f"""
        SELECT {_select(Event, "e")} FROM events e
        LEFT JOIN deployments d ON d.org_id = e.org_id AND d.name = e.deployment_name
        WHERE e.type = ? AND e.status = 'pending'
          AND (d.max_concurrent_runs IS NULL OR d.max_concurrent_runs > (
                SELECT count(*) FROM events p
                WHERE p.type = e.type AND p.status = 'processing'
                  AND p.org_id = e.org_id AND p.deployment_name = e.deployment_name))
        ORDER BY e.event_id LIMIT 1
        """,
        [FLOW_TRIGGER],
    ).fetchone()
    return Event(*row) if row else None


def finish_event(
    store: DuckDBStore, event_id: int, status: str, at: _dt.datetime, error: str | None = None
) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE events SET status = ?, finished_at = ?, error = ? WHERE event_id = ?",
            [status, at, error, event_id],
        )


def requeue_event(store: DuckDBStore, event_id: int, *, undo_attempt: bool = False) -> None:
    """Back to ``pending``; ``undo_attempt`` when the claim never started anything."""
    with store.connection() as con:
        con.execute(
            "UPDATE events SET status = 'pending', claimed_at = NULL, "
            "attempts = attempts - ? WHERE event_id = ?",
            [1 if undo_attempt else 0, event_id],
        )


def events_in_status(store: DuckDBStore, status: str) -> list[tuple[Event, str | None]]:
    """``flow_trigger`` events in one status with their run's status (None: no such run)."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_select(Event, 'e')}, r.status FROM events e "
            "LEFT JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.type = ? AND e.status = ? ORDER BY e.event_id",
            [FLOW_TRIGGER, status],
        ).fetchall()
    return [(Event(*row[:-1]), row[-1]) for row in rows]


def finish_run(
    store: DuckDBStore,
    run: RunRecord,
    changes: dict[str, Any],
    task_runs: Sequence[Any],
    *,
    event_id: int | None,
    event_status: str,
    event_error: str | None,
    at: _dt.datetime,
) -> None:
    """Finalize a run the engine did not (cancelled while queued, crashed child): its new fields,
    its task runs, its trigger event, and a ``run_status_update`` event, in one transaction."""
    with store.transaction() as con:
        store._upsert_task_runs(con, task_runs)
        store._update_run(con, run.run_id, changes)
        if event_id is not None:
            con.execute(
                "UPDATE events SET status = ?, finished_at = ?, error = ? WHERE event_id = ?",
                [event_status, at, event_error, event_id],
            )
        else:  # a queued run's pending event, if it has one
            con.execute(
                "UPDATE events SET status = ?, finished_at = ?, error = ? "
                "WHERE run_id = ? AND type = ? AND status = 'pending'",
                [event_status, at, event_error, run.run_id, FLOW_TRIGGER],
            )
        status = changes.get("status", run.status)
        con.execute(_INSERT_DONE_EVENT, _status_event(run, status, changes.get("error"), at))


_INSERT_DONE_EVENT = (
    "INSERT INTO events (org_id, type, status, run_id, flow_name, deployment_name, payload, "
    "created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _status_event(run: RunRecord, status: str, error: str | None, at: _dt.datetime) -> list[Any]:
    payload = {"status": API_STATUS.get(status, status.lower()), "error": error}
    return [*_event_params(run, RUN_STATUS_UPDATE, "done", payload, at), at]


def record_status(store: DuckDBStore, run: RunRecord, at: _dt.datetime) -> None:
    """A ``run_status_update`` event (already ``done``: a record for the event log)."""
    with store.connection() as con:
        con.execute(_INSERT_DONE_EVENT, _status_event(run, run.status, run.error, at))


# -- the event log ----------------------------------------------------------------------------------


def events_page(
    store: DuckDBStore,
    org_id: str,
    *,
    filters: dict[str, str],
    start: _dt.datetime | None,
    end: _dt.datetime | None,
    before: int | None,
    limit: int,
) -> list[Event]:
    """Newest first, keyset-paged by ``event_id``; ``filters`` are equalities on known columns."""
    where: list[str] = ["org_id = ?"]
    params: list[Any] = [org_id]
    for column in ("type", "status", "flow_name", "run_id", "deployment_name"):
        if filters.get(column):
            where.append(f"{column} = ?")
            params.append(filters[column])
    if start is not None:
        where.append("created_at >= ?")
        params.append(start)
    if end is not None:
        where.append("created_at < ?")
        params.append(end)
    if before is not None:
        where.append("event_id < ?")
        params.append(before)
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_select(Event)} FROM events WHERE {' AND '.join(where)} "
            "ORDER BY event_id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
    return [Event(*row) for row in rows]


# -- metrics ----------------------------------------------------------------------------------------


def runs_by_status(store: DuckDBStore, org_id: str) -> dict[str, int]:
    with store.reading() as con:
        rows = con.execute(
            "SELECT status, count(*) FROM runs WHERE org_id = ? GROUP BY status", [org_id]
        ).fetchall()
    return {status: int(n) for status, n in rows}


def queue_depth(store: DuckDBStore, org_id: str) -> int:
    """Triggered runs waiting for a worker."""
    with store.reading() as con:
        row = con.execute(
            "SELECT count(*) FROM events WHERE org_id = ? AND type = ? AND status = 'pending'",
            [org_id, FLOW_TRIGGER],
        ).fetchone()
    return int(row[0]) if row else 0


def _histogram(
    store: DuckDBStore, source: str, params: list[Any], buckets: Sequence[float]
) -> tuple[list[int], int, float]:
    """Cumulative counts per bucket bound, count and sum of ``s`` from ``source`` (one scan)."""
    counts = ", ".join(f"count(*) FILTER (WHERE s <= {float(b)!r})" for b in buckets)
    with store.reading() as con:
        row = con.execute(
            f"SELECT {counts}, count(*), coalesce(sum(s), 0) FROM ({source})", params
        ).fetchone()
    assert row is not None
    values = list(row)
    return [int(v) for v in values[: len(buckets)]], int(values[-2]), float(values[-1])


def run_durations(
    store: DuckDBStore, org_id: str, buckets: Sequence[float]
) -> tuple[list[int], int, float]:
    """Wall time of finished runs (started to ended), as a histogram."""
    return _histogram(
        store,
        "SELECT date_diff('millisecond', started_at, ended_at) / 1000.0 AS s FROM runs "
        "WHERE org_id = ? AND started_at IS NOT NULL AND ended_at IS NOT NULL",
        [org_id],
        buckets,
    )


def task_durations(
    store: DuckDBStore, org_id: str, buckets: Sequence[float]
) -> tuple[list[int], int, float]:
    """Duration of finished task runs, as a histogram."""
    return _histogram(
        store,
        "SELECT duration_seconds AS s FROM task_runs "
        "WHERE org_id = ? AND duration_seconds IS NOT NULL",
        [org_id],
        buckets,
    )


# -- a server-run child's own run -------------------------------------------------------------------


def run_by_id(store: DuckDBStore, run_id: str) -> RunRecord | None:
    """A run in whichever org it belongs to (run ids are unique across orgs)."""
    with store.reading() as con:
        row = con.execute(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ?", [run_id]
        ).fetchone()
    return RunRecord(*row) if row else None
