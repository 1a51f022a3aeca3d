"""Per-task overhead of a whole ``dagy run`` against bare Python, and (``--peers``) Prefect and Dagster.

    python benchmarks/peers.py            # bare Python vs Dagy: fan-out 1->500->1 and a chain of 200
    python benchmarks/peers.py --peers    # + Prefect and Dagster, each in its own virtualenv
    python benchmarks/peers.py --quick    # fewer tasks and repeats: a smoke test

Every measurement is a whole process, as a user starts it: ``python bare.py``, ``dagy run
flows.py:fanout --max-workers 8``, ``python prefect_flows.py``, ``python dagster_jobs.py``. The tools
run interleaved (bare, dagy, prefect, dagster, bare, ...) so a change in the machine's load hits
them alike; each figure is the median of 5. Per-task overhead = (tool wall - bare wall) / tasks.

With ``--peers`` the benchmark makes its own virtualenvs under ``~/.cache/dagy-bench/peers``
(``python -m venv`` + ``pip install prefect`` / ``dagster``) the first time, and reuses them after;
``--peers-dir`` moves them. Nothing is installed into the environment that runs the benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WORKERS = 8
FANOUT = 500  # 1 -> 500 -> 1: 502 task runs
CHAIN = 200
DEFAULT_PEERS_DIR = Path.home() / ".cache" / "dagy-bench" / "peers"

BARE = """
import sys
from concurrent.futures import ThreadPoolExecutor

def source(): return 0
def noop(upstream, i): return i
def fan_in(values): return len(values)
def step(previous): return previous + 1

shape, n = sys.argv[1], int(sys.argv[2])
with ThreadPoolExecutor(8) as pool:
    if shape == "fanout":
        head = pool.submit(source).result()
        futures = [pool.submit(noop, head, i) for i in range(n)]
        pool.submit(fan_in, [f.result() for f in futures]).result()
    else:
        value = pool.submit(source).result()
        for _ in range(n - 1):
            value = pool.submit(step, value).result()
"""

DAGY = """
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

@task
def step(previous: int) -> int:
    return previous + 1

@flow
def fanout(n: int = 500):
    head = source()
    return fan_in([noop(head, i) for i in range(n)])

@flow
def chain(n: int = 200):
    value = source()
    for _ in range(n - 1):
        value = step(value)
    return value

@flow
def single():
    return source()
"""

PREFECT = """
import sys
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

@task
def source(): return 0

@task
def noop(upstream, i): return i

@task
def fan_in(values): return len(values)

@task
def step(previous): return previous + 1

@flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
def fanout(n: int):
    head = source.submit()
    futures = [noop.submit(head, i) for i in range(n)]
    return fan_in.submit(futures).result()

@flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
def chain(n: int):
    value = source()
    for _ in range(n - 1):
        value = step(value)
    return value

shape, n = sys.argv[1], int(sys.argv[2])
(fanout if shape == "fanout" else chain)(n)
"""

# Dagster's in-process executor runs one op at a time (its multiprocess executor starts a process
# per op): the fan-out is the same graph, sequential.
DAGSTER = """
import sys
from dagster import DagsterInstance, In, job, op

shape, n = sys.argv[1], int(sys.argv[2])

@op
def source(): return 0

@op
def noop(upstream): return 1

@op(ins={"values": In(list)})
def fan_in(values): return len(values)

@op
def step(previous): return previous + 1

if shape == "fanout":
    @job
    def run_me():
        head = source()
        fan_in([noop.alias(f"noop_{i}")(head) for i in range(n)])
else:
    @job
    def run_me():
        value = source()
        for i in range(n - 1):
            value = step.alias(f"step_{i}")(value)

