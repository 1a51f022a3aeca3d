"""SQL for usage metering: totals, days, flows and executors over runs and task runs, API calls,
quota overrides and the counts a trigger is checked against.

Every figure is a GROUP BY in DuckDB; nothing here loops over rows. A run counts on the day it was
created; a task run on the day it started (a task run that never started used nothing), and a task
run reused by a retry (``reused_from``) counts nowhere: its work was done and counted once.
Compute seconds are task run durations; cost is compute seconds times the executor's rate, which
the caller passes in (``rates``: executor → USD per second, ``default_rate`` for the rest).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import FAILED, PENDING, RUNNING

# The part of a task run a bill sees: its org, start, executor, compute and whether it failed.
_TASKS = f"""
    SELECT t.run_id, t.started_at, coalesce(t.executor, 'local') AS executor,
           coalesce(t.duration_seconds, 0) AS seconds,
           (t.status = '{FAILED}')::INTEGER AS failed
    FROM task_runs t
    WHERE t.org_id = $org AND t.started_at >= $start AND t.started_at < $end
      AND t.reused_from IS NULL
"""
_RUNS = f"""
    SELECT r.run_id, r.flow_name, r.created_at, (r.status = '{FAILED}')::INTEGER AS failed
    FROM runs r
    WHERE r.org_id = $org AND r.created_at >= $start AND r.created_at < $end
"""
_RATES = """
    SELECT unnest($rate_names::VARCHAR[]) AS executor, unnest($rate_values::DOUBLE[]) AS rate
"""
_COST = "coalesce(sum(tk.seconds * coalesce(rt.rate, $default_rate)), 0)"


@dataclass(frozen=True)
class Totals:
    run_count: int
    task_count: int
    compute_seconds: float
    api_call_count: int
    error_count: int
    cost_usd: float


@dataclass(frozen=True)
class Day(Totals):
    day: _dt.date


@dataclass(frozen=True)
class FlowCost:
    flow_name: str
    run_count: int
    task_count: int
    cost_usd: float


@dataclass(frozen=True)
class ExecutorCost:
    executor: str
    task_count: int
    cost_usd: float


@dataclass(frozen=True)
class Override:
    monthly_runs: int | None
    monthly_tasks: int | None
    concurrent_runs: int | None
    max_run_duration_seconds: int | None


OVERRIDE_FIELDS = tuple(f.name for f in fields(Override))


@dataclass(frozen=True)
class Window:
    """What a usage query reads: one org's rows in [start, end), and the rates pricing compute."""

    org_id: str
    start: _dt.datetime
    end: _dt.datetime
    rates: Mapping[str, float]
    default_rate: float

    def params(self) -> dict[str, Any]:
        return {
            "org": self.org_id,
            "start": self.start,
            "end": self.end,
            "rate_names": list(self.rates),
            "rate_values": [float(v) for v in self.rates.values()],
            "default_rate": float(self.default_rate),
        }


def totals(store: DuckDBStore, w: Window) -> Totals:
    """Usage in the window."""
    sql = f"""
        WITH tk AS ({_TASKS}), rn AS ({_RUNS}), rt AS ({_RATES}),
        tasks AS (
            SELECT count(*) AS n, coalesce(sum(tk.seconds), 0) AS seconds,
                   coalesce(sum(tk.failed), 0) AS failed, {_COST} AS cost
            FROM tk LEFT JOIN rt USING (executor)
        ),
        runs AS (SELECT count(*) AS n, coalesce(sum(failed), 0) AS failed FROM rn),
        calls AS (
            SELECT coalesce(sum(calls), 0) AS n FROM api_calls
            WHERE org_id = $org AND day >= $start::DATE AND day < $end::DATE
        )
        SELECT runs.n, tasks.n, tasks.seconds, calls.n, runs.failed + tasks.failed, tasks.cost
        FROM tasks, runs, calls
    """
    with store.reading() as con:
        row = con.execute(sql, w.params()).fetchone()
    assert row is not None
    return Totals(int(row[0]), int(row[1]), float(row[2]), int(row[3]), int(row[4]), float(row[5]))


def days(store: DuckDBStore, w: Window) -> list[Day]:
    """One row per day of the window (whole days), days without usage too."""
    sql = f"""
        WITH tk AS ({_TASKS}), rn AS ({_RUNS}), rt AS ({_RATES}),
        cal AS (SELECT range::DATE AS day FROM range($start, $end, INTERVAL 1 DAY)),
        tasks AS (
            SELECT tk.started_at::DATE AS day, count(*) AS n, sum(tk.seconds) AS seconds,
                   sum(tk.failed) AS failed, {_COST} AS cost
            FROM tk LEFT JOIN rt USING (executor) GROUP BY 1
        ),
        runs AS (
            SELECT created_at::DATE AS day, count(*) AS n, sum(failed) AS failed FROM rn GROUP BY 1
        ),
        calls AS (
            SELECT day, sum(calls) AS n FROM api_calls
            WHERE org_id = $org AND day >= $start::DATE AND day < $end::DATE GROUP BY 1
        )
        SELECT coalesce(runs.n, 0), coalesce(tasks.n, 0), coalesce(tasks.seconds, 0),
               coalesce(calls.n, 0), coalesce(runs.failed, 0) + coalesce(tasks.failed, 0),
               coalesce(tasks.cost, 0), cal.day
        FROM cal
        LEFT JOIN tasks USING (day) LEFT JOIN runs USING (day) LEFT JOIN calls USING (day)
        ORDER BY cal.day
    """
    with store.reading() as con:
        rows = con.execute(sql, w.params()).fetchall()
    return [
        Day(int(r[0]), int(r[1]), float(r[2]), int(r[3]), int(r[4]), float(r[5]), r[6])
        for r in rows
    ]


