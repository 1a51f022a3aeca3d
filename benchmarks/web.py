"""Web UI benchmark: first paint of the runs page with 100,000 runs in the store, and of a 500-task
run's page (graph and timeline), in a real browser against a real `dagy serve`.

    python benchmarks/web.py             # 100,000 seeded runs, a 500-task run, 10 loads of each
    python benchmarks/web.py --quick     # 10,000 runs, 3 loads: a smoke test
    python benchmarks/web.py --check     # exit 1 if a p50 misses the goal (500 ms)

A temporary home gets ``--seed`` finished runs (one ``INSERT ... SELECT``, as benchmarks/runs.py
does) and one real run of a 500-task flow (10 stages of 50 tasks, each task after the one of the
stage before: 500 nodes and 450 edges), executed by `dagy run` before the server starts. Then
`dagy serve --local` (rate limiter off) and headless Chromium (Playwright, Debian's
/usr/bin/chromium). Each load is a new browser context with the server's local token in
sessionStorage (as after signing in), timed from navigation start (``performance.now()`` is 0
there) to the first animation frame after the content is in the DOM:

1. runs page ``/#/runs``: the first table row of the newest 50 runs;
2. run page ``/#/runs/<id>``: every graph node and the timeline's SVG.

The first load of each is a warm-up and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DAGY_TEST_CHROMIUM", "/usr/bin/chromium")
GOAL_MS = 500.0
FLOW = """
    from dagy import flow, task


    @task
    def step(stage: int, i: int, before: int) -> int:
        return before + 1


    @flow(name="wide", version="1.0.0")
    def wide(stages: int = 10, width: int = 50):
        previous = [0] * width
        for s in range(stages):
            previous = [step(s, i, previous[i]) for i in range(width)]
        return previous
"""
# Resolves with performance.now() at the first frame after `selector` matches `count` elements.
MARK = """
window.__painted = new Promise((resolve) => {
  const [selector, count] = %s;
  const ready = () => document.querySelectorAll(selector).length >= count;
  const done = () => requestAnimationFrame(() => resolve(performance.now()));
  const watch = () => {
    if (ready()) return done();
    const mo = new MutationObserver(() => { if (ready()) { mo.disconnect(); done(); } });
    mo.observe(document.documentElement, { subtree: true, childList: true });
  };
  if (document.documentElement) watch(); else document.addEventListener("readystatechange", watch, { once: true });
});
sessionStorage.setItem("dagy.token", %s);
"""


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "DAGY_LOCAL_DIR": str(home), "DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    for name in ("DAGY_API_URL", "DAGY_PROFILE", "DAGY_LOCAL_VERBOSE", "DAGY_TOKEN"):
        env.pop(name, None)
    return env


def dagy(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from dagy.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=env_for(home),
        check=True,
    )


def seed(home: Path, count: int) -> None:
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    spec = '{"flow_name": "seeded", "tasks": {}, "task_runs": []}'
    with DuckDBStore(DagyPaths(home)).connection() as con:
        con.execute(
            """
            INSERT INTO runs (run_id, flow_name, flow_version, status, trigger, parameters,
                              flow_spec, output, executor, max_workers, fail_fast, host,
                              created_at, started_at, ended_at, events_offset, files_pruned)
            SELECT 'seeded_' || (i % 20) || '-' || strftime(ts, '%Y%m%dT%H%M%SZ')
                       || '-' || lpad(printf('%x', i), 6, '0'),
                   'seeded_' || (i % 20), '1.0.0', 'SUCCEEDED', 'cli',
                   '{"n": 3}', ?, '3', 'local', 4, true, NULL,
                   ts, ts, ts + INTERVAL 2 SECOND, 0, true
            FROM (SELECT i, TIMESTAMP '2025-01-01' + to_seconds(i * 60) AS ts FROM range(?) t(i))
            """,
            [spec, count],
        )


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    log = open(home.parent / "serve.log", "wb")  # noqa: SIM115 - the child's for its whole life
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dagy.cli.main import main; main()", "serve", "--local"]
        + ["--port", "0", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env_for(home),
        cwd=str(REPO),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dagy serve exited: {(home.parent / 'serve.log').read_text()}")
        try:
            info = json.loads((home / "server.json").read_text())
            if info.get("pid") == proc.pid:
                import urllib.request

                with urllib.request.urlopen(info["api_url"] + "/health", timeout=5):
                    return proc, info
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("dagy serve did not come up")


def measure(
    browser: Any, url: str, token: str, selector: str, count: int, loads: int
) -> list[float]:
    times = []
    for i in range(loads + 1):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(MARK % (json.dumps([selector, count]), json.dumps(token)))
        page = context.new_page()
        page.goto(url)
        ms = float(page.evaluate("window.__painted"))
        context.close()
        if i:  # the first is a warm-up
            times.append(ms)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seed, args.loads = 10_000, 3
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium): skipped")
        return 0
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="dagy-bench-web-"))
    home = tmp / "home"
    home.mkdir()
    proc = None
    try:
        t = time.perf_counter()
        seed(home, args.seed)
        flow_file = tmp / "wide.py"
        flow_file.write_text(textwrap.dedent(FLOW), encoding="utf-8")
        out = dagy("run", f"{flow_file}:wide", "--max-workers", "4", home=home).stdout
        run_id = out.split("Run completed: ")[1].split()[0]
        print(
            f"seeded {args.seed:,} runs and ran {run_id} (500 tasks) in {time.perf_counter() - t:.1f} s"
        )
        proc, info = start_server(home)
        base = str(info["url"]).rstrip("/")
        token = str(info["token"])
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            results = {
                f"runs page ({args.seed:,} runs)": measure(
                    browser, f"{base}/#/runs", token, "a.run-link", 1, args.loads
                ),
                "run page (500-task graph + timeline)": measure(
                    browser,
                    f"{base}/#/runs/{run_id}",
                    token,
                    "dagy-run-graph .node, dagy-run-gantt svg",
                    501,
                    args.loads,
                ),
            }
            browser.close()
        missed = False
        print(f"{'page':<42} {'p50 ms':>8} {'max ms':>8}  goal < {GOAL_MS:.0f} ms")
        for name, times in results.items():
            p50 = statistics.median(times)
            missed |= p50 >= GOAL_MS
            verdict = "ok" if p50 < GOAL_MS else "MISSED"
            print(f"{name:<42} {p50:>8.0f} {max(times):>8.0f}  {verdict}")
        return 1 if args.check and missed else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
