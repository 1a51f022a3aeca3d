"""Engine, store and start-up benchmarks for Dagy.

    python benchmarks/engine.py            # the full set (a minute or two on 2 cores)
    python benchmarks/engine.py --quick    # a smaller smoke version
    python benchmarks/engine.py --check    # exit 1 if a target is missed

Every benchmark runs against a fresh temporary Dagy home (never ``~/.dagy``). What each one measures
is described in benchmarks/README.md. Numbers are informational: the exit code is 0 unless
``--check`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagy import flow, task
from dagy.config.paths import DagyPaths

WORKERS = 8
HEAVY_MODULES = ("duckdb", "litestar", "textual", "boto3")
# Variables that change how a run behaves; benchmarks run on the defaults.
_DAGY_ENV = (
    "DAGY_LOCAL_VERBOSE",
    "DAGY_LOCAL_ARTIFACT_MAX_BYTES",
    "DAGY_LOCAL_KEEP_RUNS",
    "DAGY_STORE_LOCK_TIMEOUT",
    "DAGY_PROFILE",
    "DAGY_API_URL",
    "DAGY_DEBUG",
)


# -- the flows ------------------------------------------------------------------------------------


def _source() -> int:
    return 0


def _noop(upstream: int, i: int) -> int:
    return i


def _fan_in(values: list[int]) -> int:
    return len(values)


def _step(previous: int) -> int:
    return previous + 1


def _items(n: int) -> list[int]:
    return list(range(n))


source = task(_source, name="source")
items = task(_items, name="items")
noop = task(_noop, name="noop")
fan_in = task(_fan_in, name="fan_in")
step = task(_step, name="step")


@flow(name="bench_fanout")
def fanout_flow(n: int = 500) -> Any:
    """1 -> n -> 1: every no-op takes the source's result; the fan-in takes all n results."""
    head = source()
    return fan_in([noop(head, i) for i in range(n)])


@flow(name="bench_chain")
def chain_flow(n: int = 200) -> Any:
    """n tasks in a line, each taking the previous result."""
    value = source()
    for _ in range(n - 1):
        value = step(value)
    return value


@flow(name="bench_single")
def single_flow() -> Any:
    """One task: the fixed cost of a run (store open, schema, run row, files)."""
    return source()


# -- the same shapes on a bare thread pool ---------------------------------------------------------


def bare_fanout(n: int) -> int:
    with ThreadPoolExecutor(WORKERS) as pool:
        head = pool.submit(_source).result()
        futures = [pool.submit(_noop, head, i) for i in range(n)]
        return pool.submit(_fan_in, [f.result() for f in futures]).result()


def bare_chain(n: int) -> int:
    with ThreadPoolExecutor(WORKERS) as pool:
        value = pool.submit(_source).result()
        for _ in range(n - 1):
            value = pool.submit(_step, value).result()
        return value


# -- helpers --------------------------------------------------------------------------------------


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    target: float | None = None  # an upper bound; None for informational metrics
    shown: str | None = None  # how to show the value and the target, when not as numbers
    target_shown: str | None = None

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.value < self.target

    def row(self) -> list[str]:
        verdict = {None: "info", True: "PASS", False: "FAIL"}[self.passed]
        target = "-" if self.target is None else f"< {_fmt(self.target)} {self.unit}"
        target = self.target_shown or target
        value = self.shown if self.shown is not None else f"{_fmt(self.value)} {self.unit}"
        return [self.name, value, target, verdict]


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _new_home(parent: Path) -> DagyPaths:
    """A new, empty Dagy home under ``parent``.

    Homes go with the whole scratch directory at the end, not one by one: on a journal-less ext4
    (this VM's root) inodes freed in the last ~30 s are skipped, one by one, by the next creations
    (``recently_deleted`` in ``find_inode_bit``), so deleting a home between repeats would make the
    next repeat's mkdirs and file creations many times slower.
    """
    return DagyPaths(Path(tempfile.mkdtemp(prefix="home-", dir=parent)).resolve())


