"""HTTP API benchmark: requests/s and latency of a real `dagy serve` on loopback.

    python benchmarks/api.py                # the read endpoints below, 16 clients, 10 s each
    python benchmarks/api.py --seconds 30   # longer windows
    python benchmarks/api.py --quick        # 2 s windows, 10,000 runs: a smoke test

The server runs on a temporary Dagy home (never ``~/.dagy``) seeded with ``--seed`` (100,000)
finished runs (benchmarks/runs.py's ``seed``), one run of 20 task runs and a registered flow, with
the rate limiter off (DAGY_RATE_LIMIT_PER_MINUTE=0): 120 requests a minute would otherwise be the
whole result. Endpoints: GET /runs (a page of 20), /runs/{id}, /runs/{id}/task-runs, /flows,
/usage/summary, /me and /health, as the owner of the personal org (the local token).

The clients are processes (``--procs``) of threads, each thread one keep-alive http.client
connection, so the load generator is not held back by one interpreter's GIL. On a 2-core machine
the clients would take a core from the server, so they run at ``nice`` 19 (``--client-nice``): the
server's threads are scheduled first and the clients get what is left. The report shows the CPU the
server and the clients used, to tell which side was the bottleneck. Targets (issue 20): GET /runs
>= 1,000 requests/s with p99 < 50 ms; the exit code is 0 unless the server fails or answers with
an error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"
# Variables that would change what is measured (a JWT-only server, another home, a profile).
_DAGY_ENV = (
    "DAGY_JWT_REQUIRED",
    "DAGY_JWKS_URL",
    "DAGY_TOKEN_TTL_SECONDS",
    "DAGY_RATE_LIMIT_BURST",
    "DAGY_PROFILE",
    "DAGY_API_URL",
    "DAGY_DEBUG",
)


# -- the home -------------------------------------------------------------------------------------

DETAIL_RUN = "bench_detail-20260101T000000Z-000001"
WRITTEN_FLOW = "bench_one"  # registered by seed_home (benchmarks/runs.py's flow)
WRITTEN_PATH = "/runs?limit=20"  # the page measured again while runs are written (--writes)
ENDPOINTS = (
    "/runs?limit=20",
    f"/runs/{DETAIL_RUN}",
    f"/runs/{DETAIL_RUN}/task-runs",
    "/flows",
    "/usage/summary",
    "/me",
    "/health",
)


def seed_home(home: Path, count: int) -> float:
    """``count`` finished runs (one INSERT ... SELECT), one newer run of 20 task runs (the one the
    detail endpoints read) and the flow of benchmarks/runs.py registered; seconds taken."""
    import datetime as dt
    import textwrap

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import runs as runs_bench  # benchmarks/runs.py

    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore
    from dagy.store.records import RunRecord, TaskRunRecord

    started = time.perf_counter()
    runs_bench.seed(home, count)
    flow_file = home.parent / "bench_one.py"
    flow_file.write_text(textwrap.dedent(runs_bench.FLOW), encoding="utf-8")
    runs_bench.register_offline(home, flow_file)
    moment = dt.datetime(2026, 1, 1)
    ids = [f"t{i}-1" for i in range(20)]
    run = RunRecord(
        run_id=DETAIL_RUN,
        flow_name="bench_detail",
        flow_version="1.0.0",
        status="SUCCEEDED",
        flow_spec=json.dumps({"edges": [[a, b] for a, b in zip(ids, ids[1:], strict=False)]}),
        created_at=moment,
        started_at=moment,
        ended_at=moment + dt.timedelta(seconds=2),
    )
    tasks = [
        TaskRunRecord(
            run_id=DETAIL_RUN,
            task_run_id=tid,
            task_name=tid.split("-")[0],
            seq=i,
            status="SUCCEEDED",
            started_at=moment,
            ended_at=moment + dt.timedelta(seconds=1),
            duration_seconds=1.0,
        )
        for i, tid in enumerate(ids)
    ]
    DuckDBStore(DagyPaths(home)).create_run(run, tasks)
    return time.perf_counter() - started


# -- the server -----------------------------------------------------------------------------------


def _dagy_command() -> str:
    """The ``dagy`` script beside this interpreter (the nox venv's under ``nox -s bench``)."""
    beside = Path(sys.executable).parent / "dagy"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagy")
    if not found:
        raise SystemExit("the `dagy` command is not installed (pip install -e '.[server]')")
    return found


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    base: str  # the API's path prefix, e.g. /v1

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux: /proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(home: Path, env: dict[str, str]) -> Server:
    log = open(home.parent / "serve.log", "wb")  # noqa: SIM115 - the child writes it all its life
    proc = subprocess.Popen(
        [_dagy_command(), "serve", "--port", "0", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dagy serve exited {proc.returncode}:\n{log.name}")
        try:
            info = json.loads((home / "server.json").read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("pid") == proc.pid:
            root = info["url"].removeprefix("http://")
            host, port = root.rsplit(":", 1)
            return Server(proc, host, int(port), info["api_url"].removeprefix(info["url"]))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("dagy serve did not start within 60 s")


def request(
    server: Server, method: str, path: str, body: dict | None = None, token: str = ""
) -> tuple[int, Any]:
    con = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    con.request(method, server.base + path, json.dumps(body) if body else None, headers)
    response = con.getresponse()
    data = response.read()
    con.close()
    return response.status, json.loads(data) if data else None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (Linux: /proc/stat), for what others use."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# -- the load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    host: str
    port: int
    path: str
    token: str
    threads: int
    start_at: float  # time.time() when every client starts counting
    seconds: float
    nice: int = 19  # the clients yield the CPU to the server (2 cores: they would starve it)


def _client(job: Job, latencies: array, errors: list[int]) -> None:
    con = http.client.HTTPConnection(job.host, job.port, timeout=30)
    headers = {"Authorization": f"Bearer {job.token}"} if job.token else {}
    clock = time.perf_counter

    def one() -> float:
        started = clock()
        con.request("GET", job.path, headers=headers)
        response = con.getresponse()
        response.read()
        if response.status != 200:
            errors[0] += 1
        return clock() - started

    while time.time() < job.start_at:  # warm up: connect, and keep the connection busy
        one()
    end = job.start_at + job.seconds
    while time.time() < end:
        latencies.append(one())
    con.close()


def _worker(job: Job) -> tuple[bytes, int, float]:
    """One client process: ``job.threads`` connections. Returns latencies, errors, CPU seconds."""
    if job.nice:
        os.nice(job.nice)
    per_thread = [array("d") for _ in range(job.threads)]
    errors = [[0] for _ in range(job.threads)]
    threads = [
        threading.Thread(target=_client, args=(job, per_thread[i], errors[i]), daemon=True)
        for i in range(job.threads)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, job.start_at - time.time()))
    cpu = time.process_time()  # this process's CPU in the measured window only
    time.sleep(max(0.0, job.start_at + job.seconds - time.time()))
    cpu = time.process_time() - cpu
    for thread in threads:
        thread.join()
    merged = array("d")
    for part in per_thread:
        merged.extend(part)
    return merged.tobytes(), sum(e[0] for e in errors), cpu


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # cores used by the server, on average
    client_cpu: float  # cores used by all client processes
    machine_cpu: float  # cores busy on the whole machine (server, clients and anything else)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


class Writer(threading.Thread):
    """Writes runs while the clients read: ``POST /runs`` of the seeded flow with
    ``execute: false`` (a run recorded as queued, the newest of the first page), ``rate`` a second,
    so the server's cached answers are invalidated as they would be while runs are written. After
    each write it reads the first page and counts a failure when the run is not on it."""

    def __init__(self, server: Server, token: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.rate = server, token, rate
        self.written = 0
        self.failed = 0
        self.last_failure = ""
        self._done = threading.Event()

    def run(self) -> None:
        con = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        body = json.dumps({"flow_name": WRITTEN_FLOW, "flow_version": "1.0.0", "execute": False})
        due = time.monotonic()
        while not self._done.is_set():
            con.request("POST", self.server.base + "/runs", body, headers)
            response = con.getresponse()
            answer = response.read()
            if response.status == 202:
                self.written += 1
                # the next read of the first page must have it (the server keeps pages between
                # writes): a page without it is counted as a failure
                run_id = json.loads(answer)["run_id"]
                con.request("GET", self.server.base + WRITTEN_PATH, headers=headers)
                page = con.getresponse()
                listed = [item["run_id"] for item in json.loads(page.read())["items"]]
                if page.status != 200 or run_id not in listed:
                    self.failed += 1
                    self.last_failure = f"{run_id} not in the next page: {page.status} {listed[:3]}"
            else:
                self.failed += 1
                self.last_failure = f"{response.status} {answer[:200].decode(errors='replace')}"
            due += 1 / self.rate
            self._done.wait(max(0.0, due - time.monotonic()))
        con.close()

    def stop(self) -> None:
        self._done.set()
        self.join()


def measure(
    server: Server,
    path: str,
    token: str,
    clients: int,
    procs: int,
    seconds: float,
    nice: int = 19,
    writes: float = 0.0,
) -> Result:
    threads = clients // procs
    start_at = time.time() + 1.5  # time for the processes to start, connect and warm up
    job = Job(server.host, server.port, server.base + path, token, threads, start_at, seconds, nice)
    context = multiprocessing.get_context("spawn")
    writer = Writer(server, token, writes) if writes else None
    with context.Pool(procs) as pool:
        pending = pool.map_async(_worker, [job] * procs)
        time.sleep(max(0.0, start_at - time.time()))
        if writer is not None:
            writer.start()
        cpu_before, busy_before = server.cpu_seconds(), machine_busy_seconds()
        time.sleep(seconds)
        cpu_after, busy_after = server.cpu_seconds(), machine_busy_seconds()
        if writer is not None:
            writer.stop()
            if writer.failed:
                print(f"  {writer.failed} writes failed, the last: {writer.last_failure}")
        parts = pending.get(timeout=seconds + 120)
    latencies = array("d")
    for raw, _, _ in parts:
        latencies.frombytes(raw)
    ordered = sorted(latencies)
    cuts = (
        statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [0] * 99
    )
    client_cpu = sum(cpu for _, _, cpu in parts) / seconds
    label = f"GET {server.base}{path.split('?')[0]}"
    if writer is not None:
        label += f", {writer.written / seconds:.0f} runs written/s"
    return Result(
        label,
        len(ordered),
        sum(errors for _, errors, _ in parts) + (writer.failed if writer is not None else 0),
        seconds,
        cuts[49] * 1000,
        cuts[98] * 1000,
        (cpu_after - cpu_before) / seconds,
        client_cpu,
        (busy_after - busy_before) / seconds,
    )


# -- report ---------------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _verdict(result: Result, cores: int) -> str:
    others = max(0.0, result.machine_cpu - result.server_cpu - result.client_cpu)
    if result.server_cpu >= 0.85:
        return "server-bound: its one process keeps a core busy"
    if result.machine_cpu >= 0.85 * cores:
        return f"machine-bound: all cores busy, {others:.2f} of them with other processes"
    return "neither side saturated"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per endpoint")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--procs", type=int, default=2, help="client processes sharing them")
    parser.add_argument("--quick", action="store_true", help="2 s windows (a smoke test)")
    parser.add_argument(
        "--check", action="store_true", help="accepted for `nox -s bench`: no targets here"
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the home goes ($TMPDIR)")
    parser.add_argument("--seed", type=int, default=100_000, help="finished runs in the store")
    parser.add_argument(
        "--client-nice", type=int, default=19, help="nice value of the client processes"
    )
    parser.add_argument(
        "--endpoint", dest="endpoints", action="append", help="only this path (repeatable)"
    )
    parser.add_argument(
        "--writes",
        type=float,
        default=10.0,
        help="runs written a second (POST /runs) during the extra window of GET /runs?limit=20 "
        "(0: no such window)",
    )
    args = parser.parse_args(argv)
    seconds = 2.0 if args.quick else args.seconds
    if args.clients % args.procs:
        parser.error("--clients must be a multiple of --procs")
    cores = os.cpu_count() or 1
    print(
        f"Dagy API benchmark: Python {sys.version.split()[0]}, {cores} CPUs; "
        f"{args.clients} keep-alive clients in {args.procs} processes, {seconds:g} s per endpoint"
    )
    print("Rate limiter off (DAGY_RATE_LIMIT_PER_MINUTE=0), or it would cap every figure here.")

    results: list[Result] = []
    seed_count = 10_000 if args.quick else args.seed
    with tempfile.TemporaryDirectory(prefix="dagy-bench-api-", dir=args.tmpdir) as tmp:
        home = Path(tmp) / "home"
        took = seed_home(home, seed_count)
        print(f"Seeded {seed_count:,} runs, a run of 20 task runs and a flow in {took:.1f} s.")
        env = {k: v for k, v in os.environ.items() if k not in _DAGY_ENV}
        env |= {"DAGY_LOCAL_DIR": str(home), "DAGY_RATE_LIMIT_PER_MINUTE": "0"}
        server = start_server(home, env)
        print(f"dagy serve: pid {server.proc.pid}", flush=True)
        try:
            owner = ["users", "create", "--email", EMAIL, "--role", "owner", "--password-stdin"]
            created = subprocess.run(
                [_dagy_command(), *owner],
                input=PASSWORD + "\n",
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if created.returncode != 0:
                raise SystemExit(f"dagy users create failed: {created.stderr.strip()}")
            status, body = request(
                server, "POST", "/auth/login", {"email": EMAIL, "password": PASSWORD}
            )
            if status != 200:
                raise SystemExit(f"login failed: {status} {body}")
            token = body["access_token"]
            if args.writes:  # the free plan's 100 runs a month would refuse the writer's runs
                local = json.loads((home / "server.json").read_text())["token"]
                quota = {"monthly_runs": 10**9}
                status, body = request(server, "PUT", "/_local/quotas/personal", quota, local)
                if status != 200:
                    raise SystemExit(f"setting the run quota failed: {status} {body}")
            plan = [(path, 0.0) for path in args.endpoints or ENDPOINTS]
            if args.writes and WRITTEN_PATH in (args.endpoints or ENDPOINTS):
                plan.insert(plan.index((WRITTEN_PATH, 0.0)) + 1, (WRITTEN_PATH, args.writes))
            for path, writes in plan:
                while_writing = f", writing {writes:g} runs/s" if writes else ""
                print(f"\n== GET {server.base}{path}{while_writing} ==", flush=True)
                bearer = "" if path == "/health" else token
                status, body = request(server, "GET", path, token=bearer)
                if status != 200:
                    raise SystemExit(f"GET {path} answered {status}: {body}")
                result = measure(
                    server,
                    path,
                    bearer,
                    args.clients,
                    args.procs,
                    seconds,
                    args.client_nice,
                    writes,
                )
                results.append(result)
                print(
                    f"  {result.rps:,.0f} requests/s ({result.requests:,} in {seconds:g} s, "
                    f"{result.errors} errors); p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
                )
                print(
                    f"  CPU: server {result.server_cpu:.2f} cores, clients {result.client_cpu:.2f}, "
                    f"whole machine {result.machine_cpu:.2f} of {cores}: {_verdict(result, cores)}"
                )
        finally:
            server.proc.terminate()
            server.proc.wait(timeout=60)

    print(f"\n== summary (CPU columns: cores busy out of {cores}) ==")
    print(
        "req/s per server core: requests answered per second of server CPU (all its threads), "
        "what the figure would be per core the server had to itself"
    )
    rows = [
        [
            r.label,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.server_cpu:.2f}",
            f"{r.client_cpu:.2f}",
            f"{r.machine_cpu:.2f}",
            f"{r.rps / r.server_cpu:,.0f}" if r.server_cpu > 0 else "-",
            str(r.errors),
        ]
        for r in results
    ]
    headers = [
        "endpoint", "req/s", "p50 ms", "p99 ms", "server", "clients", "machine",
        "req/s per server core", "errors",
    ]  # fmt: skip
    print(_table(headers, rows))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
