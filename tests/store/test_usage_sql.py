"""Usage SQL on hand-made rows: exact counts, compute seconds and costs, and what counts where
(a run by its creation day, a task run by its start day, a reused task run nowhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from dagy.config.paths import DagyPaths
from dagy.store import usage
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord, TaskRunRecord

DAY1, DAY2 = dt.datetime(2026, 3, 1, 10), dt.datetime(2026, 3, 2, 10)
RATES = {"local": 0.01, "lambda": 0.1}


def window(start: dt.datetime, end: dt.datetime, org: str = "acme") -> usage.Window:
    return usage.Window(org, start, end, RATES, 1.0)


@pytest.fixture
def store(paths: DagyPaths) -> Iterator[DuckDBStore]:
    store = DuckDBStore(paths)
    store.hold()  # one open for the whole test, as the server holds it

    def task(run: str, tid: str, at: dt.datetime | None, secs: float, **kw) -> TaskRunRecord:
        return TaskRunRecord(
            run, tid, "t", 0, kw.pop("status", "SUCCEEDED"), org_id=kw.pop("org", "acme"),
            started_at=at, duration_seconds=secs, **kw,
        )  # fmt: skip

    runs = [
        (RunRecord("r1", "etl", "1", "SUCCEEDED", DAY1, org_id="acme"), [
            task("r1", "a", DAY1, 2.0, executor="local"),
            task("r1", "b", DAY1, 3.0, executor="lambda"),
        ]),
        # Created on day 1, its task started on day 2: the task counts on day 2.
        (RunRecord("r2", "etl", "1", "FAILED", DAY1, org_id="acme"), [
            task("r2", "a", DAY2, 1.0, executor="local", status="FAILED"),
            task("r2", "b", None, 0.0, executor="local", status="CANCELLED"),  # never started
        ]),
        # A retry reused r1's task `a`: its work was counted with r1.
        (RunRecord("r3", "report", "1", "SUCCEEDED", DAY2, org_id="acme"), [
            task("r3", "a", DAY1, 2.0, executor="local", reused_from="r1"),
            task("r3", "c", DAY2, 4.0, executor="dask"),
        ]),
        (RunRecord("x1", "etl", "1", "FAILED", DAY1, org_id="other"), [
            task("x1", "a", DAY1, 100.0, executor="local", org="other", status="FAILED"),
        ]),
    ]  # fmt: skip
    for run, tasks in runs:
        store.create_run(run, tasks)
    usage.add_api_calls(store, [("acme", DAY1.date(), 5), ("other", DAY1.date(), 9)])
    usage.add_api_calls(store, [("acme", DAY1.date(), 2), ("acme", DAY2.date(), 1)])
    yield store
    store.release()


def test_totals_of_a_window(store):
    t = usage.totals(store, window(dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1)))
    # tasks: r1.a 2s local, r1.b 3s lambda, r2.a 1s local (failed), r3.c 4s dask (default rate)
    assert (t.run_count, t.task_count, t.api_call_count) == (3, 4, 8)
    assert t.compute_seconds == pytest.approx(10.0)
    assert t.error_count == 2  # the failed run r2 and its failed task run
    assert t.cost_usd == pytest.approx(2 * 0.01 + 3 * 0.1 + 1 * 0.01 + 4 * 1.0)


def test_days_count_runs_by_creation_and_task_runs_by_start(store):
    days = usage.days(store, window(dt.datetime(2026, 2, 28), dt.datetime(2026, 3, 3)))
    assert [d.day.isoformat() for d in days] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    empty, first, second = days
    assert (empty.run_count, empty.task_count, empty.cost_usd) == (0, 0, 0)
    assert (first.run_count, first.task_count, first.error_count, first.api_call_count) == (
        2,
        2,
        1,
        7,
    )
    assert first.compute_seconds == pytest.approx(5.0)
    assert (second.run_count, second.task_count, second.error_count) == (1, 2, 1)


def test_costs_by_flow_and_executor(store):
    w = window(dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1))
    flows = {f.flow_name: f for f in usage.by_flow(store, w)}
    assert (flows["etl"].run_count, flows["etl"].task_count) == (2, 3)
    assert flows["etl"].cost_usd == pytest.approx(0.02 + 0.3 + 0.01)
    assert (flows["report"].run_count, flows["report"].task_count) == (1, 1)
    assert [f.flow_name for f in usage.by_flow(store, w, limit=1)] == ["report"]  # dearest
    executors = {
        e.executor: (e.task_count, round(e.cost_usd, 6)) for e in usage.by_executor(store, w)
    }
    assert executors == {"local": (2, 0.03), "lambda": (1, 0.3), "dask": (1, 4.0)}


def test_a_task_started_inside_the_window_brings_its_earlier_run_s_flow(store):
    w = window(dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 3))
    flows = {f.flow_name: (f.run_count, f.task_count) for f in usage.by_flow(store, w)}
    assert flows == {"etl": (0, 1), "report": (1, 1)}


def test_counts_for_quotas(store):
    assert usage.runs_since(store, "acme", dt.datetime(2026, 3, 2)) == 1
    assert usage.tasks_since(store, "acme", dt.datetime(2026, 3, 1)) == 4
    assert usage.concurrent_runs(store, "acme") == 0


def test_overrides_round_trip(store):
    assert usage.get_override(store, "acme") is None
    usage.set_override(store, "acme", usage.Override(5, None, 1, None), dt.datetime(2026, 3, 1))
    usage.set_override(store, "acme", usage.Override(6, None, None, 60), dt.datetime(2026, 3, 2))
    assert usage.get_override(store, "acme") == usage.Override(6, None, None, 60)
    usage.delete_override(store, "acme")
    assert usage.get_override(store, "acme") is None
