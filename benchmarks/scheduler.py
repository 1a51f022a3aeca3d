"""The scheduler with 10,000 cron schedules: the time of one tick, and the delay from a due time
to its run starting on a real `dagy serve`.

    python benchmarks/scheduler.py              # 10,000 schedules, 1,000 due in the firing tick
    python benchmarks/scheduler.py --quick      # 1,000 schedules, 100 due: a smoke test

1. In-process, on a fresh temporary home: ``--schedules`` cron schedules (``0 9 * * *`` in a
   handful of IANA zones, none due) are seeded with one ``INSERT ... SELECT ... FROM range(n)``.
   An idle tick (nothing due: the SQL that finds due schedules) is timed ``--repeats`` times;
   then ``--due`` of them are made due and one tick fires them all (one run queued each; the runs
   and every schedule's advance in one transaction): its wall time and the cost per fire.
2. A real `dagy serve --local` on another home with the same schedules plus ``--live`` (4)
   interval schedules due every 2 s, their due times spread over the 2 s (created 2 / live s
   apart), at the default tick (DAGY_SCHEDULER_TICK=1): for ``--seconds``, the
   delay of each scheduled run from its due time (its ``scheduled_at`` tag) to being queued
   (``created_at``), to a worker claiming it (its event's ``claimed_at``) and to starting (``started_at``, a worker's child process running it), read
   from the store file afterwards (microseconds; the API shows whole seconds). Due times that
   came while the server was still starting are left out.

Informational: no targets; exit code 0 unless a run fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runs as runs_bench  # noqa: E402 - the Server, flow and registration of benchmarks/runs.py

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney"]


def seed_schedules(home: Path, count: int) -> float:
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    started = time.perf_counter()
    with DuckDBStore(DagyPaths(home)).connection() as con:
        con.execute(
            """
            INSERT INTO schedules (org_id, schedule_id, flow_name, flow_version, deployment_name,
                mode, enabled, timezone, catchup_policy, cron_expression, parameters,
                next_run_at, created_at, updated_at)
            SELECT 'personal', 'cron-' || lpad(i::VARCHAR, 6, '0'), 'bench_one', '"1.0.0"', NULL,
                'cron', true, (?::VARCHAR[])[1 + i % 5], 'skip', '0 9 * * *', '{"x": 1}',
                TIMESTAMP '2099-01-01' + to_seconds(i), now()::TIMESTAMP, now()::TIMESTAMP
            FROM range(?) t(i)
            """,
            [ZONES, count],
        )
    return time.perf_counter() - started


def bench_ticks(home: Path, count: int, due: int, repeats: int) -> dict[str, float]:
    from dagy.config.paths import DagyPaths
    from dagy.services.triggers import schedule_tick
    from dagy.store.duckdb_store import DuckDBStore
    from dagy.store.records import utcnow

    store = DuckDBStore(DagyPaths(home))
    store.hold()
    try:
        idle = []
        for _ in range(repeats):
            started = time.perf_counter()
            report = schedule_tick.tick(store, utcnow())
            idle.append(time.perf_counter() - started)
            assert report.fired == 0
        with store.connection() as con:
            con.execute(
                "UPDATE schedules SET next_run_at = ? WHERE schedule_id IN "
                "(SELECT schedule_id FROM schedules ORDER BY schedule_id LIMIT ?)",
                [utcnow() - dt.timedelta(seconds=1), due],
            )
        started = time.perf_counter()
        report = schedule_tick.tick(
            store, utcnow(), schedule_tick.TickSettings(batch=max(due, 1000))
        )
        firing = time.perf_counter() - started
        assert report.fired == due, report
    finally:
        store.release()
    return {
        "idle_p50_ms": statistics.median(idle) * 1000,
        "idle_max_ms": max(idle) * 1000,
        "firing_s": firing,
        "per_fire_ms": firing / due * 1000,
    }


def bench_delay(home: Path, flow_file: Path, count: int, live: int, seconds: float) -> dict:
    from dagy.config.paths import DagyPaths
    from dagy.services.triggers import schedules
    from dagy.store.duckdb_store import DuckDBStore

    runs_bench.register_offline(home, flow_file)
    seed_schedules(home, count)
    store = DuckDBStore(DagyPaths(home))
    for i in range(live):
        if i:  # due times spread over the interval: one run starting at a time, not all at once
            time.sleep(2 / live)
        schedules.create(
            store,
            "personal",
            {
                "schedule_id": f"live-{i}",
                "flow_name": "bench_one",
                "mode": "interval",
                "interval_seconds": 2,
            },
        )
    os.environ.update(DAGY_SCHEDULER_TICK="1")
    server = runs_bench.Server(home, workers=4)
    ready = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # due before: server starting
    try:
        time.sleep(seconds)
    finally:
        server.stop()
    # The store keeps microseconds (the API shows seconds): read the runs from the file.
    with store.connection() as con:
        rows = con.execute(
            "SELECT r.tags, r.created_at, e.claimed_at, r.started_at, r.status FROM runs r "
            "LEFT JOIN events e ON e.run_id = r.run_id AND e.type = 'flow_trigger' "
            "WHERE r.trigger = 'schedule'"
        ).fetchall()
    queued, claimed, started_delays, failed = [], [], [], 0
    for tags, created, claimed_at, started, status in rows:
        failed += status == "FAILED"
        due = next(t.split(":", 1)[1] for t in json.loads(tags) if t.startswith("scheduled_at:"))
        at = dt.datetime.fromisoformat(due.rstrip("Z"))
        if at < ready:
            continue
        queued.append((created - at).total_seconds())
        if claimed_at is not None:
            claimed.append((claimed_at - at).total_seconds())
        if started is not None:
            started_delays.append((started - at).total_seconds())
    return {
        "runs": len(started_delays),
        "failed": failed,
        "queued_p50": statistics.median(queued),
        "queued_max": max(queued),
        "claimed_p50": statistics.median(claimed),
        "claimed_p99": runs_bench.percentile(claimed, 99),
        "started_p50": statistics.median(started_delays),
        "started_p99": runs_bench.percentile(started_delays, 99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--live", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args()  # nox -s bench passes every script the same arguments
    if args.quick:
        args.schedules, args.due, args.repeats, args.live, args.seconds = 1_000, 100, 5, 3, 5.0
    scratch = Path(tempfile.mkdtemp(prefix="dagy-bench-scheduler-"))
    try:
        flow_file = scratch / "bench_flow.py"
        flow_file.write_text(textwrap.dedent(runs_bench.FLOW), encoding="utf-8")
        home = scratch / "ticks"
        runs_bench.register_offline(home, flow_file)
        took = seed_schedules(home, args.schedules)
        print(f"seeded {args.schedules:,} cron schedules in {took:.2f} s")
        ticks = bench_ticks(home, args.schedules, args.due, args.repeats)
        print(
            f"idle tick ({args.schedules:,} schedules, none due): "
            f"p50 {ticks['idle_p50_ms']:.2f} ms, max {ticks['idle_max_ms']:.2f} ms"
        )
        print(
            f"firing tick ({args.due:,} due): {ticks['firing_s']:.2f} s, "
            f"{ticks['per_fire_ms']:.2f} ms per run queued"
        )
        delay = bench_delay(scratch / "live", flow_file, args.schedules, args.live, args.seconds)
        print(
            f"due → queued over {delay['runs']} scheduled runs (tick 1 s): "
            f"p50 {delay['queued_p50']:.3f} s, max {delay['queued_max']:.3f} s"
        )
        print(
            f"due → claimed by a worker: p50 {delay['claimed_p50']:.3f} s, "
            f"p99 {delay['claimed_p99']:.3f} s"
        )
        print(
            f"due → started (the run's child process running it): p50 "
            f"{delay['started_p50']:.3f} s, p99 {delay['started_p99']:.3f} s"
        )
        print(json.dumps({"ticks": ticks, "delay": delay}))
        return 1 if delay["failed"] else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