result = run_me.execute_in_process(instance=DagsterInstance.get())
assert result.success
"""

PEER_PACKAGES = {"prefect": "prefect", "dagster": "dagster"}


@dataclass
class Tool:
    name: str
    argv: Callable[[str, int], list[str]]
    env: dict[str, str]
    version: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return took


def _dagy_command() -> str:
    beside = Path(sys.executable).parent / "dagy"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagy")
    if not found:
        raise SystemExit("the `dagy` command is not installed (pip install -e .)")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGY_", "PREFECT_"))}
    env.pop("DAGSTER_HOME", None)
    env.update(extra)
    return env


def peer_python(name: str, peers_dir: Path) -> Path:
    """The interpreter of ``name``'s own virtualenv, made (and the package installed) if missing."""
    venv = peers_dir / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        print(f"  installing {name} into {venv} (once; later runs reuse it)...", flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", PEER_PACKAGES[name]],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        marker.write_text("ok\n")
    return python


def _version(python: Path | str, module: str) -> str:
    proc = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "?"


def make_tools(scratch: Path, peers: bool, peers_dir: Path) -> list[Tool]:
    files = {}
    for name, source in (
        ("bare", BARE),
        ("flows", DAGY),
        ("prefect", PREFECT),
        ("dagster", DAGSTER),
    ):
        files[name] = scratch / f"bench_{name}.py"  # never "prefect.py": it would shadow prefect
        files[name].write_text(textwrap.dedent(source))
    python = sys.executable
    dagy = _dagy_command()
    # One Dagy home for all repeats, like a user's: the first (warm-up) run creates the store.
    home = scratch / "dagy-home"
    dagy_env = _clean_env(DAGY_LOCAL_DIR=str(home))
    tools = [
        Tool("bare Python", lambda s, n: [python, str(files["bare"]), s, str(n)], _clean_env()),
        Tool(
            "Dagy",
            lambda s, n: [
                dagy,
                "run",
                f"{files['flows']}:{s}",
                "--param",
                f"n={n}",
                "--max-workers",
                str(WORKERS),
                "-q",
            ],  # fmt: skip
            dagy_env,
            _version(python, "dagy"),
        ),
    ]
    if peers:
        prefect = peer_python("prefect", peers_dir)
        prefect_env = _clean_env(
            PREFECT_HOME=str(scratch / "prefect-home"),
            PREFECT_LOGGING_LEVEL="WARNING",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # No API configured: each process starts Prefect's ephemeral server, as `python
            # flow.py` does for a user; on a busy machine it needs longer than the default 20 s.
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        )
        tools.append(
            Tool(
                "Prefect",
                lambda s, n: [str(prefect), str(files["prefect"]), s, str(n)],
                prefect_env,
                _version(prefect, "prefect"),
            )
        )
        dagster = peer_python("dagster", peers_dir)
        dagster_home = scratch / "dagster-home"
        dagster_home.mkdir()
        tools.append(
            Tool(
                "Dagster",
                lambda s, n: [str(dagster), str(files["dagster"]), s, str(n)],
                _clean_env(DAGSTER_HOME=str(dagster_home)),
                _version(dagster, "dagster"),
            )
        )
    return tools


@dataclass(frozen=True)
class Shape:
    key: str  # the flow / script argument
    label: str
    n: int
    tasks: int
    goal_ms: float


def measure(tools: list[Tool], shapes: list[Shape], repeats: int) -> None:
    for shape in shapes:
        for tool in tools:  # warm-up: page cache, the Dagy store, Prefect's database
            _wall(tool.argv(shape.key, shape.n), tool.env)
    for _ in range(repeats):
        for shape in shapes:
            for tool in tools:
                took = _wall(tool.argv(shape.key, shape.n), tool.env)
                tool.times.setdefault(shape.key, []).append(took)


def report(tools: list[Tool], shapes: list[Shape], repeats: int) -> list[tuple[str, float, float]]:
    """Prints the table; returns (row label, Dagy's per-task overhead ms, goal ms) per shape."""
    bare = tools[0]
    rows = []
    for shape in shapes:
        print(
            f"\n{shape.label} ({shape.tasks} tasks, {WORKERS} threads), whole processes, "
            f"median of {repeats}, interleaved:"
        )
        base = statistics.median(bare.times[shape.key])
        dagy_overhead = None
        for tool in tools:
            wall = statistics.median(tool.times[shape.key])
            runs = ", ".join(f"{t * 1000:.0f}" for t in tool.times[shape.key])
            name = f"{tool.name} {tool.version}".strip()
            if tool is bare:
                print(f"  {name:<22} {wall * 1000:8.0f} ms                 (runs: {runs})")
                continue
            per_task = (wall - base) / shape.tasks * 1000
            if tool.name == "Dagy":
                dagy_overhead = per_task
            ratio = f"{per_task / dagy_overhead:6.1f}x Dagy" if dagy_overhead else ""
            print(
                f"  {name:<22} {wall * 1000:8.0f} ms  {per_task:7.2f} ms/task  {ratio:<12}"
                f" (runs: {runs})"
            )
        assert dagy_overhead is not None
        rows.append((shape.label, dagy_overhead, shape.goal_ms))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", action="store_true", help="also Prefect and Dagster")
    parser.add_argument("--peers-dir", type=Path, default=DEFAULT_PEERS_DIR)
    parser.add_argument("--quick", action="store_true", help="fewer tasks and repeats")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    fanout, chain = (100, 50) if args.quick else (FANOUT, CHAIN)
    shapes = [
        Shape("fanout", f"fan-out 1->{fanout}->1", fanout, fanout + 2, 0.5),
        Shape("chain", f"chain of {chain}", chain, chain, 1.0),
    ]
    load = os.getloadavg()
    print(
        f"Peers benchmark{' (quick)' if args.quick else ''}: Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="dagy-peers-") as tmp:
        tools = make_tools(Path(tmp), args.peers, args.peers_dir)
        measure(tools, shapes, repeats)
        rows = report(tools, shapes, repeats)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    missed = [label for label, value, goal in rows if value >= goal]
    for label, value, goal in rows:
        verdict = "PASS" if value < goal else "FAIL"
        print(f"  Dagy {label}: {value:.2f} ms per task (goal < {goal:g} ms) {verdict}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
