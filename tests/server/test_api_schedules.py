"""Schedules against a real `dagy serve --local`: every route's codes, and the scheduler loop
firing interval, one-time and deployment schedules into runs the workers execute."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dagy.scheduler.timing import next_cron
from tests.conftest import ServerProcess
from tests.server.flows_support import assert_error
from tests.server.runs_support import get, start, wait_status, wait_until

FAST = {"DAGY_SCHEDULER_TICK": "0.1", "DAGY_SCHEDULER_GRACE": "5"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("schedules")
    srv = start(tmp / "home", tmp, env=FAST, deployments={"quick-deploy": ("quick", None)})
    yield srv
    srv.stop()


def call(server: ServerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, answer = server.request(method, path, token=server.local_token, body=body)
    return status, answer


def create(server: ServerProcess, **body: Any) -> dict[str, Any]:
    status, answer = call(server, "POST", "/schedules", body)
    assert status == 201, answer
    return answer  # type: ignore[no-any-return]


def runs_of(server: ServerProcess, schedule_id: str) -> list[dict[str, Any]]:
    """The schedule's runs, oldest first (their tags name the schedule)."""
    items = get(server, "/runs?limit=100")["items"]
    found = [get(server, f"/runs/{item['run_id']}") for item in items]
    return sorted(
        (r for r in found if f"schedule:{schedule_id}" in r["tags"]), key=lambda r: r["run_id"]
    )


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z"))


def test_an_interval_schedule_fires_runs_with_its_parameters_until_paused(server):
    made = create(
        server,
        schedule_id="every-second",
        flow_name="quick",
        flow_version="1.0.0",
        mode="interval",
        interval_seconds=1,
        parameters={"n": 4, "label": "sched"},
    )
    assert made["mode"] == "interval" and made["enabled"] is True
    assert made["catchup_policy"] == "skip" and made["timezone"] == "UTC"
    assert utc(made["next_run_at"]) > utc(made["created_at"])

    runs = wait_until(lambda: (r := runs_of(server, "every-second")) and len(r) >= 2 and r, 20)
    done = wait_status(server, runs[0]["run_id"], "completed")
    assert done["output"] == {"total": 12, "label": "sched"}
    assert done["parameters"] == {"n": 4, "label": "sched"}
    assert "schedule" in done["tags"]

    detail = get(server, "/schedules/every-second")
    assert detail["last_run_id"] in {r["run_id"] for r in runs_of(server, "every-second")}
    assert detail["last_run_at"] is not None and detail["last_error"] is None

    status, paused = call(server, "PATCH", "/schedules/every-second", {"enabled": False})
    assert status == 200 and paused["enabled"] is False and paused["next_run_at"] is None
    count = len(runs_of(server, "every-second"))
    time.sleep(1.5)
    assert len(runs_of(server, "every-second")) == count

    status, resumed = call(server, "PATCH", "/schedules/every-second", {"enabled": True})
    assert status == 200 and resumed["next_run_at"] is not None
    assert call(server, "DELETE", "/schedules/every-second") == (204, None)
    status, body = call(server, "GET", "/schedules/every-second")
    assert_error(body, status, 404)


def test_a_cron_schedule_in_new_york_is_next_due_at_9_local(server):
    made = create(
        server,
        schedule_id="ny-morning",
        flow_name="quick",
        mode="cron",
        cron_expression="0 9 * * *",
        timezone="America/New_York",
        catchup_policy="all",
    )
    expected = next_cron("0 9 * * *", "America/New_York", utc(made["created_at"]))
    assert utc(made["next_run_at"]) == expected
    assert made["flow_version"] is None  # runs the flow's latest version

    status, moved = call(
        server,
        "PATCH",
        "/schedules/ny-morning",
        {"cron_expression": "0 6 * * *", "timezone": "Europe/London", "description": "early"},
    )
    assert status == 200, moved
    assert moved["timezone"] == "Europe/London" and moved["description"] == "early"
    assert moved["catchup_policy"] == "all"  # what was not given stays
    assert utc(moved["next_run_at"]) == next_cron(
        "0 6 * * *", "Europe/London", utc(moved["updated_at"])
    )


def test_a_one_time_schedule_fires_once(server):
    at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)).isoformat()
    create(server, schedule_id="once", flow_name="quick", mode="one_time", start_at=at)
    runs = wait_until(lambda: runs_of(server, "once"), 15)
    time.sleep(1)
    assert len(runs_of(server, "once")) == len(runs) == 1
    assert get(server, "/schedules/once")["next_run_at"] is None


