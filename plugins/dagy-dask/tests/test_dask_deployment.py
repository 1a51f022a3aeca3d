"""A deployment that runs on dask through a real `dagy serve`: the scheduler's address comes from
the deployment's environment (its variable DASK_SCHEDULER_ADDRESS), not from the server's own."""

from __future__ import annotations

import os
from pathlib import Path

from distributed import Client

from tests.conftest import start_server
from tests.server.runs_support import wait_status

FLOW = """
import os
from dagy import flow, task


@task
def where(i: int) -> int:
    return os.getpid()


@flow(name="spread", version="1.0")
def spread(n: int = 6):
    return [where(i) for i in range(n)]
"""


def test_a_deployment_in_an_environment_naming_the_scheduler_runs_on_the_cluster(
    tmp_path: Path, client: Client, monkeypatch
):
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.accounts.audit import local_actor
    from dagy.services.catalog import deployments, flows
    from dagy.services.vault import environments
    from dagy.store.duckdb_store import DuckDBStore

    for name in ("DAGY_DASK_SCHEDULER", "DASK_SCHEDULER_ADDRESS"):  # the server has none itself
        monkeypatch.delenv(name, raising=False)
    source = tmp_path / "code" / "spread_flows.py"
    source.parent.mkdir()
    source.write_text(FLOW)
    home = tmp_path / "home"
    store = DuckDBStore(DagyPaths(home))
    flows.register_version(store, "personal", load_flow(f"{source}:spread").build())
    environments.create(store, local_actor(), env_name="cluster")
    environments.set_variables(
        store, local_actor(), "cluster",
        {"DASK_SCHEDULER_ADDRESS": client.scheduler.address}, replace=True,
    )  # fmt: skip
    deployments.upsert(
        store, "personal", None, name="spread-on-dask", flow_name="spread", flow_version="1.0",
        environment="cluster", default_executor="dask",
    )  # fmt: skip

    server = start_server(home, "--local", env={"DAGY_SERVER_WORKERS": "1"})
    try:
        status, _, run = server.request(
            "POST", "/runs", token=server.local_token, body={"deployment": "spread-on-dask"}
        )
        assert status == 202, run
        done = wait_status(server, run["run_id"], "completed", "failed", timeout=90)  # type: ignore[index]
    finally:
        server.stop()
    assert done["status"] == "completed", done["error"]
    assert done["executor"] == "dask"
    worker_pids = set(client.run(os.getpid).values())
    assert set(done["output"]) <= worker_pids  # every task ran in a worker of the cluster
