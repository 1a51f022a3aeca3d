"""GET /metrics: the org's runs and queue in Prometheus' text exposition format (version 0.0.4).

Counts and histograms are computed in SQL at each scrape (dagy/store/queue.py); labels carry the
API's status words. Everything is scoped to the caller's org.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagy.store import queue as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import API_STATUS, RUNNING

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) or abs(value) >= 1e15 else str(int(value))


def _histogram(
    name: str, help_text: str, buckets: Sequence[float], data: tuple[list[int], int, float]
) -> list[str]:
    counts, total, summed = data
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound, count in zip(buckets, counts, strict=True):
        lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {count}')
    lines += [
        f'{name}_bucket{{le="+Inf"}} {total}',
        f"{name}_sum {_number(round(summed, 6))}",
        f"{name}_count {total}",
    ]
    return lines


def render(store: DuckDBStore, org_id: str, *, workers: Any = None) -> str:
    with store.connection():
        by_status = sql.runs_by_status(store, org_id)
        depth = sql.queue_depth(store, org_id)
        runs = sql.run_durations(store, org_id, RUN_BUCKETS)
        tasks = sql.task_durations(store, org_id, TASK_BUCKETS)
    lines = [
        "# HELP dagy_runs_total Runs in the store, by status.",
        "# TYPE dagy_runs_total gauge",
    ]
    for internal, word in API_STATUS.items():
        lines.append(f'dagy_runs_total{{status="{word}"}} {by_status.get(internal, 0)}')
    lines += [
        "# HELP dagy_queue_depth Triggered runs waiting for a worker.",
        "# TYPE dagy_queue_depth gauge",
        f"dagy_queue_depth {depth}",
        "# HELP dagy_runs_running Runs executing now.",
        "# TYPE dagy_runs_running gauge",
        f"dagy_runs_running {by_status.get(RUNNING, 0)}",
    ]
    if workers is not None:
        lines += [
            "# HELP dagy_workers Run workers of this server (its limit of runs at once).",
            "# TYPE dagy_workers gauge",
            f"dagy_workers {workers.count}",
            "# HELP dagy_workers_busy Run workers executing a run now (all orgs).",
            "# TYPE dagy_workers_busy gauge",
            f"dagy_workers_busy {workers.busy}",
        ]
    lines += _histogram(
        "dagy_run_duration_seconds", "Wall time of finished runs.", RUN_BUCKETS, runs
    )
    lines += _histogram(
        "dagy_task_run_duration_seconds", "Duration of finished task runs.", TASK_BUCKETS, tasks
    )
    return "\n".join(lines) + "\n"
