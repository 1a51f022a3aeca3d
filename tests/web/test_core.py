"""The web UI's core stories in a real browser against a real `dagy serve`: sign in, a run started
from the CLI appears live on the runs page, its page shows the graph, the timeline (retries as
separate bars) and a followed log; cancel and retry from the run page change the store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, dagy_cmd
from tests.server.runs_support import wait_until
from tests.web.conftest import OWNER, PASSWORD, sign_in


def api(server: ServerProcess, method: str, path: str, body: object = None) -> Any:
    token = server.login(OWNER, PASSWORD)
    status, _, answer = server.request(method, path, token=token, body=body)
    assert status < 300, (status, answer)
    return answer


def test_served_with_a_strict_csp_and_signs_in_and_out(web_server: ServerProcess, page: Any):
    response = page.goto(web_server.url.rstrip("/") + "/")
    assert response.status == 200, (response.url, response.status)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    page.fill("#sign-in input[name=email]", OWNER)
    page.fill("#sign-in input[name=password]", "wrong-password")
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#sign-in .error:not(:empty)")
    assert page.evaluate("sessionStorage.getItem('dagy.token')") is None

    page.fill("#sign-in input[name=password]", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#sign-out")
    assert OWNER in page.inner_text("#who")
    token = page.evaluate("sessionStorage.getItem('dagy.token')")
    assert token and token not in page.url

    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert page.evaluate("sessionStorage.getItem('dagy.token')") is None
    # the token was revoked on the server, not only forgotten by the page
    status, _, _ = web_server.request("GET", "/users/me", token=token)
    assert status == 401
    assert page.errors == []


def test_a_cli_run_appears_live_and_its_page_shows_graph_timeline_and_followed_log(
    web_server: ServerProcess, web_flows: Path, page: Any, tmp_path: Path
):
    sign_in(page, web_server)
    page.goto(web_server.url.rstrip("/") + "/#/runs")
    page.wait_for_selector("dagy-runs .live:not(:empty)")
    assert "webdemo" not in page.inner_text("dagy-runs")

    marker = tmp_path / "flaky.count"
    done = subprocess.run(
        [*dagy_cmd(), "run", f"{web_flows}:webdemo", "--param", f"marker={marker}"],
        capture_output=True,
        text=True,
        env={**os.environ, "DAGY_LOCAL_DIR": str(web_server.home)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split("Run completed: ")[1].split()[0]

    # the page was open before the run existed: it shows up by the page's own polling
    link = page.wait_for_selector(f"a.run-link:text-is('{run_id}')")
    link.click()
    page.wait_for_selector("dagy-run[data-loaded='true']")
    assert page.get_attribute("dagy-run", "data-status") == "completed"

    # the graph: one node per task run (12 fetches, flaky, report), coloured by state
    nodes = page.locator("dagy-run-graph .node")
    assert nodes.count() == 14
    assert page.locator("dagy-run-graph .node rect.f-succeeded").count() == 14
    assert page.locator("dagy-run-graph path.edge").count() == 1

    # the timeline: the 12 fetches are one group that expands; flaky's three attempts are 3 bars
    group = page.locator("dagy-run-gantt .grp[data-group='fetch']")
    assert "fetch ×12" in (group.text_content() or "")
    assert page.locator("dagy-run-gantt .task[data-id='fetch-1']").count() == 0
    group.click()
    page.wait_for_selector("dagy-run-gantt .task[data-id='fetch-1']")
    attempts = page.locator("dagy-run-gantt .task[data-id='flaky-1'] .bar.attempt")
    wait_until(lambda: attempts.count() == 3, timeout=30, what="flaky's three attempt bars")
    failed = page.locator("dagy-run-gantt .task[data-id='flaky-1'] .bar.attempt.f-failed")
    assert failed.count() == 2

    # the log follows the whole run; search narrows it; a node click opens that task's log
    page.wait_for_selector("dagy-log-view .logline:has-text('finished status=SUCCEEDED')")
    page.fill("dagy-log-view input[name=search]", "RETRYING IN")
    page.wait_for_selector("dagy-log-view .log-count:has-text('2 matching lines')")
    page.fill("dagy-log-view input[name=search]", "")
    page.locator("dagy-run-graph .node[data-id='report-1']").click()
    page.wait_for_selector("dagy-log-view .logline:has-text('the total is 66')")
    assert page.input_value("dagy-log-view select[name=task]") == "report-1"

    # parameters and result as text
    assert '"total": 66' in page.inner_text("dagy-run")
    assert page.errors == []


def test_cancel_and_retry_from_the_run_page_change_the_store(
    web_server: ServerProcess, page: Any, tmp_path: Path
):
    gate = tmp_path / "gate"
    queued = api(
        web_server,
        "POST",
        "/runs",
        {"flow_name": "webgated", "flow_version": "1.0.0", "parameters": {"gate": str(gate)}},
    )
    run_id = queued["run_id"]
    sign_in(page, web_server)
    page.goto(web_server.url.rstrip("/") + f"/#/runs/{run_id}")
    page.wait_for_selector("dagy-run[data-status='running']")
    page.wait_for_selector("dagy-run-graph .node rect.f-running")
    page.click("#cancel-run")
    page.wait_for_selector("dagy-run[data-status='cancelled']")
    assert api(web_server, "GET", f"/runs/{run_id}")["status"] == "cancelled"

    gate.write_text("open")
    page.click("#retry-run")
    page.wait_for_url(lambda url: "/runs/" in url and run_id not in url)
    retried = page.evaluate("location.hash").split("/runs/")[1]
    page.wait_for_selector("dagy-run[data-status='completed']")
    stored = api(web_server, "GET", f"/runs/{retried}")
    assert stored["status"] == "completed" and stored["retry_of"] == run_id
    assert page.locator(f"dagy-run a:text-is('{run_id}')").count() == 1
    assert page.errors == []


def test_runs_filters_by_id_prefix_and_creation_time_in_the_page_and_the_api(
    web_server: ServerProcess, page: Any, tmp_path: Path
):
    run_id = api(
        web_server,
        "POST",
        "/runs",
        {
            "flow_name": "webdemo",
            "flow_version": "1.0.0",
            "parameters": {"n": 2, "marker": str(tmp_path / "m")},
        },
    )["run_id"]
    sign_in(page, web_server)
    page.goto(web_server.url.rstrip("/") + "/#/runs")
    page.wait_for_selector(f"a.run-link:text-is('{run_id}')")
    page.fill("dagy-runs input[name=prefix]", run_id[:-2])
    page.press("dagy-runs input[name=prefix]", "Enter")
    rows = page.locator("dagy-runs a.run-link")
    wait_until(lambda: rows.count() == 1, timeout=30, what="one row for the prefix")
    assert rows.inner_text() == run_id
    assert f"prefix={run_id[:-2]}" in page.url  # the filter is in the URL

    listed = api(web_server, "GET", f"/runs?run_id_prefix={run_id[:-2]}")["items"]
    assert [r["run_id"] for r in listed] == [run_id]
    assert api(web_server, "GET", "/runs?created_after=2999-01-01")["items"] == []
    token = web_server.login(OWNER, PASSWORD)
    status, _, body = web_server.request("GET", "/runs?created_before=yesterday", token=token)
    assert status == 400 and body["error"] == "validation_error"  # type: ignore[index]
    assert page.errors == []


def test_a_viewer_sees_no_cancel_or_retry_and_a_forced_retry_is_refused(
    web_server: ServerProcess, page: Any, tmp_path: Path
):
    gate = tmp_path / "gate"
    run_id = api(
        web_server,
        "POST",
        "/runs",
        {"flow_name": "webgated", "flow_version": "1.0.0", "parameters": {"gate": str(gate)}},
    )["run_id"]
    web_server.create_user("viewer@example.com", "viewer", PASSWORD)
    sign_in(page, web_server, "viewer@example.com", PASSWORD)
    page.goto(web_server.url.rstrip("/") + f"/#/runs/{run_id}")
    page.wait_for_selector("dagy-run[data-status='running']")
    assert page.locator("#cancel-run").count() == 0
    api(web_server, "POST", f"/runs/{run_id}/cancel")
    page.wait_for_selector("dagy-run[data-status='cancelled']")
    assert page.locator("#retry-run").count() == 0
    token = page.evaluate("sessionStorage.getItem('dagy.token')")
    status, _, _ = web_server.request("POST", f"/runs/{run_id}/retry", token=token)
    assert status == 403
    assert api(web_server, "GET", f"/runs/{run_id}")["status"] == "cancelled"
    assert page.errors == []