def _inode_cost_us(scratch: Path, count: int = 300) -> float:
    """Microseconds per new directory or file in ``scratch``: what this disk charges per inode."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=scratch))
    start = time.perf_counter()
    for i in range(count):
        os.mkdir(probe / f"d{i}")
        (probe / f"d{i}" / "f").write_bytes(b"x")
    return (time.perf_counter() - start) / (2 * count) * 1e6


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DAGY_ENV}
    env["DAGY_LOCAL_DIR"] = str(home)
    return env


def _dagy_command() -> str:
    """The ``dagy`` script beside this interpreter (the nox venv's under ``nox -s bench``)."""
    beside = Path(sys.executable).parent / "dagy"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagy")
    if not found:
        raise SystemExit("the `dagy` command is not installed (pip install -e .)")
    return found


def _time_process(argv: list[str], env: dict[str, str], repeats: int) -> list[float]:
    """Wall times in seconds of whole processes, output discarded; fails loudly if one fails."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()}")
    return times


def _run_flow(
    target: Any, params: dict[str, Any], paths: DagyPaths, workers: int = WORKERS
) -> float:
    from dagy.services.runs.execute import RunSettings, run_flow

    start = time.perf_counter()
    record = run_flow(target, params, settings=RunSettings(max_workers=workers), paths=paths)
    elapsed = time.perf_counter() - start
    if record.status != "SUCCEEDED":
        raise RuntimeError(
            f"{target.name} run {record.run_id} ended {record.status}: {record.error}"
        )
    return elapsed


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# -- 1, 2: per-task overhead against a bare thread pool -------------------------------------------


def bench_overhead(
    label: str,
    target: Any,
    n: int,
    bare: Callable[[int], int],
    tasks: int,
    repeats: int,
    scratch: Path,
    fixed_ms: float,
) -> list[Metric]:
    _section(f"{label}: {tasks} no-op tasks, {WORKERS} workers, median of {repeats}")
    paths = _new_home(scratch)  # warm-up: imports, first DuckDB file, thread start-up
    _run_flow(target, {"n": n}, paths)
    bare(n)
    dagy_times, dagy_cpu, bare_times = [], [], []
    for _ in range(repeats):
        paths = _new_home(scratch)
        cpu = time.process_time()
        dagy_times.append(_run_flow(target, {"n": n}, paths))
        dagy_cpu.append(time.process_time() - cpu)
        start = time.perf_counter()
        bare(n)
        bare_times.append(time.perf_counter() - start)
    dagy_ms, bare_ms = _median_ms(dagy_times), _median_ms(bare_times)
    per_task = (dagy_ms - bare_ms) / tasks
    print(f"  dagy run_flow      {dagy_ms:8.1f} ms   (runs: {_ms_list(dagy_times)})")
    print(f"  bare ThreadPool(8) {bare_ms:8.1f} ms   (runs: {_ms_list(bare_times)})")
    marginal = (dagy_ms - bare_ms - fixed_ms) / tasks
    print(f"  overhead per task  {per_task:8.3f} ms   = (dagy - bare) / {tasks}")
    print(f"  beyond fixed cost  {marginal:8.3f} ms   = (dagy - bare - 1-task run) / {tasks}")
    print(f"  dagy CPU per task  {_median_ms(dagy_cpu) / tasks:8.3f} ms   (all threads)")
    return [
        Metric(f"{label}: dagy wall", dagy_ms, "ms"),
        Metric(f"{label}: bare ThreadPool wall", bare_ms, "ms"),
        Metric(f"{label}: overhead per task", per_task, "ms", 1.0),
        Metric(f"{label}: same, beyond fixed cost", marginal, "ms"),
    ]


def _task_files(base: Path, i: int) -> None:
    """What the engine puts on disk for one task run (the spec's layout): 2 directories, 3 files."""
    task_dir = base / "runs" / "run" / "task_runs" / f"noop-{i}"
    artifact_dir = base / "artifacts" / "run" / f"noop-{i}"
    os.makedirs(task_dir, exist_ok=True)
    with open(task_dir / "task.log", "a", encoding="utf-8") as log:
        log.write("attempt 1 started\n")
        os.makedirs(artifact_dir, exist_ok=True)
        (artifact_dir / "result.json").write_bytes(str(i).encode())
        log.write("attempt 1 succeeded\n")
    (task_dir / "metadata.json").write_text("{}", encoding="utf-8")


def bare_fanout_with_files(n: int, base: Path) -> None:
    def call(fn: Callable[..., int], i: int, *args: Any) -> int:
        _task_files(base, i)
        return fn(*args)

    with ThreadPoolExecutor(WORKERS) as pool:
        head = pool.submit(call, _source, n).result()
        futures = [pool.submit(call, _noop, i, head, i) for i in range(n)]
        pool.submit(call, _fan_in, n + 1, [f.result() for f in futures]).result()


def bench_breakdown(n: int, repeats: int, scratch: Path) -> list[Metric]:
    """Splits the fan-out's overhead into the files every task run writes and the rest."""
    tasks = n + 2
    _section(f"where the fan-out's per-task overhead goes ({tasks} tasks, median of {repeats})")
    bare_ms = _median_ms([_timed(lambda: bare_fanout(n)) for _ in range(repeats)])
    files = []
    for _ in range(repeats):
        paths = _new_home(scratch)
        files.append(_timed(lambda home=paths.home: bare_fanout_with_files(n, home)))
    files_ms = (_median_ms(files) - bare_ms) / tasks
    print(f"  bare ThreadPool(8) + the task's files  {files_ms:6.3f} ms per task (disk floor)")
    metrics = [Metric(f"fan-out 1->{n}->1: files alone per task", files_ms, "ms")]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        ram = []
        with tempfile.TemporaryDirectory(prefix="dagy-bench-", dir=shm) as ram_root:
            for _ in range(repeats + 1):  # the first is a warm-up
                paths = _new_home(Path(ram_root))
                ram.append(_run_flow(fanout_flow, {"n": n}, paths))
        ram_ms = (_median_ms(ram[1:]) - bare_ms) / tasks
        print(f"  dagy with its home on tmpfs (/dev/shm) {ram_ms:6.3f} ms per task (no disk)")
        metrics.append(Metric(f"fan-out 1->{n}->1: overhead on tmpfs", ram_ms, "ms"))
    return metrics


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ms_list(samples: list[float]) -> str:
    return ", ".join(f"{s * 1000:.0f}" for s in samples)


def bench_fixed_cost(repeats: int, scratch: Path) -> tuple[list[Metric], float]:
    _section(f"fixed cost of a run: a 1-task flow in a fresh home, median of {repeats}")
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up (imports duckdb, the engine)
        paths = _new_home(scratch)
        times.append(_run_flow(single_flow, {}, paths, workers=1))
    times = times[1:]
    ms = _median_ms(times)
    print(f"  1-task run         {ms:8.1f} ms   (runs: {_ms_list(times)})")
    return [Metric("1-task run (fixed cost per run)", ms, "ms")], ms


# -- 3: a big fan-out in a fresh process, for peak memory -----------------------------------------


def _peak_rss_mb() -> float:
    """The process's high-water resident set: VmHWM on Linux, ru_maxrss elsewhere."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def _current_rss_mb() -> float:
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_fanout(n: int, home: Path) -> None:
    """Runs in the child process: one fan-out, then a JSON line with its wall time and memory."""
    import dagy.services.runs.execute  # noqa: F401 - imports count as baseline, not as the run's memory
    import dagy.store.duckdb_store  # noqa: F401

    baseline = _current_rss_mb()
    wall = _run_flow(fanout_flow, {"n": n}, DagyPaths(home.resolve()))
    print(json.dumps({"wall_s": wall, "baseline_mb": baseline, "peak_mb": _peak_rss_mb()}))


def bench_big_fanout(n: int, scratch: Path) -> list[Metric]:
    tasks = n + 2
    _section(f"fan-out 1 -> {n:,} -> 1 ({tasks:,} tasks, {WORKERS} workers) in a fresh process")
    paths = _new_home(scratch)
    proc = subprocess.run(
        [sys.executable, __file__, "--child-fanout", str(n), "--child-home", str(paths.home)],
        env=_child_env(paths.home),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fan-out child failed ({proc.returncode}):\n{proc.stderr}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    wall_ms = data["wall_s"] * 1000
    print(f"  wall               {wall_ms:8.0f} ms   ({wall_ms / tasks:.3f} ms per task)")
    print(f"  RSS after imports  {data['baseline_mb']:8.1f} MB")
    print(f"  peak RSS (VmHWM)   {data['peak_mb']:8.1f} MB")
    label = f"fan-out {n:,}"
    return [
        Metric(f"{label}: wall", wall_ms, "ms"),
        Metric(f"{label}: per task", wall_ms / tasks, "ms"),
        Metric(f"{label}: peak RSS", data["peak_mb"], "MB", 200),
    ]


def map_spec(n: int) -> Any:
    """items -> a map of ``step`` over its n elements (``for_each``, what pipelines compile to)
    -> fan_in: n + 3 task runs, n of them created by the engine while the run runs."""
    from dagy.sdk.spec import FlowSpec, TaskRunSpec

    tasks = {t.name: t.definition for t in (items, step, fan_in)}
    return FlowSpec(
        "bench_map",
        "1",
        {},
        tasks,
        [
            TaskRunSpec("items-1", "items", args=[n]),
            TaskRunSpec(
                "step-1",
                "step",
                args=[{"$item": []}],
                upstream=["items-1"],
                for_each={"$ref": "items-1"},
            ),
            TaskRunSpec("fan_in-1", "fan_in", args=[{"$ref": "step-1"}], upstream=["step-1"]),
        ],
        {"$ref": "fan_in-1"},
    )


def bench_map(n: int, scratch: Path, fanout_per_task_ms: float) -> list[Metric]:
    from dagy.services.runs.execute import RunSettings, run_spec

    _section(f"map over {n:,} elements ({n + 3:,} task runs, {WORKERS} workers)")
    paths = _new_home(scratch)
    start = time.perf_counter()
    run = run_spec(map_spec(n), settings=RunSettings(max_workers=WORKERS), paths=paths)
    wall_ms = (time.perf_counter() - start) * 1000
    if run.status != "SUCCEEDED" or json.loads(run.output or "0") != n:
        raise RuntimeError(f"map run failed: {run.status} {run.error}")
    per_child = wall_ms / (n + 3)
    print(f"  wall  {wall_ms:8.0f} ms   ({per_child:.3f} ms per task run)")
    print(f"  the fan-out of the same size: {fanout_per_task_ms:.3f} ms per task run")
    return [
        Metric(f"map {n:,}: wall", wall_ms, "ms"),
        Metric(f"map {n:,}: per child", per_child, "ms"),
    ]


# -- 0: the issue-20 table: whole `dagy run` processes ------------------------------------------


def _wall_and_rss(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process (its own rusage, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err}")
    return took, usage.ru_maxrss / 1024


def bench_issue_table(sizes: Sizes, scratch: Path) -> list[Metric]:
    """The engine rows of issue 20's table, measured like a user: whole processes."""
    import peers

    _section(
        "issue 20: whole `dagy run` processes against bare Python (benchmarks/peers.py), "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    tools = peers.make_tools(scratch / "issue-table", peers=False, peers_dir=scratch)
    shapes = [
        peers.Shape("fanout", f"fan-out 1->{sizes.fanout}->1", sizes.fanout, sizes.fanout + 2, 0.5),
        peers.Shape("chain", f"chain of {sizes.chain}", sizes.chain, sizes.chain, 1.0),
    ]
    peers.measure(tools, shapes, sizes.repeats)
    rows = peers.report(tools, shapes, sizes.repeats)
    metrics = [
        Metric(f"`dagy run` {label}: overhead per task", value, "ms", goal)
        for label, value, goal in rows
    ]
    dagy = tools[1]
    flows = dagy.argv("single", 0)[2].rsplit(":", 1)[0]
    single = [dagy.argv("single", 0)[0], "run", f"{flows}:single", "-q"]
    times = [_wall_and_rss(single, dagy.env)[0] for _ in range(sizes.startup_repeats)]
    ms = _median_ms(times)
    print(f"\n  a 1-task run, whole process  {ms:7.1f} ms   (runs: {_ms_list(times)})")
    metrics.append(Metric("`dagy run` of a 1-task flow, whole process", ms, "ms", 120))
    n = sizes.big_fanout
    big = [
        *dagy.argv("fanout", n)[:3], "--param", f"n={n}", "--max-workers", str(WORKERS), "-q",
    ]  # fmt: skip
    wall, rss = _wall_and_rss(big, dagy.env)
    print(f"  fan-out of {n:,}, whole process  {wall * 1000:7.0f} ms, peak RSS {rss:.0f} MB")
    metrics += [
        Metric(f"`dagy run` fan-out of {n:,}: wall", wall * 1000, "ms", 3000),
        Metric(f"`dagy run` fan-out of {n:,}: peak RSS", rss, "MB", 200),
    ]
    return metrics


# -- 4: `dagy runs list` over a big history -------------------------------------------------------


def seed_runs(paths: DagyPaths, count: int) -> None:
    """``count`` finished runs in one INSERT ... SELECT (files_pruned: nothing of them on disk)."""
    from dagy.store.duckdb_store import DuckDBStore

    spec = fanout_flow.build(n=3).to_json()  # a realistic flow_spec value for every row
    with DuckDBStore(paths).connection() as con:
        con.execute(
            """
            INSERT INTO runs (run_id, flow_name, flow_version, status, trigger, parameters,
                              flow_spec, output, executor, max_workers, fail_fast, host,
                              created_at, started_at, ended_at, events_offset, files_pruned)
            SELECT 'bench_flow_' || (i % 20) || '-' || strftime(ts, '%Y%m%dT%H%M%SZ')
                       || '-' || lpad(printf('%x', i), 6, '0'),
                   'bench_flow_' || (i % 20), '1.0.0', 'SUCCEEDED', 'cli',
                   '{"n": 3}', ?, '3', 'local', 4, true, NULL,
                   ts, ts, ts + INTERVAL 2 SECOND, 0, true
            FROM (SELECT i, TIMESTAMP '2025-01-01' + to_seconds(i * 60) AS ts FROM range(?) t(i))
            """,
            [spec, count],
        )


def bench_runs_list(count: int, repeats: int, scratch: Path) -> list[Metric]:
    _section(f"`dagy runs list` with {count:,} runs in the store, median of {repeats}")
    dagy = _dagy_command()
    paths = _new_home(scratch)
    start = time.perf_counter()
    seed_runs(paths, count)
    seeded = time.perf_counter() - start
    size_mb = paths.db.stat().st_size / 1e6
    print(f"  seeded in {seeded:.2f} s; dagy.duckdb is {size_mb:.1f} MB")
    env = _child_env(paths.home)
    check = subprocess.run(
        [dagy, "runs", "list"], env=env, capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"dagy runs list exited {check.returncode}: {check.stderr}")
    print(f"  warm-up: {len(check.stdout.splitlines())} lines; stderr: {check.stderr.strip()}")
    times = _time_process([dagy, "runs", "list"], env, repeats)
    ms = _median_ms(times)
    print(f"  dagy runs list     {ms:8.1f} ms   (runs: {_ms_list(times)})")
    return [Metric(f"dagy runs list ({count:,} runs)", ms, "ms", 300)]


# -- 5: start-up ----------------------------------------------------------------------------------

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""
_HELP_BODY = """
import contextlib, io
from dagy.cli.main import cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    cli(["--help"])
"""
_SDK_BODY = "from dagy import flow, task"


def _heavy_imports(body: str, env: dict[str, str]) -> list[str]:
    code = _PROBE.format(body=body, heavy=HEAVY_MODULES)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return list(json.loads(proc.stderr.strip().splitlines()[-1]))


def _import_times(code: str, env: dict[str, str]) -> list[tuple[str, int]]:
    """(module, self microseconds) for every import ``python -X importtime -c code`` makes."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", line)
        if match:
            found.append((match.group(2), int(match.group(1))))
    return found


def _import_breakdown(body: str, env: dict[str, str], top: int = 6) -> str:
    """Self import time by top-level package, leaving out what the bare interpreter imports."""
    floor = {name for name, _ in _import_times("pass", env)}
    totals: dict[str, int] = {}
    for name, micros in _import_times(body, env):
        if name not in floor:
            root = name.split(".")[0]
            totals[root] = totals.get(root, 0) + micros
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{root} {micros / 1000:.1f}" for root, micros in ranked)


def _cpu_process_ms(argv: list[str], env: dict[str, str], repeats: int) -> list[float]:
    """CPU (user + sys) in milliseconds of whole processes, from ``wait4``; output discarded."""
    found = []
    for _ in range(repeats):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}")
        found.append((usage.ru_utime + usage.ru_stime) * 1000)
    return found


_COMMAND_MODULES = """
import contextlib, io, json, sys
from dagy.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(["--help"])
print(json.dumps(sorted(m for m in sys.modules if m.endswith("_cmd") or m.startswith("dagy.sdk"))))
"""


def bench_startup(repeats: int, scratch: Path) -> list[Metric]:
    _section(f"start-up: whole processes, median of {repeats}; heavy = {', '.join(HEAVY_MODULES)}")
    dagy = _dagy_command()
    metrics = []
    paths = _new_home(scratch)
    env = _child_env(paths.home)
    python = [sys.executable, "-c", "pass"]
    _time_process(python, env, 2)  # warm the page cache
    bare_ms = _median_ms(_time_process(python, env, repeats))
    bare_cpu = statistics.median(_cpu_process_ms(python, env, repeats))
    print(
        f"  python -c pass                       {bare_ms:7.1f} ms   CPU {bare_cpu:5.1f} ms   (floor)"
    )
    cases = [
        ("dagy --help", [dagy, "--help"], _HELP_BODY, 150.0),
        ("dagy --version", [dagy, "--version"], None, None),
        ("dagy runs list (empty home)", [dagy, "runs", "list"], None, None),
        (
            "from dagy import flow, task",
            [sys.executable, "-c", _SDK_BODY],
            _SDK_BODY,
            100.0,
        ),
    ]
    for label, argv, body, target in cases:
        _time_process(argv, env, 1)
        ms = _median_ms(_time_process(argv, env, repeats))
        cpu = statistics.median(_cpu_process_ms(argv, env, repeats))
        if body is None:
            print(f"  {label:<36} {ms:7.1f} ms   CPU {cpu:5.1f} ms")
            metrics.append(Metric(label, ms, "ms", None))
            continue
        heavy = _heavy_imports(body, env)
        print(
            f"  {label:<36} {ms:7.1f} ms   CPU {cpu:5.1f} ms   heavy modules imported: {heavy or 'none'}"
        )
        print(f"    import ms by package: {_import_breakdown(body, env)}")
        metrics.append(Metric(label, ms, "ms", target))
        metrics.append(
            Metric(
                f"{label}: heavy imports",
                len(heavy),
                "modules",
                1,
                shown=", ".join(heavy) or "none",
                target_shown="none",
            )
        )
    probe = subprocess.run(
        [sys.executable, "-c", _COMMAND_MODULES],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"  dagy --help imports command modules / the SDK: {loaded or 'none'}")
    metrics.append(
        Metric(
            "dagy --help: command modules imported",
            len(loaded),
            "modules",
            1,
            shown=", ".join(loaded) or "none",
            target_shown="none",
        )
    )
    return metrics


# -- main -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    fanout: int
    chain: int
    big_fanout: int
    runs: int
    repeats: int
    process_repeats: int
    startup_repeats: int


FULL = Sizes(
    fanout=500,
    chain=200,
    big_fanout=10_000,
    runs=100_000,
    repeats=5,
    process_repeats=5,
    startup_repeats=10,
)
QUICK = Sizes(
    fanout=100, chain=50, big_fanout=1_000, runs=10_000, repeats=2, process_repeats=3,
    startup_repeats=3,
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--tmpdir",
        type=Path,
        default=None,
        help="where the temporary Dagy homes go (default: $TMPDIR)",
    )
    parser.add_argument("--child-fanout", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in _DAGY_ENV:
        os.environ.pop(name, None)
    if args.child_fanout is not None:
        child_fanout(args.child_fanout, args.child_home)
        return 0

    sizes = QUICK if args.quick else FULL
    print(
        f"Dagy benchmarks{' (quick)' if args.quick else ''}: Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, {sys.executable}"
    )
    metrics: list[Metric] = []
    with tempfile.TemporaryDirectory(prefix="dagy-bench-", dir=args.tmpdir) as tmp:
        scratch = Path(tmp)
        os.environ["DAGY_LOCAL_DIR"] = str(scratch / "unused-home")  # never ~/.dagy
        print(f"Temporary homes under {scratch}: {_inode_cost_us(scratch):.0f} us per new inode")
        metrics += bench_issue_table(sizes, scratch)
        fixed_metrics, fixed_ms = bench_fixed_cost(sizes.repeats, scratch)
        metrics += fixed_metrics
        metrics += bench_overhead(
            f"fan-out 1->{sizes.fanout}->1",
            fanout_flow,
            sizes.fanout,
            bare_fanout,
            sizes.fanout + 2,
            sizes.repeats,
            scratch,
            fixed_ms,
        )
        metrics += bench_breakdown(sizes.fanout, sizes.repeats, scratch)
        metrics += bench_overhead(
            f"chain of {sizes.chain}",
            chain_flow,
            sizes.chain,
            bare_chain,
            sizes.chain,
            sizes.repeats,
            scratch,
            fixed_ms,
        )
        big = bench_big_fanout(sizes.big_fanout, scratch)
        metrics += big
        metrics += bench_map(sizes.big_fanout, scratch, big[1].value)
        metrics += bench_runs_list(sizes.runs, sizes.process_repeats, scratch)
        metrics += bench_startup(sizes.startup_repeats, scratch)

    _section("summary" + (" (quick sizes: targets are for the full sizes)" if args.quick else ""))
    print(_table(["metric", "value", "target", "result"], [m.row() for m in metrics]))
    failed = [m.name for m in metrics if m.passed is False]
    print(f"\n{len(failed)} target(s) missed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
