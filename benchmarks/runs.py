"""Runs executed by a real `dagy serve`: trigger throughput and GET /runs latency at 100,000 runs.

    python benchmarks/runs.py                   # 200 runs of a 1-task flow, 4 workers, 100,000 runs
    python benchmarks/runs.py --runs 500 --workers 8
    python benchmarks/runs.py --quick           # 40 runs, 10,000 seeded: a smoke test

Before the server starts, ``--seed`` finished runs go into a fresh temporary home's store with one
``INSERT INTO runs ... SELECT ... FROM range(n)`` (host NULL, so crash recovery skips them), and a
1-task flow written to a file is registered (through POST /flows once the server has it, else
with the flows service before the server starts). Then, with the rate limiter off
(DAGY_RATE_LIMIT_PER_MINUTE=0) and the local token:

1. ``--runs`` POST /runs of that flow from ``--clients`` threads, then wait until every one is
   completed: runs/s from the first POST to the last completion, the POST latency, and each
   run's queue wait (created → started) and execution (started → completed) from the API.
2. ``GET /runs?limit=100`` (the newest page of the whole store), ``--requests`` times from one
   keep-alive client: p50 and p99, then the same for the second page (``next_token``).

Before the server starts, ``dagy runs list`` (the store file opened by the CLI itself) is timed
as a whole process, ``--cli-repeats`` times after a warm-up, beside ``python -c "import duckdb"``
(the floor of any command that reads the file) and ``python -c pass``; ``-X importtime`` of one
more run gives what its imports cost.

Informational: no targets; the exit code is 0 unless a request or a run fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FLOW = """
    from dagy import flow, task


    @task
    def one(x: int) -> int:
        return x + 1


    @flow(name="bench_one", version="1.0.0")
    def bench_one(x: int = 1):
        return one(x)