def by_flow(store: DuckDBStore, w: Window, *, limit: int | None = None) -> list[FlowCost]:
    """Runs created, task runs started and their cost per flow, dearest first.

    A task run belongs to its run's flow; a run created before ``start`` whose task runs started
    inside the window still brings them (and their cost) to its flow.
    """
    sql = f"""
        WITH tk AS ({_TASKS}), rn AS ({_RUNS}), rt AS ({_RATES}),
        -- Per run first, then per flow: joining ~runs rows to runs, not ~task runs rows, halves
        -- the time at 10M task runs (benchmarks/usage.py).
        per_run AS (
            SELECT tk.run_id, count(*) AS n, {_COST} AS cost
            FROM tk LEFT JOIN rt USING (executor) GROUP BY 1
        ),
        tasks AS (
            SELECT r.flow_name, sum(p.n) AS n, sum(p.cost) AS cost
            FROM per_run p JOIN runs r ON r.run_id = p.run_id GROUP BY 1
        ),
        runs AS (SELECT flow_name, count(*) AS n FROM rn GROUP BY 1)
        SELECT flow_name, coalesce(runs.n, 0), coalesce(tasks.n, 0), coalesce(tasks.cost, 0)
        FROM runs FULL OUTER JOIN tasks USING (flow_name)
        ORDER BY 4 DESC, 2 DESC, 1
    """
    params = w.params()
    if limit is not None:
        sql += " LIMIT $limit"
        params["limit"] = limit
    with store.reading() as con:
        rows = con.execute(sql, params).fetchall()
    return [FlowCost(r[0], int(r[1]), int(r[2]), float(r[3])) for r in rows]


def by_executor(store: DuckDBStore, w: Window) -> list[ExecutorCost]:
    """Task runs started and their cost per executor, dearest first."""
    sql = f"""
        WITH tk AS ({_TASKS}), rt AS ({_RATES})
        SELECT executor, count(*), {_COST}
        FROM tk LEFT JOIN rt USING (executor)
        GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1
    """
    with store.reading() as con:
        rows = con.execute(sql, w.params()).fetchall()
    return [ExecutorCost(r[0], int(r[1]), float(r[2])) for r in rows]


# -- what a trigger is checked against --------------------------------------------------------------


def runs_since(store: DuckDBStore, org_id: str, start: _dt.datetime) -> int:
    with store.reading() as con:
        row = con.execute(
            "SELECT count(*) FROM runs WHERE org_id = ? AND created_at >= ?", [org_id, start]
        ).fetchone()
    return int(row[0]) if row else 0


def tasks_since(store: DuckDBStore, org_id: str, start: _dt.datetime) -> int:
    with store.reading() as con:
        row = con.execute(
            "SELECT count(*) FROM task_runs "
            "WHERE org_id = ? AND started_at >= ? AND reused_from IS NULL",
            [org_id, start],
        ).fetchone()
    return int(row[0]) if row else 0


def concurrent_runs(store: DuckDBStore, org_id: str) -> int:
    """Runs running, or queued for the workers (a run recorded with ``execute`` false waits for
    nothing and takes no worker: it does not count)."""
    with store.reading() as con:
        row = con.execute(
            f"""
            SELECT count(*) FROM runs r
            WHERE r.org_id = ? AND (r.status = '{RUNNING}' OR (r.status = '{PENDING}' AND EXISTS (
                SELECT 1 FROM events e WHERE e.run_id = r.run_id AND e.type = 'flow_trigger'
                  AND e.status IN ('pending', 'processing'))))
            """,
            [org_id],
        ).fetchone()
    return int(row[0]) if row else 0


# -- API calls, fed in batches by the server --------------------------------------------------------


def add_api_calls(store: DuckDBStore, counts: Iterable[tuple[str, _dt.date, int]]) -> None:
    """Add ``(org_id, day, calls)`` to the day's count, in one statement."""
    rows = list(counts)
    if not rows:
        return
    orgs, dates, calls = (list(c) for c in zip(*rows, strict=True))
    with store.connection() as con:
        con.execute(
            """
            INSERT INTO api_calls (org_id, day, calls)
            SELECT unnest(?::VARCHAR[]), unnest(?::DATE[]), unnest(?::BIGINT[])
            ON CONFLICT (org_id, day) DO UPDATE SET calls = api_calls.calls + excluded.calls
            """,
            [orgs, dates, calls],
        )


# -- quota overrides --------------------------------------------------------------------------------


def get_override(store: DuckDBStore, org_id: str) -> Override | None:
    with store.reading() as con:
        row = con.execute(
            f"SELECT {', '.join(OVERRIDE_FIELDS)} FROM quota_overrides WHERE org_id = ?", [org_id]
        ).fetchone()
    return Override(*row) if row else None


def set_override(store: DuckDBStore, org_id: str, override: Override, now: _dt.datetime) -> None:
    cols = ", ".join(OVERRIDE_FIELDS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in OVERRIDE_FIELDS)
    with store.connection() as con:
        con.execute(
            f"INSERT INTO quota_overrides (org_id, {cols}, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in OVERRIDE_FIELDS)}, ?) "
            f"ON CONFLICT (org_id) DO UPDATE SET {sets}, updated_at = excluded.updated_at",
            [org_id, *(getattr(override, c) for c in OVERRIDE_FIELDS), now],
        )


def delete_override(store: DuckDBStore, org_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM quota_overrides WHERE org_id = ?", [org_id])
