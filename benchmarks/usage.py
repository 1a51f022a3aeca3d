"""Usage figures served by a real `dagy serve` over 10 million task runs.

    python benchmarks/usage.py                     # 10,000,000 task runs (200,000 runs), 50 requests
    python benchmarks/usage.py --tasks 2000000     # smaller
    python benchmarks/usage.py --quick             # 200,000 task runs, 20 requests: a smoke test

Before the server starts, ``--tasks`` task runs (``--per-run`` to a run) and their runs go into a
fresh temporary home's store with one ``INSERT ... SELECT ... FROM range(n)`` each, spread over
the current month up to now (so every row is in the billing period /usage/summary reads), 20 flows,
three executors, one task run in 97 failed; host NULL, so crash recovery skips them. Then a
multi-user `dagy serve` (quotas enforced; the rate limiter off) is timed from one keep-alive
client with the local token (owner of the personal org, where the rows are): ``--requests`` calls
each of /usage/summary, /usage/costs, /usage/timeseries, /usage/quota and /usage/dashboard, after
one warm-up call each, p50 and p99. The figures are checked against the seeded counts.

Informational: no targets; the exit code is 0 unless a request fails or a figure is wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs import Server, percentile  # noqa: E402 - the runs benchmark's server and percentile

ENDPOINTS = ("summary", "costs", "timeseries", "quota", "dashboard")


def seed(home: Path, tasks: int, per_run: int, now: dt.datetime) -> tuple[int, float]:
    """(runs, seconds): ``tasks`` task runs of ``tasks // per_run`` runs in this month so far."""
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    runs = max(1, tasks // per_run)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max(1, int((now - start).total_seconds()) - 3600)  # an hour of margin before now
    started = time.perf_counter()
    with DuckDBStore(DagyPaths(home)).connection() as con:
        con.execute(
            """
            INSERT INTO runs (run_id, org_id, flow_name, flow_version, status, trigger, executor,
                              max_workers, fail_fast, host, created_at, started_at, ended_at,
                              events_offset, files_pruned)
            SELECT 'bench-' || i, 'personal', 'flow_' || (i % 20), '1.0.0',
                   CASE WHEN i % 97 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END, 'api', 'local',
                   4, true, NULL, ts, ts, ts + INTERVAL 60 SECOND, 0, true
            FROM (SELECT i, $start::TIMESTAMP + to_seconds((i * $span) // $runs) AS ts
                  FROM range($runs) t(i))
            """,
            {"start": start, "span": span, "runs": runs},
        )
        con.execute(
            """
            INSERT INTO task_runs (run_id, task_run_id, org_id, task_name, seq, status, attempt,
                                   max_attempts, executor, started_at, ended_at, duration_seconds)
            SELECT 'bench-' || r, 't' || s, 'personal', 'task_' || (s % 10), s,
                   CASE WHEN i % 97 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END, 1, 1,
                   ['local', 'process', 'lambda'][1 + i % 3],
                   ts, ts + INTERVAL 1 SECOND, 0.5 + (i % 7) / 10
            FROM (SELECT i, i // $per AS r, i % $per AS s,
                         $start::TIMESTAMP + to_seconds(((i // $per) * $span) // $runs + i % $per)
                             AS ts
                  FROM range($tasks) t(i))
            """,
            {"start": start, "span": span, "runs": runs, "per": per_run, "tasks": runs * per_run},
        )
    return runs, time.perf_counter() - started


def bench(server: Server, requests: int) -> tuple[dict[str, tuple[float, float]], dict]:
    con = server.connect()
    out: dict[str, tuple[float, float]] = {}
    answers: dict = {}
    for name in ENDPOINTS:
        path = f"/usage/{name}"
        status, answers[name] = server.call(con, "GET", path)  # warm-up (and the figures)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {answers[name]}")
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            status, body = server.call(con, "GET", path)
            times.append(time.perf_counter() - began)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}: {body}")
        out[name] = (percentile(times, 50) * 1000, percentile(times, 99) * 1000)
    con.close()
    return out, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000_000)
    parser.add_argument("--per-run", type=int, default=50)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--check", action="store_true", help="accepted for nox -s bench; no targets"
    )
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.requests = 200_000, 20
    scratch = Path(tempfile.mkdtemp(prefix="dagy-bench-usage-"))
    home = scratch / "home"
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    runs, seconds = seed(home, args.tasks, args.per_run, now)
    tasks = runs * args.per_run
    size = (home / "dagy.duckdb").stat().st_size / 1e6
    print(f"seeded {tasks:,} task runs of {runs:,} runs in {seconds:.1f} s ({size:,.0f} MB)")

    server = Server(home, 1, local=False)
    try:
        times, answers = bench(server, args.requests)
    finally:
        server.stop()
    summary = answers["summary"]
    failed = (tasks + 96) // 97 + (runs + 96) // 97
    got = (summary["run_count"], summary["task_count"], summary["error_count"])
    if got != (runs, tasks, failed):
        raise SystemExit(f"summary counts {got}, seeded {(runs, tasks, failed)}")
    if len(answers["costs"]["by_flow"]) != min(20, runs):
        raise SystemExit(f"costs by flow: {answers['costs']['by_flow']}")

    print(
        f"\n{args.requests} requests per endpoint, one keep-alive client, "
        f"{os.cpu_count()} cores, {tasks:,} task runs in the billing period:"
    )
    for name, (p50, p99) in times.items():
        print(f"  GET /usage/{name:<11} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    print(
        f"  (summary: {summary['task_count']:,} tasks, {summary['compute_seconds']:,.0f} compute "
        f"seconds, ${summary['estimated_cost_usd']:,.2f})"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
