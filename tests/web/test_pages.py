"""The settings-like pages (schedules, sensors, environments, secrets, notifications, access, usage,
admin) in a real Chromium against one real `dagy serve`: what a user sees, and what the store holds
after they click."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import PASSWORD, add_user, build_spec, write_flows
from tests.web.conftest import WAIT_MS, need_browser

XSS = "<img src=x onerror=alert(1)>"
# Every button on a page but those of forms that change nothing (filters) and paging: a viewer
# must see none of them.
WRITE_BUTTONS = "#page button:not(form.read-form button):not(.more)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One multi-user server: owner, viewer and a super admin in the personal org; flow `etl`."""
    need_browser()
    home = tmp_path_factory.mktemp("web-pages") / "home"
    srv = start_server(home, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_TEST_FAULTS": "1"})
    try:
        add_user(srv, "owner@example.com", "owner")
        add_user(srv, "viewer@example.com", "viewer")
        status, _, body = srv.request(
            "POST",
            "/_local/users",
            token=srv.local_token,
            body={
                "email": "root@example.com",
                "password": PASSWORD,
                "role": "owner",
                "org_id": "personal",
                "super_admin": True,
            },
        )
        assert status == 201, body
        spec = build_spec(write_flows(home.parent / "code"))
        owner = srv.login("owner@example.com", PASSWORD)
        status, _, body = srv.request("POST", "/flows", token=owner, body={"flow_spec": spec})
        assert status == 201, body
        yield srv
    finally:
        srv.stop()


class User:
    """One signed-in browser tab, with the dialogs it raised (there must be none)."""

    def __init__(self, chromium: Any, server: ServerProcess, email: str) -> None:
        self.server = server
        self.context = chromium.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []  # uncaught script errors and CSP violations
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console",
            lambda msg: (
                self.errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        self.page.goto(server.url + "/#/sign-in")
        self.page.fill("#sign-in input[name=email]", email)
        self.page.fill("#sign-in input[name=password]", PASSWORD)
        self.page.click("#sign-in button[type=submit]")
        self.page.wait_for_selector("#sign-out")
        self.token = server.login(email, PASSWORD)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str, ready: str) -> Any:
        """Go to ``#path`` and wait until ``ready`` (a selector) shows."""
        self.page.goto(f"{self.server.url}/#{path}")
        self.page.wait_for_selector(ready)
        return self.page

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, answer = self.server.request(method, path, token=self.token, body=body)
        return status, answer

    def close(self) -> None:
        """Close the tab; it must have raised no dialog, script error or CSP violation."""
        self.context.close()
        assert (self.dialogs, self.errors) == ([], [])


@pytest.fixture
def owner(chromium: Any, server: ServerProcess) -> Iterator[User]:
    user = User(chromium, server, "owner@example.com")
    yield user
    user.close()


def test_a_schedule_created_and_paused_in_the_ui_is_changed_in_the_store(owner: User) -> None:
    page = owner.open("/schedules", "#new-schedule")
    form = page.locator("#new-schedule")
    form.locator("input[name=schedule_id]").fill("nightly")
    form.locator("input[name=flow_name]").fill("etl")
    form.locator("select[name=mode]").select_option("cron")
    form.locator("input[name=cron_expression]").fill("0 2 * * *")
    form.locator("input[name=timezone]").fill("Europe/Berlin")
    form.locator("input[name=description]").fill(XSS)
    form.locator("button[type=submit]").click()

    row = page.locator("tr", has_text="nightly")
    row.locator("button.pause").wait_for()
    status, stored = owner.api("GET", "/schedules/nightly")
    assert status == 200, stored
    assert stored["enabled"] is True
    assert (stored["flow_name"], stored["cron_expression"]) == ("etl", "0 2 * * *")
    assert stored["timezone"] == "Europe/Berlin"

    row.locator("button.pause").click()
    row.locator("button.resume").wait_for()
    status, stored = owner.api("GET", "/schedules/nightly")
    assert (status, stored["enabled"]) == (200, False)

    # The description went in as typed and comes back as those characters, never as an element.
    assert stored["description"] == XSS
    assert row.locator(".description").inner_text() == XSS
    assert page.locator("#page img").count() == 0
    assert owner.dialogs == []


def test_names_with_markup_render_as_text_and_no_script_runs(owner: User) -> None:
    status, body = owner.api(
        "POST", "/sensors", {"name": XSS, "sensor_type": "webhook", "flow_name": "etl"}
    )
    assert status == 201, body
    status, body = owner.api(
        "POST",
        "/channels",
        {
            "name": XSS,
            "channel_type": "webhook",
            "config_json": {
                "url": "https://example.com/hook",
                "secret": "a-long-enough-secret-1234567890",
            },
        },
    )
    assert status == 201, body

    for path, selector in (("/sensors", "#new-sensor"), ("/notifications", "#new-channel")):
        page = owner.open(path, selector)
        cell = page.locator("td .name", has_text="<img").first
        assert cell.inner_text() == XSS
        assert page.locator("#page img").count() == 0
    assert owner.dialogs == []


def test_a_viewer_sees_no_write_actions_and_a_forced_write_gets_the_apis_403(
    chromium: Any, server: ServerProcess, owner: User
) -> None:
    status, body = owner.api(
        "POST",
        "/schedules",
        {
            "schedule_id": "viewer-sees",
            "flow_name": "etl",
            "mode": "interval",
            "interval_seconds": 3600,
        },
    )
    assert status == 201, body
    for env in ("staging", "production"):
        status, body = owner.api("POST", "/environments", {"env_name": env})
        assert status == 201, body
    viewer = User(chromium, server, "viewer@example.com")
    try:
        page = viewer.open("/schedules", "tr:has-text('viewer-sees')")
        for path, ready in (
            ("/schedules", "tr:has-text('viewer-sees')"),
            ("/environments", "#env-compare"),  # comparing changes nothing: every role may
            ("/environments/staging", "h1:has-text('staging')"),
            ("/usage", "h1:has-text('Usage and billing')"),
            ("/secrets", ".not-allowed"),
            ("/access", ".not-allowed"),
        ):
            page = viewer.open(path, ready)
            assert page.locator(WRITE_BUTTONS).count() == 0, path
            assert page.locator("#page form[id^=new-]").count() == 0, path
        nav = page.locator("#nav").inner_text()
        assert "Schedules" in nav and "Sensors" not in nav and "Admin" not in nav

        # The write the page would not offer, sent anyway from the page with the viewer's token:
        # the API's 403, shown as the API's message.
        page = viewer.open("/schedules", "tr:has-text('viewer-sees')")
        answer = page.evaluate(
            """async () => {
                const { api } = await import("/static/api.js");
                const { action } = await import("/static/ui.js");
                try { await action(() => api("PATCH", "/schedules/viewer-sees", {enabled: false})); }
                catch (e) { return {status: e.status, error: e.error, message: e.message}; }
                return null;
            }"""
        )
        assert answer is not None and answer["status"] == 403, answer
        assert answer["error"] == "forbidden"
        page.locator(".toast.error", has_text=answer["message"]).wait_for()
        status, stored = owner.api("GET", "/schedules/viewer-sees")
        assert (status, stored["enabled"]) == (200, True)
        assert viewer.dialogs == []
    finally:
        viewer.close()


def test_a_super_admin_suspends_and_activates_an_org_from_the_admin_page(
    chromium: Any, server: ServerProcess
) -> None:
    root = User(chromium, server, "root@example.com")
    try:
        status, org = root.api("POST", "/orgs", {"org_name": "Acme Suspendable"})
        assert status == 201, org
        org_id = org["org_id"]
        page = root.open("/admin?search=Suspendable", "tr:has-text('Acme Suspendable')")
        assert page.locator("tbody tr").count() == 1  # the search filter went to the API
        page.locator("tr", has_text="Acme Suspendable").locator("button.pause").click()
        page.locator("tr", has_text="Acme Suspendable").locator("button.resume").wait_for()
        status, body = root.api("GET", f"/admin/customers/{org_id}")
        assert (status, body["status"]) == (200, "suspended")
        page.locator("tr", has_text="Acme Suspendable").locator("button.resume").click()
        page.locator("tr", has_text="Acme Suspendable").locator("button.pause").wait_for()
        status, body = root.api("GET", f"/admin/customers/{org_id}")
        assert (status, body["status"]) == (200, "active")

        # A server fault's trace is listed, and its content opens, markup and all as text.
        status, body = root.api("POST", "/_test/fault", {"message": XSS})
        assert status == 500, body
        page = root.open("/admin/exceptions", "tr:has-text('RuntimeError')")
        page.locator("tr", has_text="RuntimeError").first.locator("button").click()
        page.locator("#trace pre.json", has_text="RuntimeError").wait_for()
        assert XSS in page.locator("#trace pre.json").inner_text()
        assert page.locator("#page img").count() == 0
        assert root.dialogs == []
    finally:
        root.close()


def test_a_secret_value_never_reaches_the_page_and_a_new_api_key_shows_once(owner: User) -> None:
    requested: list[str] = []
    owner.page.on("request", lambda request: requested.append(request.url))
    page = owner.open("/secrets", "#new-secret")
    form = page.locator("#new-secret")
    form.locator("input[name=secret_name]").fill("warehouse-password")
    form.locator("input[name=value]").fill("hunter2-not-for-eyes")
    form.locator("button[type=submit]").click()
    page.locator("tr", has_text="warehouse-password").wait_for()
    status, body = owner.api("GET", "/secrets/warehouse-password/value")
    assert (status, body["value"]) == (200, "hunter2-not-for-eyes")
    assert "hunter2-not-for-eyes" not in page.content()
    assert not [url for url in requested if url.endswith("/value")]

    page = owner.open("/access", "#new-api-key")
    page.locator("#new-api-key input[name=name]").fill("CI deploys")
    page.locator("#new-api-key label.scope", has_text="flows.read").locator("input").check()
    page.locator("#new-api-key button[type=submit]").click()
    key = page.locator(".secret-once").inner_text()
    status, body = owner.api("GET", "/api-keys")
    assert status == 200, body
    made = [k for k in body["items"] if k["name"] == "CI deploys"]
    assert len(made) == 1 and made[0]["scopes"] == ["flows.read"]
    assert key.startswith(made[0]["key_prefix"].rstrip("*"))
    status, _, me = owner.server.request("GET", "/users/me", token=key)
    assert (status, me["user_email"]) == (200, "owner@example.com")
    page.reload()  # gone once the page is left
    page.locator("tr", has_text="CI deploys").wait_for()
    assert page.locator(".secret-once").count() == 0
    assert key not in page.content()


def test_a_schedule_and_an_environment_are_edited_with_the_apis_errors_inline(
    owner: User,
) -> None:
    body = {
        "schedule_id": "editable",
        "flow_name": "etl",
        "mode": "cron",
        "cron_expression": "0 9 * * *",
        "timezone": "UTC",
    }
    status, answer = owner.api("POST", "/schedules", body)
    assert status == 201, answer
    page = owner.open("/schedules", "tr:has-text('editable')")
    page.locator("tr:has-text('editable') button.edit").click()
    form = page.locator("#edit-schedule")
    form.wait_for()
    assert form.locator("input[name=cron_expression]").input_value() == "0 9 * * *"

    def error_of(field: str) -> str:
        slot = form.locator(f".field-error[data-field={field}]")
        page.wait_for_selector(f"#edit-schedule .field-error[data-field={field}]:not(:empty)")
        return str(slot.inner_text())

    # the API's refusal, under its field; nothing stored
    form.locator("input[name=cron_expression]").fill("every tuesday")
    form.locator("button[type=submit]").click()
    assert error_of("cron_expression")
    assert "cron" in form.locator(".form-error").inner_text().lower()
    form.locator("input[name=cron_expression]").fill("30 6 * * 1-5")
    form.locator("input[name=timezone]").fill("Mars/Olympus")
    form.locator("button[type=submit]").click()
    assert "Mars/Olympus" in error_of("timezone")
    assert form.locator(".field-error[data-field=cron_expression]").inner_text() == ""
    status, stored = owner.api("GET", "/schedules/editable")
    assert (stored["cron_expression"], stored["timezone"]) == ("0 9 * * *", "UTC")
    # JSON that does not parse is refused in the form
    form.locator("textarea[name=parameters]").fill("{n: 5")
    form.locator("button[type=submit]").click()
    assert error_of("parameters") == "not valid JSON"

    form.locator("input[name=timezone]").fill("Europe/Paris")
    form.locator("textarea[name=parameters]").fill('{"n": 5}')
    form.locator("input[name=enabled]").uncheck()
    form.locator("button[type=submit]").click()
    page.locator(".toast.ok", has_text="Schedule editable saved").wait_for()
    status, stored = owner.api("GET", "/schedules/editable")
    assert status == 200
    assert stored["cron_expression"] == "30 6 * * 1-5"
    assert stored["timezone"] == "Europe/Paris"
    assert stored["parameters"] == {"n": 5}
    assert stored["enabled"] is False

    status, answer = owner.api("POST", "/environments", {"env_name": "editenv"})
    assert status == 201, answer
    page = owner.open("/environments/editenv", "#edit-environment")
    form = page.locator("#edit-environment")
    form.locator("input[name=default_executor]").fill("no spaces please")
    form.locator("button[type=submit]").click()
    slot = "#edit-environment .field-error[data-field=default_executor]:not(:empty)"
    page.wait_for_selector(slot)
    assert "executor" in page.locator(slot).inner_text()
    form.locator("input[name=default_executor]").fill("subprocess")
    form.locator("textarea[name=config_json]").fill('{"region": "eu-west-1"}')
    form.locator("input[name=is_protected]").check()
    form.locator("button[type=submit]").click()
    page.locator(".toast.ok", has_text="Environment editenv saved").wait_for()
    status, env = owner.api("GET", "/environments/editenv")
    assert status == 200
    assert env["default_executor"] == "subprocess"
    assert env["config_json"] == {"region": "eu-west-1"}
    assert env["is_protected"] is True
