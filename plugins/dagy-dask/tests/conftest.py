"""A real dask cluster on loopback (2 worker processes, 1 thread each) and a temporary Dagy home."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("distributed", reason="dagy-dask's tests need distributed installed")
pytest.importorskip("dagy_dask", reason="pip install -e ./plugins/dagy-dask")

from distributed import Client, LocalCluster  # noqa: E402

# The core suite's fixtures: a temporary DAGY_LOCAL_DIR and flow files (the repo root is on
# sys.path: these tests run from it, as `python -m pytest plugins/dagy-dask/tests` or the root run).
from tests.conftest import dagy_home, paths, write_flow  # noqa: E402, F401


def small_cluster(n_workers: int = 2, **scheduler_kwargs: Any) -> LocalCluster:
    """Worker processes with one thread each on loopback, no dashboard.

    The scheduler serves /health on 8787 even without a dashboard; a free port avoids warnings and
    clashes with other clusters on the machine.
    """
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0", **scheduler_kwargs},
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two workers shared by a module's tests; always closed, also when a test fails."""
    with small_cluster() as found:
        yield found


@pytest.fixture
def start_cluster() -> Callable[..., LocalCluster]:
    """``small_cluster`` for a test that needs a cluster of its own (use it in a with block)."""
    return small_cluster


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    """A client of the test's own, which waits for both workers (one may be restarting)."""
    with Client(cluster, set_as_default=False) as found:
        found.wait_for_workers(2, timeout=30)
        yield found


@pytest.fixture
def scheduler(client: Client, monkeypatch: pytest.MonkeyPatch) -> str:
    """DAGY_DASK_SCHEDULER pointing at the cluster, for this test."""
    address: str = client.scheduler.address
    monkeypatch.setenv("DAGY_DASK_SCHEDULER", address)
    return address