"""
DEPLOYMENT = "bench-one"


# -- the home and the server ------------------------------------------------------------------------


def seed(home: Path, count: int) -> float:
    """``count`` finished runs in one INSERT ... SELECT; returns the seconds it took."""
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    spec = '{"flow_name": "seeded", "tasks": {}, "task_runs": []}'
    started = time.perf_counter()
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
    return time.perf_counter() - started


def _process_seconds(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def bench_cli_list(home: Path, repeats: int) -> dict[str, float]:
    """Whole-process times of ``dagy runs list`` on ``home`` (no server), medians of ``repeats``."""
    env = {**os.environ, "DAGY_LOCAL_DIR": str(home)}
    for name in ("DAGY_API_URL", "DAGY_PROFILE"):
        env.pop(name, None)
    cli = [sys.executable, "-c", "from dagy.cli.main import main; main()", "runs", "list"]
    listed = subprocess.run(cli, env=env, capture_output=True, text=True, check=True)
    assert len(listed.stdout.splitlines()) >= 100, listed.stdout[-500:]
    out: dict[str, float] = {}
    for label, argv in (
        ("list", cli),
        ("duckdb", [sys.executable, "-c", "import duckdb"]),
        ("python", [sys.executable, "-c", "pass"]),
    ):
        out[f"{label}_s"] = statistics.median(_process_seconds(argv, env) for _ in range(repeats))
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *cli[1:]], env=env, capture_output=True, text=True
    )
    imports = [line.split("|") for line in traced.stderr.splitlines() if "import time:" in line]
    top = [(int(parts[1]), parts[2].strip()) for parts in imports if parts[1].strip().isdigit()]
    for micros, name in top:
        if name in ("duckdb", "dagy.cli.main", "dagy.store.duckdb_store", "dagy", "click"):
            out[f"import {name}_ms"] = micros / 1000
    return out


def register_offline(home: Path, flow_file: Path) -> None:
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import deployments, flows
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    flows.register_version(store, "personal", load_flow(f"{flow_file}:bench_one").build())
    deployments.upsert(
        store, "personal", None, name=DEPLOYMENT, flow_name="bench_one", flow_version="1.0.0"
    )


class Server:
    def __init__(self, home: Path, workers: int, *, local: bool = True) -> None:
        env = {
            **os.environ,
            "DAGY_LOCAL_DIR": str(home),
            "DAGY_RATE_LIMIT_PER_MINUTE": "0",
            "DAGY_SERVER_WORKERS": str(workers),
            "DAGY_LOCAL_KEEP_RUNS": "0",
        }
        for name in ("DAGY_API_URL", "DAGY_PROFILE", "DAGY_LOCAL_VERBOSE"):
            env.pop(name, None)
        self.log = home.parent / "serve.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from dagy.cli.main import main; main()",
                "serve",
                *(["--local"] if local else []),
                "--port",
                "0",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),  # noqa: SIM115 - the child's for its whole life
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"dagy serve exited: {self.log.read_text()}")
            try:
                info = json.loads((home / "server.json").read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                break
            time.sleep(0.05)
        else:
            self.proc.kill()
            raise SystemExit("dagy serve did not start within 60 s")
        host, port = info["url"].removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.base = info["api_url"].removeprefix(info["url"])
        self.token = info["token"]

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(
        self, con: http.client.HTTPConnection, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        con.request(
            method, self.base + path, json.dumps(body) if body is not None else None, headers
        )
        response = con.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- measurements -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def completed_count(server: Server, con: http.client.HTTPConnection) -> tuple[int, int]:
    """(completed runs, failed runs) from GET /metrics."""
    status, text = server.call(con, "GET", "/metrics")
    assert status == 200, text
    values = {}
    for line in str(text).splitlines():
        if line.startswith("dagy_runs_total{"):
            key, value = line.rsplit(" ", 1)
            values[key] = int(float(value))
    return values['dagy_runs_total{status="completed"}'], values['dagy_runs_total{status="failed"}']


def bench_triggers(server: Server, runs: int, clients: int, seeded: int) -> dict[str, Any]:
    latencies: list[float] = []
    run_ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_client = [runs // clients + (1 if i < runs % clients else 0) for i in range(clients)]

    def fire(count: int) -> None:
        con = server.connect()
        for i in range(count):
            started = time.perf_counter()
            status, body = server.call(
                con, "POST", "/runs", {"deployment": DEPLOYMENT, "parameters": {"x": i}}
            )
            took = time.perf_counter() - started
            with lock:
                if status == 202:
                    latencies.append(took)
                    run_ids.append(body["run_id"])
                else:
                    errors.append(f"{status}: {body}")
        con.close()

    con = server.connect()
    started = time.perf_counter()
    threads = [threading.Thread(target=fire, args=(n,)) for n in per_client if n]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} triggers failed, e.g. {errors[0]}")
    deadline = time.monotonic() + max(120, runs)
    while True:
        done, failed = completed_count(server, con)
        if failed:
            raise SystemExit(f"{failed} runs failed (see the run logs under the temporary home)")
        if done - seeded >= runs:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done - seeded} of {runs} runs completed in time")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    waits, executions = [], []
    for run_id in run_ids[:: max(1, len(run_ids) // 100)]:  # a sample of at most ~100 runs
        status, body = server.call(con, "GET", f"/runs/{run_id}")
        created, began, ended = (
            dt.datetime.fromisoformat(body[k].rstrip("Z"))
            for k in ("created_at", "started_at", "completed_at")
        )
        waits.append((began - created).total_seconds())
        executions.append(body["duration_seconds"])
    con.close()
    return {
        "runs": runs,
        "fired_s": fired,
        "elapsed_s": elapsed,
        "runs_per_s": runs / elapsed,
        "post_p50_ms": percentile(latencies, 50) * 1000,
        "post_p99_ms": percentile(latencies, 99) * 1000,
        "wait_p50_s": statistics.median(waits),
        "exec_p50_s": statistics.median(executions),
    }


def bench_list(server: Server, requests: int) -> dict[str, float]:
    con = server.connect()
    status, first = server.call(con, "GET", "/runs?limit=100")
    assert status == 200 and len(first["items"]) == 100, first
    token = first["next_token"]
    out: dict[str, float] = {}
    for label, path in (
        ("first", "/runs?limit=100"),
        ("second", f"/runs?limit=100&next_token={token}"),
    ):
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            status, body = server.call(con, "GET", path)
            times.append(time.perf_counter() - started)
            assert status == 200 and len(body["items"]) == 100
        out[f"{label}_p50_ms"] = percentile(times, 50) * 1000
        out[f"{label}_p99_ms"] = percentile(times, 99) * 1000
    con.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4, help="DAGY_SERVER_WORKERS")
    parser.add_argument("--clients", type=int, default=4, help="threads firing POST /runs")
    parser.add_argument("--requests", type=int, default=200, help="GET /runs per page measured")
    parser.add_argument("--cli-repeats", type=int, default=5, help="dagy runs list processes")
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args()  # nox -s bench passes every script the same arguments
    if args.quick:
        args.runs, args.seed, args.requests, args.cli_repeats = 40, 10_000, 50, 2
    scratch = Path(tempfile.mkdtemp(prefix="dagy-bench-runs-"))
    home = scratch / "home"
    flow_file = scratch / "code" / "bench_one.py"
    flow_file.parent.mkdir(parents=True)
    flow_file.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    seconds = seed(home, args.seed)
    print(
        f"seeded {args.seed:,} runs in {seconds:.2f} s "
        f"({(home / 'dagy.duckdb').stat().st_size / 1e6:.1f} MB)"
    )
    cli = bench_cli_list(home, args.cli_repeats)
    print(
        f"\n`dagy runs list` with {args.seed:,} runs, no server (median of {args.cli_repeats} "
        f"processes): {cli['list_s'] * 1000:.0f} ms; `python -c 'import duckdb'` "
        f"{cli['duckdb_s'] * 1000:.0f} ms; `python -c pass` {cli['python_s'] * 1000:.0f} ms"
    )
    print(
        "  imports (cumulative, -X importtime of one run): "
        + ", ".join(
            f"{k.removeprefix('import ').removesuffix('_ms')} {v:.0f} ms"
            for k, v in cli.items()
            if k.startswith("import ")
        )
    )

    server = Server(home, args.workers)
    try:
        how = register_online(server, flow_file)
        if how is None:  # no POST /flows on this server yet: register with it stopped
            server.stop()
            register_offline(home, flow_file)
            server = Server(home, args.workers)
            how = "the flows service, before the server started (no POST /flows yet)"
        print(f"registered bench_one:1.0.0 and deployment {DEPLOYMENT} through {how}")
        runs = bench_triggers(server, args.runs, args.clients, args.seed)
        list_idle = bench_list(server, args.requests)
    finally:
        server.stop()

    cores = os.cpu_count()
    print(
        f"\n{args.runs} runs of a 1-task flow, {args.workers} workers, {args.clients} clients, "
        f"{cores} cores:"
    )
    print(
        f"  {runs['runs_per_s']:.1f} runs/s ({runs['elapsed_s']:.1f} s from the first POST to "
        f"the last completion; all POSTs answered after {runs['fired_s']:.2f} s)"
    )
    print(f"  POST /runs: p50 {runs['post_p50_ms']:.1f} ms, p99 {runs['post_p99_ms']:.1f} ms")
    print(
        f"  per run: queued {runs['wait_p50_s']:.2f} s (median), executed in "
        f"{runs['exec_p50_s']:.3f} s (median, started → completed)"
    )
    print(
        f"\nGET /runs?limit=100 with {args.seed + args.runs:,} runs in the store "
        f"({args.requests} requests, one keep-alive client, no runs executing):"
    )
    print(
        f"  first page:  p50 {list_idle['first_p50_ms']:.1f} ms, "
        f"p99 {list_idle['first_p99_ms']:.1f} ms"
    )
    print(
        f"  second page: p50 {list_idle['second_p50_ms']:.1f} ms, "
        f"p99 {list_idle['second_p99_ms']:.1f} ms"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def register_online(server: Server, flow_file: Path) -> str | None:
    """POST /flows with the spec built from the file (and the deployment), when the server has
    those routes; None when it does not."""
    sys.path.insert(0, str(REPO))
    from dagy.sdk.loader import load_flow

    spec = load_flow(f"{flow_file}:bench_one").build()
    con = server.connect()
    status, body = server.call(
        con, "POST", "/flows", {"flow_spec": spec.to_dict(), "deployment_name": DEPLOYMENT}
    )
    if status in (404, 405):
        return None
    if status != 201:
        raise SystemExit(f"POST /flows answered {status}: {body}")
    status, body = server.call(con, "GET", f"/deployments/{DEPLOYMENT}")
    if status == 404:
        status, body = server.call(
            con,
            "POST",
            "/deployments",
            {"name": DEPLOYMENT, "flow_name": "bench_one", "flow_version": "1.0.0"},
        )
        if status not in (200, 201):
            raise SystemExit(f"POST /deployments answered {status}: {body}")
    con.close()
    return "POST /flows"


if __name__ == "__main__":
    sys.exit(main())
