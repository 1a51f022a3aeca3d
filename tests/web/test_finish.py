"""The web UI's later stories in a real browser against a real `dagy serve`: a run's results and
files (viewed, downloaded with the token in a header only), the browser sign-in, the org switcher,
the AI studio's attachments, tiers and bind-flow, and editing a schedule and an environment with
the API's validation errors shown inline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess
from tests.server.runs_support import wait_until
from tests.web.conftest import OWNER, PASSWORD, sign_in


def api(server: ServerProcess, method: str, path: str, body: object = None, **headers: str) -> Any:
    token = server.login(OWNER, PASSWORD)
    status, _, answer = server.request(method, path, token=token, body=body, headers=headers)
    assert status < 300, (status, answer)
    return answer


def finished_run(server: ServerProcess, tmp_path: Path) -> str:
    """A completed webdemo run (its flaky task succeeds on the third try)."""
    marker = tmp_path / "flaky.count"
    queued = api(
        server,
        "POST",
        "/runs",
        {
            "flow_name": "webdemo",
            "flow_version": "1.0.0",
            "parameters": {"n": 2, "marker": str(marker)},
        },
    )
    run_id = str(queued["run_id"])

    def done() -> bool:
        status = api(server, "GET", f"/runs/{run_id}")["status"]
        assert status not in ("failed", "cancelled", "crashed"), status
        return status == "completed"

    wait_until(done, 90, "the webdemo run to complete")
    return run_id


def test_run_page_shows_results_and_downloads_files_without_token_in_urls(
    web_server: ServerProcess, page: Any, tmp_path: Path
):
    run_id = finished_run(web_server, tmp_path)
    # a file the task wrote, named like markup: shown as those characters, and downloadable
    tasks = api(web_server, "GET", f"/runs/{run_id}/task-runs")["items"]
    report_id = next(t["task_run_id"] for t in tasks if t["task_name"] == "report")
    xss = "<img src=x onerror=alert(1)>.txt"
    (web_server.home / "artifacts" / run_id / report_id / xss).write_text("plain text\n")
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))
    sign_in(page, web_server)
    token = page.evaluate("sessionStorage.getItem('dagy.token')")
    page.goto(web_server.url.rstrip("/") + f"/#/runs/{run_id}")
    page.wait_for_selector("dagy-run[data-loaded='true']")
    files = page.locator("dagy-run-files")
    files.locator("table").wait_for()
    report = files.locator("tr", has_text="report").filter(has_text="result.json")
    assert report.count() == 1
    assert "application/json" in report.inner_text()
    # four task runs (fetch x2, flaky, report), each with its result.json, and the odd file
    assert files.locator("tbody tr").count() == 5
    odd = files.locator("tr", has_text="onerror")
    assert odd.locator("td").nth(1).inner_text() == xss
    assert page.locator("#page img").count() == 0

    report.locator("button.view-file").click()
    preview = files.locator(".file-preview pre")
    preview.wait_for()
    assert json.loads(preview.inner_text()) == {"total": 1}

    with page.expect_download() as info:
        report.locator("button.download-file").click()
    download = info.value
    assert download.suggested_filename == "result.json"
    assert json.loads(Path(download.path()).read_text()) == {"total": 1}
    with page.expect_download() as info:
        odd.locator("button.download-file").click()
    assert info.value.suggested_filename.endswith(".txt")
    assert Path(info.value.path()).read_text() == "plain text\n"
    assert token and not any(token in u for u in urls)
    assert any(f"/runs/{run_id}/artifacts/" in u for u in urls)
    assert page.errors == []


def test_browser_sign_in_ends_signed_in_with_the_code_gone_from_the_url(
    web_server: ServerProcess, page: Any
):
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))
    page.goto(web_server.url.rstrip("/") + "/#/runs")
    page.click("#browser-sign-in")
    # the server's own sign-in page (the one `dagy login` opens), for this web app
    page.wait_for_selector("form[action='sign-in'] #email")
    assert "web app" in page.inner_text("main")
    page.fill("#email", OWNER)
    page.fill("#password", PASSWORD)
    page.click("button#sign-in")
    page.wait_for_selector("#sign-out")
    page.wait_for_selector("dagy-runs")  # back where it started
    token = page.evaluate("sessionStorage.getItem('dagy.token')")
    assert token and OWNER in page.inner_text("#who")
    assert "code=" not in page.url and "state=" not in page.url
    assert page.evaluate("sessionStorage.getItem('dagy.pkce')") is None
    assert not any(token in u for u in urls)
    # a code came back once in the address bar; the page traded it and dropped it
    assert any("code=" in u for u in urls)
    status, _, me = web_server.request("GET", "/users/me", token=token)
    assert status == 200 and me["user_email"] == OWNER
    assert page.errors == []


def test_a_forged_browser_sign_in_answer_is_refused(web_server: ServerProcess, page: Any):
    page.goto(web_server.url.rstrip("/") + "/?code=forged&state=forged#/")
    page.wait_for_selector("#sign-in .error:not(:empty)")
    assert "does not match" in page.inner_text("#sign-in .error")
    assert "code=" not in page.url
    assert page.evaluate("sessionStorage.getItem('dagy.token')") is None


def test_org_switcher_shows_the_other_orgs_runs(
    web_server: ServerProcess, web_flows: Path, page: Any, tmp_path: Path
):
    from dagy.sdk.loader import load_flow

    gate = tmp_path / "gate"
    gate.write_text("open")
    other = api(web_server, "POST", "/orgs", {"org_name": "Second team"})["org_id"]
    spec = load_flow(f"{web_flows}:webgated").build(gate=str(gate)).to_dict()
    api(web_server, "POST", "/flows", {"flow_spec": spec}, **{"X-Dagy-Org": other})
    body = {"flow_name": "webgated", "flow_version": "1.0.0", "parameters": {"gate": str(gate)}}
    theirs = api(web_server, "POST", "/runs", body, **{"X-Dagy-Org": other})["run_id"]
    mine = api(web_server, "POST", "/runs", body)["run_id"]

    sign_in(page, web_server)
    page.goto(web_server.url.rstrip("/") + "/#/runs")
    page.wait_for_selector(f"a.run-link:text-is('{mine}')")
    assert page.locator(f"a.run-link:text-is('{theirs}')").count() == 0
    switch = page.locator("select.org-switch")
    switch.select_option(other)
    page.wait_for_selector(f"a.run-link:text-is('{theirs}')")
    assert page.locator(f"a.run-link:text-is('{mine}')").count() == 0
    assert page.evaluate("sessionStorage.getItem('dagy.org')") == other
    assert "Second team" in page.inner_text("#who")
    assert page.errors == []


def test_studio_tier_attachments_and_bind_flow_work_against_the_api(
    web_server: ServerProcess, page: Any
):
    token = web_server.login(OWNER, PASSWORD)

    def session(sid: str) -> Any:
        status, _, body = web_server.request("GET", f"/ai-studio/sessions/{sid}", token=token)
        assert status == 200, body
        return body

    sign_in(page, web_server)
    page.goto(web_server.url.rstrip("/") + "/#/studio")
    page.click(".st-new")
    page.wait_for_selector("dagy-studio[data-session-id] .st-extras:not([hidden])")
    sid = page.get_attribute("dagy-studio", "data-session-id")
    studio = page.locator("dagy-studio")

    # tiers: the API's, the session's marked; a change is stored
    _, _, tiers = web_server.request("GET", "/ai-studio/tiers", token=token)
    names = [t["tier"] for t in tiers["items"]]
    options = page.locator(".st-tier option").evaluate_all("os => os.map(o => o.value)")
    assert options == names
    assert page.input_value(".st-tier") == tiers["default_tier"]
    other = next(n for n in names if n != tiers["default_tier"])
    page.select_option(".st-tier", other)
    page.wait_for_selector(f"dagy-studio[data-tier='{other}']")
    assert session(sid)["tier"] == other
    assert "25 MB" in page.inner_text(".st-attach-limits")

    # an attachment: initiated, uploaded to its signed URL, completed (parsed), then removed
    page.set_input_files(
        ".st-attach",
        files=[
            {"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Orders\nid is key\n"}
        ],
    )
    # ready, or the page's own error: a failure says which step refused
    page.wait_for_selector(
        ".st-attachment[data-status='ready'], .st-attach-error:not(:empty)", timeout=60_000
    )
    shown = page.inner_text(".st-attachments"), page.inner_text(".st-attach-error")
    assert "ready" in shown[0] and not shown[1], (shown, session(sid)["attachments"], page.errors)
    attached = session(sid)["attachments"]
    assert [(a["file_name"], a["status"]) for a in attached] == [("notes.md", "ready")]
    assert attached[0]["text_chars"] > 0
    # an image is refused by the API, its message shown
    page.set_input_files(
        ".st-attach", files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"\x89PNG"}]
    )
    page.wait_for_selector(".st-attach-error:not(:empty)")
    assert "Images are not supported" in page.inner_text(".st-attach-error")
    assert len(session(sid)["attachments"]) == 1
    page.click(".st-attachment .st-remove")
    page.wait_for_selector(".st-attachment", state="detached")
    assert session(sid)["attachments"] == []

    # bind-flow: refused without a name (inline), then saved and deployed after a turn
    page.click(".st-bind")
    page.wait_for_selector(".st-bind-result.error:not(:empty)")
    assert "flow_name" in page.inner_text(".st-bind-result")
    page.fill(
        ".st-input",
        "Build a workflow that reads JSON from s3://acme-raw/in.json and writes to s3://acme-clean/out.json",
    )
    page.click(".st-send")
    page.wait_for_selector(".st-valid")
    page.fill(".st-flow-name", "studio_bound")
    page.check(".st-bind-deploy")
    page.click(".st-bind")
    page.wait_for_selector("dagy-studio[data-flow-name='studio_bound']")
    assert "Deployed version" in page.inner_text(".st-bind-result")
    assert session(sid)["flow_name"] == "studio_bound"
    status, _, flow = web_server.request("GET", "/flows/studio_bound/latest", token=token)
    assert status == 200, flow
    assert studio.locator(".st-draft-link").count() == 1
    assert page.errors == []


def test_a_viewer_gets_no_studio_writes(web_server: ServerProcess, page: Any):
    web_server.create_user("viewer-studio@example.com", "viewer", PASSWORD)
    owner = web_server.login(OWNER, PASSWORD)
    status, _, made = web_server.request(
        "POST", "/ai-studio/sessions", token=owner, body={"title": "Shared"}
    )
    assert status == 201, made
    sign_in(page, web_server, "viewer-studio@example.com", PASSWORD)
    page.goto(web_server.url.rstrip("/") + "/#/studio")
    page.wait_for_selector("dagy-studio .st-main")
    assert page.locator(".st-new, .st-send, .st-attach, .st-bind, .st-remove").count() == 0
    assert page.errors == []
