from __future__ import annotations

import os

from dagy import flow, task
from dagy.store.duckdb_store import DuckDBStore
from dagy.testing import temporary_home


@task
def double(x: int) -> int:
    return 2 * x


@flow
def doubling(x: int = 2):
    return double(x)


def test_temporary_home_isolates_runs_and_restores_the_environment(monkeypatch):
    monkeypatch.setenv("DAGY_LOCAL_DIR", "/nonexistent/original")
    with temporary_home() as paths:
        assert doubling(x=21) == 42
        (run,) = DuckDBStore(paths).list_runs()
        assert run.flow_name == "doubling" and run.status == "SUCCEEDED"
    assert os.environ["DAGY_LOCAL_DIR"] == "/nonexistent/original"
    assert not paths.home.exists()
