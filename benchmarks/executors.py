"""The 500-task fan-out (1 -> 500 -> 1) on the ``local``, ``process`` and ``dask`` executors.

    python benchmarks/executors.py           # 500 no-ops, median of 3 per executor (~1-2 minutes)
    python benchmarks/executors.py --quick   # 100 no-ops, one run each: a smoke test

Each executor runs the same flow file (``process`` children and dask workers import it by path)
with 8 workers in a fresh temporary Dagy home. ``dask`` runs on a LocalCluster of 2 worker
processes with 1 thread each on loopback, started before and closed after (its start-up is shown
apart). Per-task overhead = (wall - the same executor's 1-task run) / task runs. ``dask`` is
skipped, and said so, when ``dagy-dask`` is not installed. Numbers are informational (exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dagy.config.paths import DagyPaths

WORKERS = 8
FLOWS = """
from dagy import flow, task

@task
def source() -> int:
    return 0

@task
def noop(upstream: int, i: int) -> int:
    return i

@task
def fan_in(values: list) -> int:
    return len(values)

@flow(name="bench_fanout")
def fanout(n: int = 500):
    head = source()
    return fan_in([noop(head, i) for i in range(n)])

@flow(name="bench_single")
def single():
    return source()
"""
_DAGY_ENV = ("DAGY_LOCAL_VERBOSE", "DAGY_LOCAL_ARTIFACT_MAX_BYTES", "DAGY_LOCAL_KEEP_RUNS")


def _run(target: str, params: dict[str, int], executor: str, scratch: Path, workers: int) -> float:
    from dagy.sdk.loader import load_flow
    from dagy.services.runs.execute import RunSettings, run_flow

    paths = DagyPaths(Path(tempfile.mkdtemp(prefix="home-", dir=scratch)).resolve())
    settings = RunSettings(max_workers=workers, executor=executor)
    start = time.perf_counter()
    record = run_flow(load_flow(target), params, settings=settings, paths=paths)
    elapsed = time.perf_counter() - start
    if record.status != "SUCCEEDED":
        raise RuntimeError(f"{executor}: run {record.run_id} ended {record.status}: {record.error}")
    return elapsed


@contextlib.contextmanager
def _dask_cluster() -> Iterator[str | None]:
    """A 2-worker LocalCluster's address in DAGY_DASK_SCHEDULER; None without dagy-dask."""
    try:
        import dagy_dask  # noqa: F401
        from distributed import LocalCluster
    except ImportError:
        yield None
        return
    start = time.perf_counter()
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        print(
            f"  dask LocalCluster (2 workers x 1 thread) up in {time.perf_counter() - start:.2f} s"
        )
        os.environ["DAGY_DASK_SCHEDULER"] = cluster.scheduler_address
        try:
            yield cluster.scheduler_address
        finally:
            os.environ.pop("DAGY_DASK_SCHEDULER", None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="no-ops in the fan-out (500)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per executor (3)")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="--max-workers of each run (8)"
    )
    parser.add_argument(
        "--executors", default="local,process,dask", help="comma-separated (local,process,dask)"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tmpdir", default=None, help="where the temporary homes go")
    args, _ = parser.parse_known_args()  # nox -s bench passes every script the same arguments
    n = args.n or (100 if args.quick else 500)
    repeats = args.repeats or (1 if args.quick else 3)
    tasks = n + 2
    for name in _DAGY_ENV:
        os.environ.pop(name, None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dagy-bench-exec-", dir=args.tmpdir) as tmp:
        scratch = Path(tmp)
        flows = scratch / "bench_executor_flows.py"
        flows.write_text(FLOWS, encoding="utf-8")
        print(
            f"== fan-out 1 -> {n} -> 1 ({tasks} task runs), {args.workers} workers, median of {repeats} =="
        )
        with _dask_cluster() as address:
            executors = [e for e in args.executors.split(",") if e != "dask" or address]
            if not address and "dask" in args.executors.split(","):
                print("  dask skipped: pip install ./plugins/dagy-dask")
            for executor in executors:
                _run(
                    f"{flows}:fanout", {"n": 10}, executor, scratch, args.workers
                )  # warm-up: imports, files
                single = statistics.median(
                    _run(f"{flows}:single", {}, executor, scratch, args.workers)
                    for _ in range(repeats)
                )
                walls = [
                    _run(f"{flows}:fanout", {"n": n}, executor, scratch, args.workers)
                    for _ in range(repeats)
                ]
                wall = statistics.median(walls)
                per_task = (wall - single) / tasks * 1000
                runs = ", ".join(f"{w:.2f}" for w in walls)
                print(
                    f"  {executor:8} wall {wall:7.2f} s  (runs: {runs})  1-task run {single * 1000:6.0f} ms"
                    f"  per task {per_task:7.2f} ms",
                    flush=True,
                )
                rows.append((executor, wall, single, per_task))
    print("\n| executor | wall | 1-task run | per-task overhead |\n|---|---|---|---|")
    for executor, wall, single, per_task in rows:
        print(f"| `{executor}` | {wall:.2f} s | {single * 1000:.0f} ms | {per_task:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
