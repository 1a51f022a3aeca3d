"""A store with runs of known statuses and durations, in two orgs, for `dagy sql`'s tests: the
figures a query must give are counted by hand from HISTORY below."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord, TaskRunRecord

DAY = dt.datetime(2026, 3, 4, 12, 0, 0)

# (run_id, flow_name, status, run seconds, [(task status, task seconds, attempts)])
HISTORY: dict[str, list[tuple[str, str, str, float, list[tuple[str, float, int]]]]] = {
    "personal": [
        ("p-1", "etl", "SUCCEEDED", 10.0, [("SUCCEEDED", 4.0, 1), ("SUCCEEDED", 5.0, 1)]),
        ("p-2", "etl", "SUCCEEDED", 20.0, [("SUCCEEDED", 8.0, 3), ("SUCCEEDED", 9.0, 1)]),
        ("p-3", "etl", "FAILED", 5.0, [("SUCCEEDED", 1.0, 1), ("FAILED", 2.5, 2)]),
        ("p-4", "report", "CANCELLED", 1.0, [("CANCELLED", 0.5, 1)]),
    ],
    "other-org": [
        ("o-1", "etl", "FAILED", 7.0, [("FAILED", 3.0, 1)]),
        ("o-2", "payroll", "SUCCEEDED", 2.0, [("SUCCEEDED", 2.0, 1)]),
    ],
}


def seed(home: Path, orgs: dict[str, str] | None = None) -> None:
    """HISTORY's runs into ``home``'s store (``orgs`` renames an org: HISTORY's key → org_id)."""
    store = DuckDBStore(DagyPaths(home))
    for key, runs in HISTORY.items():
        org_id = (orgs or {}).get(key, key)
        for n, (run_id, flow, status, seconds, tasks) in enumerate(runs):
            created = DAY + dt.timedelta(minutes=n)
            run = RunRecord(
                run_id,
                flow,
                "1.0.0",
                status,
                created,
                org_id=org_id,
                started_at=created,
                ended_at=created + dt.timedelta(seconds=seconds),
            )
            task_runs = [
                TaskRunRecord(
                    run_id,
                    f"{run_id}-t{i}",
                    f"step{i}",
                    i,
                    t_status,
                    org_id=org_id,
                    attempt=attempts,
                    max_attempts=3,
                    executor="local",
                    started_at=created,
                    ended_at=created + dt.timedelta(seconds=t_seconds),
                    duration_seconds=t_seconds,
                    error="boom" if t_status == "FAILED" else None,
                )
                for i, (t_status, t_seconds, attempts) in enumerate(tasks)
            ]
            store.create_run(run, task_runs)


def table_counts(home: Path) -> dict[str, int]:
    """Rows per table of the store, read directly: what "nothing changed" is checked against."""
    import duckdb

    con = duckdb.connect(str(DagyPaths(home).db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}  # type: ignore[index]
    finally:
        con.close()
