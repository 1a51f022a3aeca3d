"""Flows, registration and polling shared by the tests of runs the server executes."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, start_server

FLOWS = """
    import os
    import time
    from pathlib import Path

    from dagy import flow, task


    def _tally(path: str, tag: str) -> None:
        with open(path, "a") as fh:  # one line per execution of a task, with its process
            fh.write(f"{tag} {os.getpid()}\\n")


    @task
    def double(x: int) -> int:
        return x * 2


    @task
    def total(values: list, label: str) -> dict:
        return {"total": sum(values), "label": label}


    @flow(name="quick", version="1.0.0")
    def quick(n: int = 3, label: str = "x"):
        return total([double(i) for i in range(n)], label)


    @task
    def wait_for(gate: str, tally: str, tag: str) -> str:
        _tally(tally, tag)
        deadline = time.monotonic() + 60
        while not Path(gate).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(gate)
            time.sleep(0.02)
        return tag


    @flow(name="gated", version="1.0.0")
    def gated(gate: str, tally: str, tag: str = "g"):
        return wait_for(gate, tally, tag)


    @task
    def first(tally: str) -> int:
        _tally(tally, "first")
        return 1


    @task
    def picky(marker: str, base: int) -> str:
        if not Path(marker).exists():
            raise RuntimeError("no marker yet")
        return f"ok {base}"


    @flow(name="flaky", version="1.0.0")
    def flaky(marker: str, tally: str):
        return picky(marker, first(tally))


    @task
    def die() -> None:
        os._exit(1)


    @flow(name="dies", version="1.0.0")
    def dies():
        return die()


    @task
    def spin(pidfile: str) -> None:
        Path(pidfile).write_text(str(os.getpid()))
        while True:
            time.sleep(0.02)


    @flow(name="spins", version="1.0.0")
    def spins(pidfile: str):
        return spin(pidfile)


    @flow(name="fragile", version="1.0.0")
    def fragile(explode: bool = False):
        if explode:
            print("about to explode")
            raise ValueError("boom at build")
        return double(1)


    @task(timeout_seconds=0.3)
    def spin_briefly(pidfile: str) -> None:
        spin.fn(pidfile)


    @flow(name="times_out", version="1.0.0")
    def times_out(pidfile: str):
        return spin_briefly(pidfile)
"""

# The values the registered specs were built with (required parameters need one); a run rebuilds
# its spec with its own, and the registered parameter_schema is the function's either way.
BUILD_PARAMS: dict[str, dict[str, str]] = {
    "quick": {},
    "gated": {"gate": "g", "tally": "t"},
    "flaky": {"marker": "m", "tally": "t"},
    "dies": {},
    "spins": {"pidfile": "p"},
    "times_out": {"pidfile": "p"},
    "fragile": {},
}


def write_flows(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exec_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


def register(
    home: Path,
    flows_file: Path,
    deployments: dict[str, tuple[str, int | None]] | None = None,
    org_id: str = "personal",
) -> None:
    """Register every flow of ``flows_file`` (specs built from the file, as POST /flows takes
    them) and deployments ``name -> (flow, max_concurrent_runs)``, with no server running."""
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import deployments as deployment_service
    from dagy.services.catalog import flows
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    for name, params in BUILD_PARAMS.items():
        spec = load_flow(f"{flows_file}:{name}").build(**params)
        flows.register_version(store, org_id, spec)
    for deployment, (flow_name, limit) in (deployments or {}).items():
        deployment_service.upsert(
            store,
            org_id,
            None,
            name=deployment,
            flow_name=flow_name,
            flow_version="1.0.0",
            max_concurrent_runs=limit,
        )


def start(
    home: Path,
    tmp: Path,
    *,
    workers: int = 4,
    env: dict[str, str] | None = None,
    deployments: dict[str, tuple[str, int | None]] | None = None,
) -> ServerProcess:
    """A `dagy serve --local` on ``home`` with the flows of FLOWS registered (once)."""
    flows_file = tmp / "code" / "exec_flows.py"
    if not flows_file.exists():
        write_flows(flows_file.parent)
        register(home, flows_file, deployments)
    return start_server(
        home,
        "--local",
        env={
            "DAGY_SERVER_WORKERS": str(workers),
            "DAGY_SERVER_CANCEL_GRACE": "3",
            "DAGY_LOCAL_KEEP_RUNS": "0",
            **(env or {}),
        },
    )


def trigger(server: ServerProcess, **body: Any) -> dict[str, Any]:
    status, _, answer = server.request("POST", "/runs", token=server.local_token, body=body)
    assert status == 202, answer
    assert isinstance(answer, dict)
    return answer


def get(server: ServerProcess, path: str) -> Any:
    status, _, body = server.request("GET", path, token=server.local_token)
    assert status == 200, (path, body)
    return body


def wait_until(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}")


def wait_status(
    server: ServerProcess, run_id: str, *statuses: str, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = get(server, f"/runs/{run_id}")
        return body if body["status"] in statuses else None

    return wait_until(check, timeout, f"run {run_id} to be {'/'.join(statuses)}")  # type: ignore[no-any-return]


def tally(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
