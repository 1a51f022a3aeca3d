"""Usage and quotas on a real multi-user `dagy serve`: figures that match the runs the test made,
the timeseries' date checks, 429 quota_exceeded at a (tiny, per-org) limit, the 80% warning, and
`dagy serve --local` unlimited.

Each test works in an org of its own (flows registered there through POST /flows), so the shared
server's other runs never show in its figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import Api, add_user, assert_error, new_org, unique
from tests.server.runs_support import wait_until, write_flows

TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("usage")
    flows_file = write_flows(tmp / "code")
    server = start_server(
        tmp / "home",
        env={
            "DAGY_RATE_LIMIT_PER_MINUTE": "0",
            "DAGY_SERVER_WORKERS": "4",
            "DAGY_LOCAL_KEEP_RUNS": "0",
        },
    )
    yield server, flows_file
    server.stop()


def spec(flows_file: Path, name: str, **params: Any) -> dict[str, Any]:
    from dagy.sdk.loader import load_flow

    return load_flow(f"{flows_file}:{name}").build(**params).to_dict()  # type: ignore[no-any-return]


def org_with_flows(server: ServerProcess, flows_file: Path, **limits: Any) -> Api:
    """A fresh org whose owner registered quick, flaky and gated, with ``limits`` as override."""
    api = new_org(server)
    api.register(spec(flows_file, "quick"))
    api.register(spec(flows_file, "flaky", marker="m", tally="t"))
    api.register(spec(flows_file, "gated", gate="g", tally="t"))
    if limits:
        set_limits(server, api.headers["X-Dagy-Org"], **limits)
    return api


def set_limits(server: ServerProcess, org_id: str, **limits: Any) -> dict[str, Any]:
    status, _, body = server.request(
        "PUT", f"/_local/quotas/{org_id}", token=server.local_token, body=limits
    )
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def run(api: Api, flow: str, *, wait: bool = True, **body: Any) -> dict[str, Any]:
    queued = api.ok("POST", "/runs", {"flow_name": flow, "flow_version": "1.0.0", **body}, 202)
    if not wait:
        return queued  # type: ignore[no-any-return]

    def done() -> Any:
        got = api.ok("GET", f"/runs/{queued['run_id']}")
        return got["status"] in ("completed", "failed") and got

    return wait_until(done, 30, f"run {queued['run_id']}")  # type: ignore[no-any-return]


# -- figures ----------------------------------------------------------------------------------------


def test_usage_counts_the_runs_tasks_flows_executors_and_days_the_org_ran(shared, tmp_path):
    server, flows_file = shared
    api = org_with_flows(server, flows_file, concurrent_runs=10)
    marker, tally = tmp_path / "marker", tmp_path / "tally"
    assert run(api, "quick", parameters={"n": 3})["status"] == "completed"  # 3 double + total
    assert run(api, "quick", parameters={"n": 3})["status"] == "completed"
    assert run(api, "quick", parameters={"n": 2}, executor="process")["status"] == "completed"
    failed = run(api, "flaky", parameters={"marker": str(marker), "tally": str(tally)})
    assert failed["status"] == "failed"  # `first` succeeded, `picky` failed

    summary = api.ok("GET", "/usage/summary")
    month = TODAY.replace(day=1)
    assert summary["period_start"] == f"{month.isoformat()}T00:00:00Z"
    assert summary["period_end"].endswith("T23:59:59Z")
    assert (summary["run_count"], summary["task_count"], summary["error_count"]) == (4, 13, 2)
    assert 0 < summary["compute_seconds"] < 60  # tiny tasks: well under a second each
    assert summary["api_call_count"] > 0 and summary["estimated_cost_usd"] >= 0

    costs = api.ok("GET", "/usage/costs")
    flows = {f["flow_name"]: f for f in costs["by_flow"]}
    assert set(flows) == {"quick", "flaky"}
    assert flows["quick"]["run_count"] == 3 and flows["flaky"]["run_count"] == 1
    executors = {e["executor"]: e["task_count"] for e in costs["by_executor"]}
    assert executors == {"local": 10, "process": 3}
    assert set(costs["by_executor"][0]) == {"executor", "cost_usd", "task_count"}
    assert set(costs["by_flow"][0]) == {"flow_name", "cost_usd", "run_count"}
    parts = sum(e["cost_usd"] for e in costs["by_executor"])
    assert costs["total_cost_usd"] == pytest.approx(parts, abs=0.02)

    days = api.ok("GET", f"/usage/timeseries?start_date={TODAY}&end_date={TODAY}")["items"]
    assert [d["date"] for d in days] == [TODAY.isoformat()]
    assert (days[0]["run_count"], days[0]["task_count"], days[0]["error_count"]) == (4, 13, 2)
    assert set(days[0]) == {
        "date",
        "run_count",
        "task_count",
        "compute_seconds",
        "api_call_count",
        "error_count",
        "cost_usd",
    }

    board = api.ok("GET", "/usage/dashboard")
    assert set(board) == {"summary", "timeseries", "quota", "top_flows"}
    top = {f["flow_name"]: f for f in board["top_flows"]}
    assert top["quick"]["run_count"] == 3 and top["quick"]["task_count"] == 11
    assert top["flaky"]["task_count"] == 2
    assert board["summary"]["run_count"] == 4
    assert board["timeseries"][-1]["date"] == TODAY.isoformat()
    assert board["quota"]["current_usage"]["monthly_runs"] == 4


def test_another_orgs_usage_is_not_counted(shared):
    server, flows_file = shared
    busy = org_with_flows(server, flows_file)
    run(busy, "quick")
    idle = new_org(server)
    summary = idle.ok("GET", "/usage/summary")
    assert (summary["run_count"], summary["task_count"], summary["compute_seconds"]) == (0, 0, 0)
    assert idle.ok("GET", "/usage/costs") == {"total_cost_usd": 0, "by_flow": [], "by_executor": []}


def test_api_calls_are_counted_per_org_in_batches(shared):
    server, _ = shared
    api = new_org(server)
    before = api.ok("GET", "/usage/summary")["api_call_count"]
    for _ in range(3):
        api.ok("GET", "/me")
    after = api.ok("GET", "/usage/summary")["api_call_count"]
    assert after == before + 4  # three /me and the first summary itself
    today = api.ok("GET", "/usage/timeseries")["items"][-1]
    assert today["date"] == TODAY.isoformat() and today["api_call_count"] == after + 1


def test_api_calls_not_yet_flushed_are_written_at_shutdown(tmp_path):
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    home = tmp_path / "home"
    server = start_server(
        home, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_API_CALLS_FLUSH_SECONDS": "3600"}
    )
    add_user(server, "owner@example.com", "owner")  # the local token's calls do not count
    token = server.login("owner@example.com")  # public: no identity, no org to count for
    for _ in range(3):
        assert server.request("GET", "/me", token=token)[0] == 200
    assert server.stop() == 0
    with DuckDBStore(DagyPaths(home)).connection() as con:
        rows = con.execute("SELECT org_id, day, calls FROM api_calls").fetchall()
    assert rows == [("personal", TODAY, 3)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start_date=2026-13-01", "start_date"),
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-02-30", "end_date"),
        ("start_date=2026-03-10&end_date=2026-03-01", "start_date"),
        ("start_date=2020-01-01&end_date=2026-01-01", "end_date"),
    ],
)
def test_bad_dates_are_a_400_in_the_error_shape(shared, query, field):
    server, _ = shared
    api = new_org(server)
    for path in ("/usage/timeseries", "/usage/costs"):
        status, body = api.call("GET", f"{path}?{query}")
        assert_error(body, status, 400, field)


def test_timeseries_lists_every_day_of_the_range_and_takes_datetimes(shared):
    server, _ = shared
    api = new_org(server)
    items = api.ok("GET", "/usage/timeseries?start_date=2026-03-01T10:00:00Z&end_date=2026-03-03")[
        "items"
    ]
    assert [i["date"] for i in items] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert all(i["run_count"] == 0 and i["cost_usd"] == 0 for i in items)


# -- quotas -----------------------------------------------------------------------------------------


def test_the_monthly_runs_limit_warns_at_80_percent_then_refuses_with_429(shared):
    server, flows_file = shared
    api = org_with_flows(server, flows_file, monthly_runs=5)
    for _ in range(3):
        run(api, "quick", wait=False, execute=False)
    quota = api.ok("GET", "/usage/quota")
    assert quota["plan"] == "free" and quota["limits"]["monthly_runs"] == 5
    assert quota["limits"]["concurrent_runs"] == 2  # the plan's, not overridden
    assert quota["percentages"]["monthly_runs"] == 60.0 and quota["warning"] is False

    run(api, "quick", wait=False, execute=False)
    quota = api.ok("GET", "/usage/quota")
    assert (
        quota["current_usage"]["monthly_runs"] == 4 and quota["percentages"]["monthly_runs"] == 80
    )
    assert quota["warning"] is True and quota["over_limit"] is False

    run(api, "quick", wait=False, execute=False)
    status, headers, body = server.request(
        "POST",
        "/runs",
        token=api.token,
        headers=api.headers,
        body={"flow_name": "quick", "flow_version": "1.0.0", "execute": False},
    )
    assert status == 429, body
    first_of_next = (TODAY.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    assert body == {
        "error": "quota_exceeded",
        "message": "Monthly run quota exhausted",
        "details": {"quota": "monthly_runs"},
        "detail": "Monthly run quota exhausted",
        "limit": 5,
        "current_usage": 5,
        "reset_at": f"{first_of_next.isoformat()}T00:00:00Z",
    }
    assert int(headers["retry-after"]) > 0
    quota = api.ok("GET", "/usage/quota")
    assert quota["current_usage"]["monthly_runs"] == 5  # the refused trigger recorded nothing
    assert quota["over_limit"] is True and quota["reset_at"] == body["reset_at"]

    set_limits(server, api.headers["X-Dagy-Org"], monthly_runs=None)  # back to the plan's 100
    run(api, "quick", wait=False, execute=False)


def test_the_concurrency_limit_refuses_a_run_while_one_is_running(shared, tmp_path):
    server, flows_file = shared
    api = org_with_flows(server, flows_file, concurrent_runs=1)
    gate, tally = tmp_path / "gate", tmp_path / "tally"
    params = {"gate": str(gate), "tally": str(tally)}
    first = run(api, "gated", wait=False, parameters=params)
    status, body = api.call("POST", "/runs", {"flow_name": "quick", "flow_version": "1.0.0"})
    assert status == 429 and body["error"] == "quota_exceeded", body
    assert body["message"] == "Concurrent run limit reached"
    assert (body["limit"], body["current_usage"], body["reset_at"]) == (1, 1, None)
    assert api.ok("GET", "/usage/quota")["percentages"]["concurrent_runs"] == 100.0
    # A run recorded without executing takes no worker: the concurrency limit lets it in.
    run(api, "quick", wait=False, execute=False)

    gate.touch()
    wait_until(
        lambda: api.ok("GET", f"/runs/{first['run_id']}")["status"] == "completed", 30, "gated"
    )
    assert run(api, "quick")["status"] == "completed"


def test_a_retry_is_a_trigger_too(shared, tmp_path):
    server, flows_file = shared
    api = org_with_flows(server, flows_file, monthly_runs=1)
    params = {"marker": str(tmp_path / "marker"), "tally": str(tmp_path / "tally")}
    failed = run(api, "flaky", parameters=params)
    status, body = api.call("POST", f"/runs/{failed['run_id']}/retry")
    assert status == 429 and body["limit"] == 1, body


def test_schedule_triggers_go_through_the_quota_too(shared):
    server, flows_file = shared
    api = org_with_flows(server, flows_file, monthly_runs=0)
    by_hand = unique("by-hand")
    api.ok(
        "POST", "/schedules", {"schedule_id": by_hand, "flow_name": "quick", "mode": "manual"}, 201
    )
    status, body = api.call("POST", f"/schedules/{by_hand}/trigger", {})
    assert status == 429 and body["error"] == "quota_exceeded" and body["limit"] == 0, body

    ticking = unique("ticking")
    api.ok(
        "POST",
        "/schedules",
        {"schedule_id": ticking, "flow_name": "quick", "flow_version": "1.0.0",
         "mode": "interval", "interval_seconds": 1},
        201,
    )  # fmt: skip

    def refused() -> Any:
        schedule = api.ok("GET", f"/schedules/{ticking}")
        return schedule["last_error"] and schedule

    schedule = wait_until(refused, 20, "the scheduler to meet the quota")
    assert "Monthly run quota exhausted" in schedule["last_error"]
    assert api.ok("GET", "/usage/quota")["current_usage"]["monthly_runs"] == 0


def test_overrides_are_checked_and_only_for_the_local_token(shared):
    server, _ = shared
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    for bad, field in (({"monthly_runs": -1}, "monthly_runs"), ({"nope": 1}, "nope")):
        status, _, body = server.request(
            "PUT", f"/_local/quotas/{org_id}", token=server.local_token, body=bad
        )
        assert_error(body, status, 400, field)
    status, _, body = server.request(
        "PUT", "/_local/quotas/org_nope", token=server.local_token, body={"monthly_runs": 1}
    )
    assert_error(body, status, 404)
    status, body = api.call("PUT", f"/_local/quotas/{org_id}", {"monthly_runs": 1000})
    assert_error(body, status, 403)
    assert api.ok("GET", "/usage/quota")["limits"]["monthly_runs"] == 100
    assert api.ok("GET", "/audit-logs?resource_type=quota")["items"] == []  # refusals: no row
    limits = set_limits(server, org_id, monthly_runs=7)["limits"]
    (row,) = api.ok("GET", "/audit-logs?resource_type=quota")["items"]
    assert (row["actor_email"], row["action"], row["resource_id"]) == ("local", "update", org_id)
    assert row["changes"] == limits and limits["monthly_runs"] == 7
    assert row["ip_address"] == "127.0.0.1"


def test_reading_usage_takes_billing_read(shared):
    server, _ = shared
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    for role, code in (("viewer", 200), ("admin", 200), ("developer", 403)):
        email = f"{unique(role)}@example.com"
        add_user(server, email, role, org_id)
        member = Api(server, server.login(email))
        for path in ("/usage/summary", "/usage/quota", "/usage/costs", "/usage/dashboard"):
            status, body = member.call("GET", path)
            assert status == code, (role, path, body)
    assert server.request("GET", "/usage/summary")[0] == 401


# -- local mode -------------------------------------------------------------------------------------


def test_local_mode_is_unlimited(tmp_path):
    from tests.server.runs_support import start

    server = start(tmp_path / "home", tmp_path)
    try:
        set_limits(server, "personal", monthly_runs=1, concurrent_runs=0)
        for _ in range(3):
            status, _, body = server.request(
                "POST",
                "/runs",
                token=server.local_token,
                body={"flow_name": "quick", "flow_version": "1.0.0", "execute": False},
            )
            assert status == 202, body
        status, _, quota = server.request("GET", "/usage/quota", token=server.local_token)
        assert status == 200 and quota["plan"] == "local"
        assert set(quota["limits"].values()) == {None}
        assert quota["current_usage"]["monthly_runs"] == 3
        assert quota["warning"] is False and quota["over_limit"] is False
    finally:
        server.stop()
