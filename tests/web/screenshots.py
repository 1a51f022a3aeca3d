"""Screenshots of every web UI page into docs/images/web-<page>.png: `python -m tests.web.screenshots`.

Not part of the test run. It starts a real `dagy serve` in a temporary home, fills it with a little
of everything through the API (a flow and a run, a schedule, a sensor, an environment, a secret, a
channel and a rule, an API key), signs in with Debian's Chromium and photographs each page. A page
no module registers (yet) is skipped and named.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO, ServerProcess, start_server
from tests.server.flows_support import PASSWORD, add_user, build_spec, write_flows

OUT = REPO / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
# (file name, route, a selector that shows when the page is drawn)
PAGES = [
    ("dashboard", "/", "h1"),
    ("runs", "/runs", "h1"),
    ("run", "/runs/{run_id}", "h1"),
    ("flows", "/flows", "h1"),
    ("deployments", "/deployments", "h1"),
    ("designer", "/designer", ".dz-palette-item"),
    ("studio", "/studio", ".st-extras:not([hidden]) .st-attachment"),
    ("schedules", "/schedules", "#new-schedule"),
    ("sensors", "/sensors", "#new-sensor"),
    ("environments", "/environments", "#new-environment"),
    ("environment", "/environments/staging", "#set-variable"),
    ("secrets", "/secrets", "#new-secret"),
    ("notifications", "/notifications", "#new-rule"),
    ("access", "/access", "#new-api-key"),
    ("usage", "/usage", "svg.bars, .stats"),
    ("admin", "/admin", "#customer-filters"),
    ("admin-customer", "/admin/customers/personal", "#credits"),
    ("admin-exceptions", "/admin/exceptions", "h1"),
]


def _call(server: ServerProcess, token: str, method: str, path: str, body: Any = None) -> Any:
    status, _, answer = server.request(method, path, token=token, body=body)
    if status >= 300:
        raise SystemExit(f"{method} {path}: {status} {answer}")
    return answer


def _fill(server: ServerProcess, code: Path) -> dict[str, str]:
    """A little of everything, through the public API, as root@example.com (owner, super admin)."""
    add_user(server, "viewer@example.com", "viewer")
    _call(
        server,
        server.local_token,
        "POST",
        "/_local/users",
        {
            "email": "root@example.com",
            "password": PASSWORD,
            "role": "owner",
            "org_id": "personal",
            "super_admin": True,
        },
    )
    token = server.login("root@example.com", PASSWORD)
    call = lambda method, path, body=None: _call(server, token, method, path, body)  # noqa: E731
    call(
        "POST",
        "/flows",
        {"flow_spec": build_spec(write_flows(code)), "deployment_name": "etl-prod"},
    )
    run = call(
        "POST", "/runs", {"flow_name": "etl", "flow_version": "1.0.0", "parameters": {"n": 4}}
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if call("GET", f"/runs/{run['run_id']}")["status"] not in ("queued", "running", "pending"):
            break
        time.sleep(0.5)
    call(
        "POST",
        "/schedules",
        {
            "schedule_id": "nightly-etl",
            "flow_name": "etl",
            "mode": "cron",
            "cron_expression": "0 2 * * *",
            "timezone": "Europe/Berlin",
            "description": "Loads yesterday's orders",
        },
    )
    call(
        "POST",
        "/schedules",
        {
            "schedule_id": "hourly-check",
            "flow_name": "etl",
            "mode": "interval",
            "interval_seconds": 3600,
            "enabled": False,
        },
    )
    call(
        "POST", "/sensors", {"name": "Orders webhook", "sensor_type": "webhook", "flow_name": "etl"}
    )
    call("POST", "/environments", {"env_name": "staging", "default_executor": "local"})
    call("POST", "/environments", {"env_name": "production", "is_protected": True})
    call(
        "PATCH",
        "/environments/staging/variables",
        {"variables": {"LOG_LEVEL": "debug", "REGION": "eu"}},
    )
    call("POST", "/secrets", {"secret_name": "warehouse-password", "value": "not-shown-anywhere"})
    channel = call(
        "POST",
        "/channels",
        {
            "name": "Ops webhook",
            "channel_type": "webhook",
            "config_json": {
                "url": "https://example.com/hook",
                "secret": "a-long-enough-secret-1234567890",
            },
        },
    )
    call(
        "POST",
        "/alert-rules",
        {
            "name": "ETL failures",
            "trigger": "on_failure",
            "channel_ids": [channel["channel_id"]],
            "flow_name": "etl",
        },
    )
    call("POST", "/api-keys", {"name": "CI deploys", "scopes": ["flows.read", "flows.write"]})
    server.request("POST", "/_test/fault", token=token, body={"message": "deliberate fault"})
    # an AI studio session with one turn and one attachment (initiate, PUT, complete)
    studio = call("POST", "/ai-studio/sessions", {"title": "Orders pipeline"})
    sid = studio["session_id"]
    call(
        "POST",
        f"/ai-studio/sessions/{sid}/messages",
        {
            "message": "Build a workflow that reads JSON from s3://acme-raw/in.json, deduplicates "
            "by order_id, and writes to s3://acme-clean/out.json"
        },
    )
    data = b"# Orders\norder_id is unique per day\n"
    started = call(
        "POST",
        f"/ai-studio/sessions/{sid}/attachments/initiate",
        {"file_name": "orders-notes.md", "content_type": "text/markdown", "size_bytes": len(data)},
    )
    server.request("PUT", started["upload_url"], raw=data, headers=started["headers"])
    call(
        "POST",
        f"/ai-studio/sessions/{sid}/attachments/complete",
        {"attachment_id": started["attachment_id"]},
    )
    return {"run_id": run["run_id"]}


def _details(page: Any, server: ServerProcess, ids: dict[str, str]) -> None:
    """Close-ups below the fold: a run's results and files (one viewed), the AI studio session's
    settings (tier, attachments, bind to a flow), a schedule's edit form with the API's error."""
    page.goto(f"{server.url}/#/runs/{ids['run_id']}")
    files = page.locator("#run-files")
    files.locator("button.view-file").last.click()
    files.locator(".file-preview pre").wait_for()
    files.screenshot(path=str(OUT / "web-run-files.png"))
    _shrink(OUT / "web-run-files.png")
    print("docs/images/web-run-files.png")
    page.goto(f"{server.url}/#/studio")
    extras = page.locator(".st-extras:not([hidden])")
    extras.locator(".st-attachment").wait_for()
    extras.locator(".st-flow-name").fill("orders_pipeline")
    extras.screenshot(path=str(OUT / "web-studio-settings.png"))
    _shrink(OUT / "web-studio-settings.png")
    print("docs/images/web-studio-settings.png")
    page.goto(f"{server.url}/#/schedules")
    page.locator("tr:has-text('nightly-etl') button.edit").click()
    form = page.locator("#edit-schedule")
    form.locator("input[name=timezone]").fill("Europe/Atlantis")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#edit-schedule .field-error[data-field=timezone]:not(:empty)")
    page.locator("#schedule-edit").screenshot(path=str(OUT / "web-schedule-edit.png"))
    _shrink(OUT / "web-schedule-edit.png")
    print("docs/images/web-schedule-edit.png")


def _shrink(path: Path) -> None:
    """Down to a 256-colour palette when Pillow is there (the UI's flat colours survive it):
    each image stays well under 80 KB in the repository."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256)
    small.save(path, optimize=True)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(
            Path(tmp) / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_TEST_FAULTS": "1"}
        )
        try:
            ids = _fill(server, Path(tmp) / "code")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.set_default_timeout(20_000)
                page.goto(server.url + "/#/sign-in")
                page.wait_for_selector("#sign-in")
                page.screenshot(path=str(OUT / "web-sign-in.png"))
                _shrink(OUT / "web-sign-in.png")
                page.fill("#sign-in input[name=email]", "root@example.com")
                page.fill("#sign-in input[name=password]", PASSWORD)
                page.click("#sign-in button[type=submit]")
                page.wait_for_selector("#sign-out")
                for name, route, ready in PAGES:
                    page.goto(f"{server.url}/#{route.format(**ids)}")
                    try:
                        page.wait_for_selector(ready)
                        page.wait_for_load_state("networkidle")
                    except Exception:  # noqa: BLE001 - a page not there yet is named, not fatal
                        skipped.append(name)
                        continue
                    if name == "admin-exceptions" and page.locator("#page tbody button").count():
                        page.locator("#page tbody button").first.click()
                        page.wait_for_selector("#trace pre")
                    if page.locator("h1", has_text="Not found").count():
                        skipped.append(name)
                        continue
                    page.screenshot(path=str(OUT / f"web-{name}.png"))
                    _shrink(OUT / f"web-{name}.png")
                    print(f"docs/images/web-{name}.png")
                _details(page, server, ids)
                browser.close()
        finally:
            server.stop()
    if skipped:
        print(
            "not photographed (no such page, or it never drew):",
            ", ".join(skipped),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