def test_a_manual_schedule_runs_when_triggered_with_parameters_over_its_own(server):
    made = create(
        server, schedule_id="by-hand", flow_name="quick", mode="manual", parameters={"n": 2}
    )
    assert made["next_run_at"] is None
    status, body = call(
        server, "POST", "/schedules/by-hand/trigger", {"parameters": {"label": "now"}}
    )
    assert status == 202, body
    assert set(body) == {"run_id", "run_slug", "schedule_id", "status", "created_at"}
    assert body["schedule_id"] == "by-hand" and body["status"] == "queued"
    done = wait_status(server, body["run_id"], "completed")
    assert done["output"] == {"total": 2, "label": "now"}
    assert get(server, "/schedules/by-hand")["last_run_id"] == body["run_id"]

    status, answer = call(server, "POST", "/schedules/missing/trigger", {})
    assert_error(answer, status, 404)


def test_a_deployments_schedule_setting_is_its_schedule(server):
    status, body = call(server, "PUT", "/deployments/quick-deploy/settings", {"schedule": "1s"})
    assert status == 200, body
    own = get(server, "/schedules/deployment:quick-deploy")
    assert own["mode"] == "interval" and own["interval_seconds"] == 1
    assert own["deployment_name"] == "quick-deploy"
    runs = wait_until(lambda: runs_of(server, "deployment:quick-deploy"), 15)
    assert runs[0]["deployment_name"] == "quick-deploy"

    status, body = call(
        server, "PUT", "/deployments/quick-deploy/settings", {"schedule": "0 9 * * 1-5"}
    )
    assert status == 200, body
    own = get(server, "/schedules/deployment:quick-deploy")
    assert own["mode"] == "cron" and own["cron_expression"] == "0 9 * * 1-5"

    call(server, "PUT", "/deployments/quick-deploy/settings", {"schedule": ""})
    status, body = call(server, "GET", "/schedules/deployment:quick-deploy")
    assert_error(body, status, 404)


def test_listing_filters_and_pages(server):
    for name, mode in (("list-a", "manual"), ("list-b", "manual"), ("list-c", "interval")):
        body: dict[str, Any] = {"schedule_id": name, "flow_name": "quick", "mode": mode}
        if mode == "interval":
            body.update(interval_seconds=3600, enabled=False)
        create(server, **body)
    manual = get(server, "/schedules?mode=manual&limit=100")["items"]
    assert {"list-a", "list-b"} <= {s["schedule_id"] for s in manual}
    assert all(s["mode"] == "manual" for s in manual)
    disabled = get(server, "/schedules?enabled=false")["items"]
    assert [s["schedule_id"] for s in disabled if s["schedule_id"].startswith("list")] == ["list-c"]
    seen, token = [], None
    while True:
        page = get(server, "/schedules?limit=1" + (f"&next_token={token}" if token else ""))
        assert len(page["items"]) <= 1
        seen += [s["schedule_id"] for s in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 3
    assert get(server, "/schedules?flow_name=other")["items"] == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"mode": "cron", "cron_expression": "0 9 * *"}, 400, "cron_expression"),
        ({"mode": "cron", "cron_expression": "61 * * * *"}, 400, "cron_expression"),
        ({"mode": "cron"}, 400, "cron_expression"),
        (
            {"mode": "cron", "cron_expression": "0 9 * * *", "timezone": "Mars/Base"},
            400,
            "timezone",
        ),
        ({"mode": "interval"}, 400, "interval_seconds"),
        ({"mode": "interval", "interval_seconds": 0}, 400, "interval_seconds"),
        ({"mode": "one_time"}, 400, "start_at"),
        ({"mode": "one_time", "start_at": "2020-01-01T00:00:00Z"}, 400, "one_time_at"),
        ({"mode": "one_time", "start_at": "tomorrow"}, 400, "start_at"),
        ({"mode": "sometimes"}, 400, "mode"),
        ({"mode": "manual", "catchup_policy": "maybe"}, 400, "catchup_policy"),
        ({"mode": "manual", "parameters": {"n": "many"}}, 400, "parameters.n"),
        ({"mode": "manual", "colour": "red"}, 400, "colour"),
        ({"mode": "manual", "schedule_id": "has space"}, 400, "schedule_id"),
        ({"mode": "manual", "flow_name": "no-such-flow"}, 404, None),
        ({"mode": "manual", "flow_version": "9.9.9"}, 404, None),
        ({"mode": "manual", "deployment_name": "no-such-deployment"}, 404, None),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_stored(server, body, code, field):
    before = get(server, "/schedules?limit=100")["items"]
    status, answer = call(server, "POST", "/schedules", {"flow_name": "quick", **body})
    assert_error(answer, status, code, field)
    assert get(server, "/schedules?limit=100")["items"] == before


