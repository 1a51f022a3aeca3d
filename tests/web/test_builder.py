"""The flow designer and the AI studio in a real browser (Playwright driving Debian's Chromium)
against a real `dagy serve`: a three-node pipeline (file_ingest -> deduplicator -> file_write on
files of the test) is built by drag and drop, shows its validation errors on the nodes, refuses a
wrong connection with the rule's message, is saved, deployed and run, and the run succeeds (the run
row and the written file); an AI studio turn streams its answer, shows its validation and YAML, and
its canvas opens in the designer with its nodes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import PASSWORD, add_user
from tests.web.conftest import need_browser, sign_in

WAIT = 60_000  # ms: generous, on conditions, never a sleep
EMAIL = "builder@example.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    need_browser()
    home = tmp_path_factory.mktemp("builder-web") / "home"
    env = {
        "DAGY_RATE_LIMIT_PER_MINUTE": "0",
        "DAGY_ARTIFACT_STORE": "local",
        "DAGY_LOCAL_KEEP_RUNS": "0",
    }
    server = start_server(home, env=env)
    add_user(server, EMAIL, "owner")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(served: ServerProcess, chromium: Any) -> Iterator[Any]:
    """One page for the module (the tests follow one user's session), signed in as an owner;
    uncaught script errors and CSP violations are collected in ``page.errors``."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: (
            pg.errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    sign_in(pg, served, EMAIL, PASSWORD)
    yield pg
    context.close()


# the studio page has loaded the session its list marks as current
OPENED = (
    "() => document.querySelector('dagy-studio').dataset.sessionId === "
    "document.querySelector('.st-session[aria-current=true]')?.dataset.sessionId"
)


def api_get(server: ServerProcess, token: str, path: str) -> Any:
    status, _, body = server.request("GET", path, token=token)
    assert status == 200, (path, body)
    return body


def drag(page: Any, source: Any, to: tuple[float, float]) -> None:
    """Press on ``source``'s centre, move in steps to the page point ``to``, release."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(to[0], to[1], steps=8)
    page.mouse.up()


def centre(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'.dz-node[data-node-id="{node_id}"]')


def port(page: Any, node_id: str, connector: str) -> Any:
    return page.locator(
        f'.dz-node[data-node-id="{node_id}"] .dz-port[data-connector="{connector}"]'
    )


def select_node(page: Any, node_id: str) -> None:
    node(page, node_id).locator(".dz-node-id").click()
    page.wait_for_selector(f'form.dz-form[data-node-id="{node_id}"]')


def test_a_dragged_three_node_pipeline_is_saved_deployed_run_and_succeeds(
    served: ServerProcess, page: Any, tmp_path: Path
) -> None:
    source = tmp_path / "orders.json"
    source.write_text(
        json.dumps([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "a"}]),
        encoding="utf-8",
    )
    target = tmp_path / "out" / "unique.json"

    page.goto(served.url.rstrip("/") + "/#/designer")
    page.wait_for_selector('.dz-category[data-category="ingestion"] [data-node-type="file_ingest"]')
    assert page.locator('.dz-category[data-category="transform"]').count() == 1
    # search narrows the palette
    page.fill(".dz-search", "dedupe")
    page.wait_for_selector('.dz-palette-item[data-node-type="file_ingest"]', state="detached")
    assert page.locator(".dz-palette-item").count() >= 1
    page.fill(".dz-search", "")

    canvas = page.locator(".dz-canvas").bounding_box()
    left, top, width = canvas["x"], canvas["y"], canvas["width"]
    for node_type, x in (("file_ingest", 0.15), ("deduplicator", 0.5), ("file_write", 0.85)):
        item = page.locator(f'.dz-palette-item[data-node-type="{node_type}"]')
        drag(page, item, (left + x * width, top + 120))
        page.wait_for_selector(f'.dz-node[data-node-id="{node_type}_1"]')

    # a refused connection shows the rule's message (inbound -> inbound)
    drag(
        page, port(page, "file_write_1", "data_in"), centre(port(page, "deduplicator_1", "data_in"))
    )
    status = page.locator(".dz-status")
    page.wait_for_function(
        "() => document.querySelector('.dz-status').textContent.includes('Connection refused')"
    )
    assert "direction:" in status.text_content()
    assert page.locator(".dz-edge").count() == 0

    drag(
        page,
        port(page, "file_ingest_1", "data_out"),
        centre(port(page, "deduplicator_1", "data_in")),
    )
    page.wait_for_selector(
        '.dz-edge[data-source="file_ingest_1"][data-target="deduplicator_1"]', state="attached"
    )
    drag(
        page,
        port(page, "deduplicator_1", "data_out"),
        centre(port(page, "file_write_1", "data_in")),
    )
    page.wait_for_selector(
        '.dz-edge[data-source="deduplicator_1"][data-target="file_write_1"]', state="attached"
    )

    page.fill(".dz-name", "Drawn dedupe")
    page.fill(".dz-flow", "drawn-dedupe")
    # saved before it is configured: the missing required paths show on their nodes
    page.click(".dz-save")
    page.wait_for_selector('.dz-node.dz-invalid[data-node-id="file_ingest_1"]')
    assert "required field 'uri'" in page.locator(".dz-problems").text_content()
    assert page.locator('.dz-node.dz-invalid[data-node-id="file_write_1"]').count() == 1

    select_node(page, "file_ingest_1")
    page.fill('form.dz-form input[name="uri"]', source.as_uri())
    select_node(page, "deduplicator_1")
    page.fill('form.dz-form input[name="keys"]', "id")
    select_node(page, "file_write_1")
    page.fill('form.dz-form input[name="uri"]', target.as_uri())
    page.select_option('form.dz-form select[name="format"]', "json")

    page.click(".dz-save")
    page.wait_for_function(
        "() => /Saved draft \\S+: valid/.test(document.querySelector('.dz-status').textContent)"
    )
    assert page.locator(".dz-node.dz-invalid").count() == 0

    page.click(".dz-deploy")
    page.wait_for_function(
        "() => document.querySelector('.dz-status').textContent.includes('Deployed drawn-dedupe')"
    )
    page.click(".dz-run-btn")
    page.wait_for_selector(".dz-run-link")
    run_id = page.locator(".dz-run-link").get_attribute("data-run-id")
    token = served.login(EMAIL)
    page.wait_for_function(
        "() => ['completed', 'failed', 'cancelled']"
        ".includes(document.querySelector('.dz-run-state')?.dataset.status)"
    )
    assert page.locator(".dz-run-state").get_attribute("data-status") == "completed", api_get(
        served, token, f"/runs/{run_id}"
    )
    assert page.locator(".dz-run-link").get_attribute("href") == f"#/runs/{run_id}"

    run = api_get(served, token, f"/runs/{run_id}")
    assert run["status"] == "completed"
    assert run["output"]["file_write_1"]["rows"] == 2
    assert json.loads(target.read_text()) == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    drafts = api_get(served, token, "/dag-drafts")["items"]
    draft = next(d for d in drafts if d["name"] == "Drawn dedupe")
    stored = api_get(served, token, f"/dag-drafts/{draft['draft_id']}")
    assert stored["deployed_flow_version"] == "1.0.0"
    assert [n["type"] for n in stored["canvas_json"]["nodes"]] == [
        "file_ingest",
        "deduplicator",
        "file_write",
    ]
    assert stored["canvas_json"]["nodes"][1]["data"]["keys"] == ["id"]

    # the run's link opens CORE's run page with the run's task runs
    page.click(".dz-run-link")
    page.wait_for_function(
        "() => (document.querySelector('dagy-run')?.textContent || '').includes('deduplicator_1')"
    )
    assert page.url.endswith(f"#/runs/{run_id}")
    assert not page.errors  # type: ignore[attr-defined]


def test_an_ai_studio_turn_streams_a_pipeline_that_opens_in_the_designer(
    served: ServerProcess, page: Any
) -> None:
    page.goto(served.url.rstrip("/") + "/#/studio")
    page.click(".st-new")
    page.wait_for_function(OPENED)
    page.fill(
        ".st-input",
        "Build a workflow that reads JSON from s3://acme-raw/in.json, deduplicates by order_id, "
        "and writes to s3://acme-clean/out.json",
    )
    # remember what the answer's bubble showed while the stream was still open
    page.evaluate(
        """() => {
        window.__streamed = [];
        new MutationObserver(() => {
          const live = document.querySelector('.st-msg.st-streaming');
          if (live && live.textContent) window.__streamed.push(live.textContent);
        }).observe(document.querySelector('.st-history'),
                   {subtree: true, childList: true, characterData: true});
      }"""
    )
    page.click(".st-send")
    page.wait_for_selector(".st-valid")
    page.wait_for_selector(".st-streaming", state="detached")
    answer = page.locator(".st-msg.st-assistant").last.text_content()
    assert answer.strip()
    streamed = page.evaluate("window.__streamed")
    assert streamed and answer.startswith(streamed[0].strip())  # text shown before the result
    assert "<" not in page.locator(".st-msg.st-user").last.inner_html()
    yaml = page.locator(".st-yaml").text_content()
    assert "node: s3_ingest" in yaml and "node: deduplicator" in yaml and "node: s3_write" in yaml

    page.click(".st-open")
    page.wait_for_selector('.dz-node[data-node-type="s3_ingest"]')
    types = page.locator(".dz-node").evaluate_all("els => els.map(e => e.dataset.nodeType)")
    assert {"s3_ingest", "deduplicator", "s3_write"} <= set(types)
    assert page.locator(".dz-edge").count() == len(types) - 1

    # the opened canvas saves as a draft of its own
    page.fill(".dz-name", "From the studio")
    page.click(".dz-save")
    page.wait_for_function(
        "() => document.querySelector('.dz-status').textContent.includes('Saved draft')"
    )
    token = served.login(EMAIL)
    drafts = api_get(served, token, "/dag-drafts")["items"]
    draft = next(d for d in drafts if d["name"] == "From the studio")
    stored = api_get(served, token, f"/dag-drafts/{draft['draft_id']}")
    assert {n["type"] for n in stored["canvas_json"]["nodes"]} == set(types)

    # a new canvas is empty; the saved draft opens again from the drafts list
    page.click(".dz-new")
    page.wait_for_selector(".dz-node", state="detached")
    page.select_option(".dz-drafts", label="From the studio")
    page.wait_for_selector('.dz-node[data-node-type="deduplicator"]')
    assert page.locator(".dz-node").count() == len(types)
    assert page.input_value(".dz-name") == "From the studio"
    assert not page.errors  # type: ignore[attr-defined]


def test_a_turn_sent_while_a_new_session_is_being_made_goes_to_that_session(
    served: ServerProcess, page: Any
) -> None:
    """The UI must not send the turn to the session shown before (whose answer the new
    session's opening then wiped: CI saw the studio test above fail that way)."""
    page.goto(served.url.rstrip("/") + "/#/studio")
    page.wait_for_selector(".st-new")
    held: list[Any] = []

    def hold_first_create(route: Any) -> None:
        if route.request.method == "POST" and not held:
            held.append(route)  # answered below, once the turn has been sent
        else:
            route.continue_()

    page.route("**/ai-studio/sessions", hold_first_create)
    try:
        page.click(".st-new")
        while not held:  # the click's POST reached the route (no timing: we wait for it)
            page.wait_for_timeout(20)
        page.fill(".st-input", "Build a workflow that reads JSON from s3://acme-raw/x.json")
        page.click(".st-send")
        held[0].continue_()
    finally:
        page.unroute("**/ai-studio/sessions")
    page.wait_for_selector(".st-valid")
    page.wait_for_selector(".st-streaming", state="detached")
    assert page.locator(".st-msg.st-assistant").last.text_content().strip()
    session_id = page.evaluate("document.querySelector('dagy-studio').dataset.sessionId")
    token = served.login(EMAIL)
    history = api_get(served, token, f"/ai-studio/sessions/{session_id}")["history"]
    assert [m["role"] for m in history][-2:] == ["user", "assistant"]
    assert not page.errors  # type: ignore[attr-defined]


def test_config_forms_follow_each_fields_type_and_labels_render_as_text(
    served: ServerProcess, page: Any
) -> None:
    page.goto(served.url.rstrip("/") + "/#/designer")
    page.wait_for_selector('.dz-palette-item[data-node-type="http_fetch"]')
    page.click(".dz-new")
    canvas = page.locator(".dz-canvas").bounding_box()
    for node_type, x in (("http_fetch", 0.2), ("data_normalizer", 0.6)):
        item = page.locator(f'.dz-palette-item[data-node-type="{node_type}"]')
        drag(page, item, (canvas["x"] + x * canvas["width"], canvas["y"] + 150))
        page.wait_for_selector(f'.dz-node[data-node-id="{node_type}_1"]')

    select_node(page, "http_fetch_1")
    form = page.locator('form.dz-form[data-node-id="http_fetch_1"]')
    xss = "<img src=x onerror=alert(1)>"
    form.locator('input[name="__label"]').fill(xss)
    form.locator('input[name="url"]').fill("https://example.invalid/${params.day}")
    form.locator('textarea[name="headers"]').fill("{not json")
    assert "must be valid JSON" in form.text_content()
    form.locator('textarea[name="headers"]').fill('{"X-Team": "data"}')
    form.locator('textarea[name="body"]').fill('[1, {"a": true}]')
    form.locator('input[name="timeout_seconds"]').fill("12.5")
    form.locator('input[name="max_bytes"]').fill("1.5")
    assert "must be an integer" in form.text_content()
    form.locator('input[name="max_bytes"]').fill("1000")
    form.locator('select[name="method"]').select_option("POST")
    form.locator('input[name="settings.retries"]').fill("2")

    select_node(page, "data_normalizer_1")
    form = page.locator('form.dz-form[data-node-id="data_normalizer_1"]')
    form.locator('input[name="lowercase_keys"]').uncheck()
    form.locator('input[name="drop_nulls"]').check()
    drag(
        page,
        port(page, "http_fetch_1", "data_out"),
        centre(port(page, "data_normalizer_1", "data_in")),
    )
    page.wait_for_selector(".dz-edge", state="attached")

    page.fill(".dz-name", xss)
    page.click(".dz-save")
    page.wait_for_function(
        "() => document.querySelector('.dz-status').textContent.includes('Saved draft')"
    )
    title = node(page, "http_fetch_1").locator(".dz-node-title")
    assert title.text_content() == xss
    assert page.locator("img").count() == 0
    token = served.login(EMAIL)
    drafts = api_get(served, token, "/dag-drafts")["items"]
    draft = next(d for d in drafts if d["name"] == xss)
    nodes = {
        n["id"]: n
        for n in api_get(served, token, f"/dag-drafts/{draft['draft_id']}")["canvas_json"]["nodes"]
    }
    assert nodes["http_fetch_1"]["label"] == xss
    assert nodes["http_fetch_1"]["data"] == {
        "url": "https://example.invalid/${params.day}",
        "method": "POST",
        "headers": {"X-Team": "data"},
        "body": [1, {"a": True}],
        "timeout_seconds": 12.5,
        "max_bytes": 1000,
        "output": "json",
    }
    assert nodes["http_fetch_1"]["settings"] == {"retries": 2}
    assert "settings" not in nodes["data_normalizer_1"]
    normalizer = nodes["data_normalizer_1"]["data"]
    assert normalizer["lowercase_keys"] is False and normalizer["drop_nulls"] is True
    assert not page.errors  # type: ignore[attr-defined]


def test_a_viewer_sees_no_save_deploy_run_or_send_and_a_forced_save_is_refused(
    served: ServerProcess, chromium: Any
) -> None:
    add_user(served, "viewer@example.com", "viewer")
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT)
    pg = context.new_page()
    try:
        sign_in(pg, served, "viewer@example.com", PASSWORD)
        pg.goto(served.url.rstrip("/") + "/#/designer")
        pg.wait_for_selector('.dz-palette-item[data-node-type="file_ingest"]')
        assert pg.locator(".dz-toolbar .dz-fit").count() == 1
        for button in (".dz-save", ".dz-deploy", ".dz-run-btn"):
            assert pg.locator(button).count() == 0
        status = pg.evaluate(
            """async () => (await fetch('/v1/dag-drafts', {method: 'POST',
                 headers: {'Content-Type': 'application/json',
                           Authorization: 'Bearer ' + sessionStorage.getItem('dagy.token')},
                 body: JSON.stringify({name: 'forced'})})).status"""
        )
        assert status == 403
        pg.goto(served.url.rstrip("/") + "/#/studio")
        pg.wait_for_selector(".st-history")
        assert pg.locator(".st-new").count() == 0
        assert pg.locator(".st-send").count() == 0
    finally:
        context.close()


def test_a_refused_studio_turn_shows_its_problems_and_offers_no_canvas(
    served: ServerProcess, page: Any
) -> None:
    page.goto(served.url.rstrip("/") + "/#/studio")
    page.click(".st-new")
    page.wait_for_function(OPENED + " && !document.querySelector('.st-msg')")
    page.fill(".st-input", "frobnicate the quux")
    page.click(".st-send")
    page.wait_for_function("() => document.querySelector('.st-status').textContent")
    assert "Turn refused" in page.locator(".st-status").text_content()
    assert page.locator(".st-invalid").count() == 1
    assert page.locator(".st-msg.st-assistant").last.text_content().strip()
    assert page.locator(".st-open").is_hidden()
    assert not page.errors  # type: ignore[attr-defined]
