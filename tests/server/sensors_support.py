"""A real `dagy serve` with flows that sensors trigger, and how tests find the runs they queued."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import Api, add_user
from tests.server.runs_support import wait_until

FLOWS = """
    import os

    from dagy import flow, secret, task


    @task
    def echo(value: dict) -> dict:
        return value


    @flow(name="hooked", version="1.0.0")
    def hooked(payload: dict | None = None, label: str = "x"):
        return echo({"payload": payload, "label": label})


    @flow(name="merged", version="1.0.0")
    def merged(event: str = "none", data: dict | None = None, label: str = "x"):
        return echo({"event": event, "data": data, "label": label})


    @flow(name="filed", version="1.0.0")
    def filed(file: str = "", event: str = "none", size: int = 0, label: str = "x"):
        return echo({"file": file, "event": event, "size": size, "label": label})


    @task
    def environment(names: list, secret_name: str) -> dict:
        found = {name: os.environ.get(name) for name in names}
        found["secret"] = secret(secret_name) if secret_name else None
        found["secrets_file"] = os.environ.get("DAGY_SECRETS_FILE")
        return found


    @flow(name="envy", version="1.0.0")
    def envy(names: list | None = None, secret_name: str = ""):
        return environment(names or [], secret_name)
"""

# The settings every sensor test server runs with: a fast loop, a small webhook bucket.
SERVER_ENV = {
    "DAGY_RATE_LIMIT_PER_MINUTE": "0",
    "DAGY_SENSOR_TICK_SECONDS": "0.1",
    "DAGY_WEBHOOK_RATE_PER_MINUTE": "6",
    "DAGY_WEBHOOK_BURST": "3",
    "DAGY_KEYRING": "0",
    "DAGY_MASTER_KEY": "",
    "DAGY_LOCAL_KEEP_RUNS": "0",
}


def register(home: Path, folder: Path) -> Path:
    """Write FLOWS and register each of its flows in the personal org (no server running)."""
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.accounts.audit import local_actor
    from dagy.services.catalog import flows
    from dagy.services.usage import quotas
    from dagy.store.duckdb_store import DuckDBStore

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sensor_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    store = DuckDBStore(DagyPaths(home))
    for name in ("hooked", "merged", "envy", "filed"):
        flows.register_version(store, "personal", load_flow(f"{path}:{name}").build())
    # The free plan's 2 concurrent runs would refuse these tests' bursts of webhook runs.
    quotas.set_override(
        store, local_actor(), "personal", {"monthly_runs": 100_000, "concurrent_runs": 1_000}
    )
    return path


def start(home: Path, tmp: Path, env: dict[str, str] | None = None) -> ServerProcess:
    if not (tmp / "code" / "sensor_flows.py").exists():
        register(home, tmp / "code")
    server = start_server(home, env={**SERVER_ENV, **(env or {})})
    add_user(server, "owner@example.com", "owner")
    return server


def label() -> str:
    return f"l-{uuid.uuid4().hex[:8]}"


def create(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("name", label())
    return api.ok("POST", "/sensors", body, status=201)  # type: ignore[no-any-return]


_PARAMETERS: dict[str, dict[str, Any]] = {}  # run_id -> parameters (they never change)


def runs_labelled(api: Api, flow_name: str, tag: str) -> list[dict[str, Any]]:
    """The runs of ``flow_name`` whose ``label`` parameter is ``tag``, each with its
    ``parameters`` (GET /runs items do not carry them); by ``created_at``, which has whole
    seconds only: runs of one second are in no particular order."""
    found = []
    for item in api.ok("GET", f"/runs?flow_name={flow_name}&limit=100")["items"]:
        if item["run_id"] not in _PARAMETERS:
            _PARAMETERS[item["run_id"]] = api.ok("GET", f"/runs/{item['run_id']}")["parameters"]
        if _PARAMETERS[item["run_id"]].get("label") == tag:
            found.append({**item, "parameters": _PARAMETERS[item["run_id"]]})
    return sorted(found, key=lambda r: (r["created_at"], r["run_id"]))


def wait_runs(api: Api, flow_name: str, tag: str, count: int, timeout: float = 60) -> list:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (found := runs_labelled(api, flow_name, tag)) and len(found) >= count and found,
        timeout,
        f"{count} run(s) of {flow_name} labelled {tag}",
    )


def wait_done(api: Api, run_id: str, timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api.ok("GET", f"/runs/{run_id}")
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    return wait_until(check, timeout, f"run {run_id} to finish")  # type: ignore[no-any-return]


class Endpoint:
    """An HTTP server of the test whose answer (status, JSON body) the test changes."""

    def __init__(self) -> None:
        self.status, self.body = 404, {}
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.hits += 1
                data = json.dumps(outer.body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/status"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
