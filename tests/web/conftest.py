"""The web UI's browser tests: one real `dagy serve` and one headless Chromium (Playwright from
PyPI driving Debian's /usr/bin/chromium) per test module.

No browser: the tests skip saying how to get one; under CI (``CI`` set) they fail instead, since a
skipped browser test would hide that the UI never ran. `.ci/run` installs Chromium when missing.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server

CHROMIUM = Path(os.environ.get("DAGY_TEST_CHROMIUM", "/usr/bin/chromium"))
OWNER = "owner@example.com"
PASSWORD = "password-123"
WAIT_MS = 30_000  # generous: two shared cores; every wait is on a condition, never a sleep

WEB_FLOWS = """
    import time
    from pathlib import Path

    from dagy import flow, task


    @task
    def fetch(i: int) -> int:
        print(f"fetching {i}")
        return i


    @task(retries=2)
    def flaky(values: list, marker: str) -> int:
        count = Path(marker)
        seen = int(count.read_text()) if count.exists() else 0
        count.write_text(str(seen + 1))
        print(f"flaky try {seen}")
        if seen < 2:
            raise ValueError("not yet")
        return sum(values)


    @task
    def report(total: int) -> dict:
        print(f"the total is {total}")
        return {"total": total}


    @flow(name="webdemo", version="1.0.0")
    def webdemo(n: int = 12, marker: str = "/nonexistent"):
        return report(flaky([fetch(i) for i in range(n)], marker))


    @task
    def wait_for(gate: str) -> str:
        deadline = time.monotonic() + 120
        while not Path(gate).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(gate)
            time.sleep(0.05)
        return "opened"


    @flow(name="webgated", version="1.0.0")
    def webgated(gate: str = "/nonexistent"):
        return wait_for(gate)
"""


def need_browser() -> None:
    if CHROMIUM.exists():
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            message = "Playwright is missing: `pip install 'playwright>=1.40'` (the dev extra)"
        else:
            return
    else:
        message = (
            f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does it before the "
            "tests), or set DAGY_TEST_CHROMIUM"
        )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def write_web_flows(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "web_flows.py"
    path.write_text(textwrap.dedent(WEB_FLOWS), encoding="utf-8")
    return path


def register_flow(home: Path, target: str, **params: Any) -> None:
    """Register a flow version in ``home``'s store (no server running yet)."""
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import flows
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    flows.register_version(store, "personal", load_flow(target).build(**params))


@pytest.fixture(scope="module")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web") / "home"


@pytest.fixture(scope="module")
def web_flows(web_home: Path) -> Path:
    return write_web_flows(web_home.parent / "code")


@pytest.fixture(scope="module")
def web_server(web_home: Path, web_flows: Path) -> Iterator[ServerProcess]:
    """A multi-user `dagy serve` with owner@example.com and the web flows registered."""
    need_browser()
    web_home.mkdir(parents=True, exist_ok=True)
    register_flow(web_home, f"{web_flows}:webdemo", n=12, marker="/nonexistent")
    register_flow(web_home, f"{web_flows}:webgated", gate="/nonexistent")
    env = {
        "DAGY_SERVER_WORKERS": "2",
        "DAGY_SERVER_CANCEL_GRACE": "3",
        "DAGY_LOCAL_KEEP_RUNS": "0",
        # One owner drives every page of a module through one server: on a fast machine the
        # pages' calls pass 120 a minute and the limiter answers 429 (tests/server tests it).
        "DAGY_RATE_LIMIT_PER_MINUTE": "0",
    }
    server = start_server(web_home, env=env)
    server.create_user(OWNER, "owner", PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (its own sessionStorage) and the page errors it saw."""
    context = chromium.new_context()
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    pg.errors = []  # uncaught script errors and CSP violations fail the test that checks them
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: (
            pg.errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield pg
    context.close()


def sign_in(page: Any, server: ServerProcess, email: str = OWNER, password: str = PASSWORD) -> None:
    page.goto(server.url.rstrip("/") + "/")
    page.fill("#sign-in input[name=email]", email)
    page.fill("#sign-in input[name=password]", password)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#sign-out")
