"""Runs as the API shows them: the runs service's records (dagy/services/runs/reads.py) shaped at the
server's edge (dagy/server/shapes.py): derived fields, the status vocabulary, keyset pages in SQL."""

from __future__ import annotations

import datetime as _dt

import pytest

from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError
from dagy.server import shapes
from dagy.services.runs import reads
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord

T0 = _dt.datetime(2026, 3, 2, 10, 15, 30)


def _run(run_id: str, **kw) -> RunRecord:
    defaults = dict(flow_name="my-flow", flow_version="5", status="SUCCEEDED", created_at=T0)
    return RunRecord(run_id=run_id, **{**defaults, **kw})


class runs_api:
    """GET /runs/{run_id} and GET /runs as the routes make them."""

    @staticmethod
    def get_run(store: DuckDBStore, org_id: str, run_id: str) -> dict:
        return shapes.to_detail(reads.get(store, org_id, run_id), reads.retry_count(store, run_id))

    @staticmethod
    def list_runs(store: DuckDBStore, org_id: str, *, status=None, **kw) -> dict:
        page = reads.list_page(store, org_id, status=reads.check_status(status), **kw)
        return shapes.to_page(page)


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_a_finished_run_has_the_specs_fields(store: DuckDBStore):
    store.create_run(
        _run(
            "r1",
            started_at=T0 + _dt.timedelta(seconds=5),
            ended_at=T0 + _dt.timedelta(seconds=615, microseconds=250_000),
            parameters='{"threshold": 0.8}',
            output='{"processed_records": 50000}',
            executor="process",
        )
    )
    body = runs_api.get_run(store, "personal", "r1")
    assert body == {
        "run_id": "r1",
        "run_slug": "my-flow-2026-03-02-101530",
        "flow_name": "my-flow",
        "flow_version": "5",
        "deployment_name": None,
        "status": "completed",
        "created_at": "2026-03-02T10:15:30Z",
        "started_at": "2026-03-02T10:15:35Z",
        "completed_at": "2026-03-02T10:25:45Z",
        "duration_seconds": 610.25,
        "executor": "process",
        "execution_mode": None,
        "parameters": {"threshold": 0.8},
        "output": {"processed_records": 50000},
        "error": None,
        "retry_count": 0,
        "tags": ["cli"],
        "trigger": "cli",
        "retry_of": None,
        "replay_of": None,
    }
    assert list(runs_api.list_runs(store, "personal")["items"][0]) == [
        "run_id",
        "run_slug",
        "flow_name",
        "flow_version",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "duration_seconds",
    ]


def test_a_running_run_has_no_completion_yet_and_retries_are_counted(store: DuckDBStore):
    store.create_run(_run("r1", status="FAILED", error="boom"))
    store.create_run(_run("r2", status="FAILED", retry_of="r1", trigger="retry"))
    store.create_run(_run("r3", status="RUNNING", retry_of="r2", trigger="retry", started_at=T0))
    body = runs_api.get_run(store, "personal", "r3")
    assert body["status"] == "running" and body["retry_count"] == 2 and body["tags"] == ["retry"]
    assert body["completed_at"] is None and body["duration_seconds"] is None
    assert body["parameters"] == {} and body["output"] is None
    assert runs_api.get_run(store, "personal", "r1")["error"] == "boom"


def test_another_orgs_run_is_not_found(store: DuckDBStore):
    store.create_run(_run("r1", org_id="acme"))
    with pytest.raises(NotFoundError, match="Run not found: r1"):
        runs_api.get_run(store, "personal", "r1")
    assert runs_api.list_runs(store, "personal") == {"items": [], "next_token": None}
    assert [i["run_id"] for i in runs_api.list_runs(store, "acme")["items"]] == ["r1"]


def test_the_status_filter_speaks_the_apis_words(store: DuckDBStore):
    for run_id, status in [("a", "PENDING"), ("b", "RUNNING"), ("c", "CANCELLED"), ("d", "FAILED")]:
        store.create_run(_run(run_id, status=status))
    for word, expected in [("queued", "a"), ("running", "b"), ("cancelled", "c"), ("failed", "d")]:
        items = runs_api.list_runs(store, "personal", status=word)["items"]
        assert [(i["run_id"], i["status"]) for i in items] == [(expected, word)]
    for bad in ("FAILED", "succeeded", "done"):
        with pytest.raises(InvalidInputError) as err:
            runs_api.list_runs(store, "personal", status=bad)
        assert "status" in err.value.details


def test_pages_follow_a_keyset_even_when_created_at_ties(store: DuckDBStore):
    for i in range(5):
        store.create_run(_run(f"r{i}", created_at=T0 + _dt.timedelta(seconds=i // 2)))
    store.create_run(_run("other", flow_name="other-flow"))
    seen, token, pages = [], None, 0
    while True:
        page = runs_api.list_runs(store, "personal", flow_name="my-flow", limit=2, next_token=token)
        seen += [i["run_id"] for i in page["items"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert seen == ["r4", "r3", "r2", "r1", "r0"] and pages == 3
    assert len(runs_api.list_runs(store, "personal")["items"]) == 6
    with pytest.raises(InvalidInputError):
        runs_api.list_runs(store, "personal", limit=0)
    assert len(runs_api.list_runs(store, "personal", limit=500)["items"]) == 6