def test_a_taken_schedule_id_is_a_conflict(server):
    create(server, schedule_id="twice", flow_name="quick", mode="manual")
    status, answer = call(
        server,
        "POST",
        "/schedules",
        {"schedule_id": "twice", "flow_name": "quick", "mode": "manual"},
    )
    assert_error(answer, status, 409)


def test_bad_changes_are_refused_and_change_nothing(server):
    create(
        server, schedule_id="steady", flow_name="quick", mode="cron", cron_expression="0 1 * * *"
    )
    before = get(server, "/schedules/steady")
    for body, field in (
        ({"cron_expression": "nope"}, "cron_expression"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"enabled": "yes"}, "enabled"),
        ({"mode": "manual"}, "mode"),
        ({"start_at": "2026-05-01T00:00:00Z", "end_at": "2026-04-01T00:00:00Z"}, "end_at"),
    ):
        status, answer = call(server, "PATCH", "/schedules/steady", body)
        assert_error(answer, status, 400, field)
    assert get(server, "/schedules/steady") == before
    status, answer = call(server, "PATCH", "/schedules/nothing-here", {"enabled": False})
    assert_error(answer, status, 404)
    status, answer = call(server, "DELETE", "/schedules/nothing-here")
    assert_error(answer, status, 404)


def test_a_viewer_reads_schedules_but_cannot_change_them(tmp_path: Path):
    from tests.server.flows_support import login
    from tests.server.flows_support import start as start_multi_user

    srv = start_multi_user(tmp_path / "home")
    try:
        viewer = login(srv, "viewer@example.com", "viewer")
        assert viewer.call("GET", "/schedules")[0] == 200
        status, answer = viewer.call("POST", "/schedules", {"flow_name": "quick", "mode": "manual"})
        assert_error(answer, status, 403)
        status, answer = viewer.call("POST", "/schedules/x/trigger", {})
        assert_error(answer, status, 403)
    finally:
        srv.stop()


def test_deleting_a_flow_or_a_deployment_deletes_its_schedules(server):
    create(server, schedule_id="of-fragile", flow_name="fragile", mode="manual")
    status, body = call(
        server,
        "POST",
        "/deployments",
        {"name": "gone-soon", "flow_name": "quick", "flow_version": "1.0.0"},
    )
    assert status in (200, 201), body
    call(server, "PUT", "/deployments/gone-soon/settings", {"schedule": "0 3 * * *"})
    assert get(server, "/schedules/deployment:gone-soon")["cron_expression"] == "0 3 * * *"

    assert call(server, "DELETE", "/flows/fragile")[0] in (200, 204)
    assert call(server, "DELETE", "/deployments/gone-soon")[0] in (200, 204)
    for schedule_id in ("of-fragile", "deployment:gone-soon"):
        status, body = call(server, "GET", f"/schedules/{schedule_id}")
        assert_error(body, status, 404)


SPEC_FLOW = """
from dagy import flow


@flow(name="my-flow", version="5")
def my_flow(force_refresh: bool = False):
    return {"force_refresh": force_refresh}
"""


def test_the_specs_post_schedules_example_creates_a_schedule_in_its_environment(server, tmp_path):
    """The reference's body sends `environment` among `parameters`: for a flow that declares no
    such parameter it is the schedule's environment (it must exist), not a run parameter."""
    from tests.server.flows_support import build_spec

    path = tmp_path / "spec_flow.py"
    path.write_text(SPEC_FLOW, encoding="utf-8")
    status, body = call(server, "POST", "/flows", {"flow_spec": build_spec(path, "my_flow")})
    assert status == 201, body
    example = {
        "schedule_id": "daily-etl",
        "flow_name": "my-flow",
        "flow_version": 5,
        "mode": "cron",
        "enabled": True,
        "timezone": "America/New_York",
        "catchup_policy": "skip",
        "cron_expression": "0 9 * * *",
        "parameters": {"environment": "prod", "force_refresh": False},
    }
    status, body = call(server, "POST", "/schedules", example)
    assert_error(body, status, 400, "environment")  # no environment named prod yet
    assert call(server, "GET", "/schedules/daily-etl")[0] == 404

    status, body = call(server, "POST", "/environments", {"env_name": "prod"})
    assert status == 201, body
    made = create(server, **example)
    assert made["schedule_id"] == "daily-etl" and made["environment"] == "prod"
    assert made["parameters"] == {"force_refresh": False}
    assert made["timezone"] == "America/New_York" and made["next_run_at"] is not None

    status, body = call(
        server,
        "POST",
        "/schedules",
        {
            **example,
            "schedule_id": "x",
            "environment": "prod",
            "parameters": {"environment": "dev"},
        },
    )
    assert_error(body, status, 400, "parameters.environment")  # the two disagree
