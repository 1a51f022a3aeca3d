"""The TUI at 100,000 runs: time to first paint and to open a run, on this home's store file.

    python benchmarks/tui.py              # 100,000 runs seeded, 5 repeats
    python benchmarks/tui.py --quick      # 10,000 runs, 2 repeats: a smoke test

A fresh temporary home gets ``--seed`` finished runs with one INSERT ... SELECT (runs.py's
``seed``), then one real run of a 3-task flow on top, so the newest run has task runs and a DAG.
Each repeat is a new process (``--child``) that runs the app headless (``App.run_test``, 150x40)
over the backend `dagy tui` opens (``open_source``): the store file, opened per call, as without
a server:

1. first paint: from the process's start (before textual is imported) until the runs table shows
   its first page of 100 rows; also the part of it spent importing ``dagy.tui.app``;
2. open a run: from ``enter`` on the newest run until its task-runs table and DAG show;
3. next page: from ``n`` until the table holds 200 rows (keyset paging in SQL);
4. live refresh: one refresh of the newest page merged into the table.

Informational: no targets beyond the issue's "starts in under a second"; exit code 0 unless a
step does not show what it should.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # the child's start, before anything heavy is imported

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
FLOW = """
    from dagy import flow, task


    @task
    def extract(x: int) -> int:
        return x + 1


    @task
    def double(x: int) -> int:
        return x * 2


    @task
    def total(a: int, b: int) -> int:
        return a + b


    @flow(name="bench_tui", version="1.0.0")
    def bench_tui(x: int = 1):
        e = extract(x)
        return total(double(e), double(e))
"""


def prepare(home: Path, count: int) -> float:
    sys.path.insert(0, str(HERE))
    from runs import seed  # benchmarks/runs.py: one INSERT ... SELECT of finished runs

    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.runs import execute as runs

    took = seed(home, count)
    flow_file = home.parent / "bench_tui_flow.py"
    flow_file.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    runs.run_flow(load_flow(f"{flow_file}:bench_tui"), {}, paths=DagyPaths(home))
    return took


async def _until(pilot: Any, check: Any, timeout: float = 30) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


async def child() -> dict[str, float]:
    t_import = time.perf_counter()
    from dagy.config.paths import DagyPaths
    from dagy.tui.app import DagyApp
    from dagy.tui.source import open_source

    imported = time.perf_counter() - t_import
    app = DagyApp(open_source(DagyPaths.from_env()))
    out: dict[str, float] = {"import_s": imported}
    async with app.run_test(size=(150, 40)) as pilot:

        def rows(n: int) -> bool:
            try:
                return bool(app.screen.query_one("#runs").row_count >= n)
            except Exception:  # the runs screen is not mounted yet
                return False

        await _until(pilot, lambda: rows(100))
        out["first_paint_s"] = time.perf_counter() - T0
        screen = app.screen
        start = time.perf_counter()
        await pilot.press("enter")

        def opened() -> bool:
            s = app.screen
            return s is not screen and s.query_one("#tasks").row_count == 4

        await _until(pilot, opened)
        out["open_run_s"] = time.perf_counter() - start
        await pilot.press("escape")
        start = time.perf_counter()
        await pilot.press("n")
        await _until(pilot, lambda: rows(200))
        out["next_page_s"] = time.perf_counter() - start
        start = time.perf_counter()
        screen.refresh_runs()
        await pilot.pause()
        await app.workers.wait_for_complete()
        out["refresh_s"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--check", action="store_true", help="accepted for nox; no targets")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child())))
        return
    if args.quick:
        args.seed, args.repeats = 10_000, 2
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        took = prepare(home, args.seed)
        print(f"seeded {args.seed:,} runs in {took:.2f}s (+1 run of a 3-task flow)")
        env = {**os.environ, "DAGY_LOCAL_DIR": str(home)}
        env = {k: v for k, v in env.items() if k not in ("DAGY_API_URL", "DAGY_PROFILE")}
        results = []
        for _ in range(args.repeats):
            done = subprocess.run(
                [sys.executable, __file__, "--child"],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\nTUI over {args.seed:,} runs, median of {args.repeats} processes:")
    print(f"{'metric':<40} {'median':>9} {'max':>9}")
    names = {
        "first_paint_s": "first paint (process start → 100 rows)",
        "import_s": "  of which importing dagy.tui.app",
        "open_run_s": "open a run (enter → task runs + DAG)",
        "next_page_s": "next page (n → 200 rows)",
        "refresh_s": "live refresh of the newest page",
    }
    for key, label in names.items():
        values = [r[key] * 1000 for r in results]
        print(f"{label:<40} {statistics.median(values):>7.0f}ms {max(values):>7.0f}ms")


if __name__ == "__main__":
    main()
