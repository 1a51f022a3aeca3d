"""`dagy login` end to end: a real server, the real CLI, and headless Chromium filling the page."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from conftest import REPO, ServerProcess, dagy_cmd
from selenium.webdriver.common.by import By


def _login_process(server: ServerProcess, home: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DAGY_LOCAL_DIR": str(home),
        "DAGY_APP_URL": server.url,
        "DAGY_API_URL": server.api_url,
        "DAGY_KEYRING": "0",
        "BROWSER": "true",  # a browser that opens nothing: the test's Chromium does the signing in
        "DAGY_LOGIN_TIMEOUT": "60",
    }
    return subprocess.Popen(
        [*dagy_cmd(), "login"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(REPO),
    )


def _sign_in_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"visit: (\S+)", line)
        if found:
            return found.group(1)
        assert line or proc.poll() is None, "dagy login exited before printing the URL"
    raise AssertionError("dagy login printed no sign-in URL")


def test_browser_login_ends_with_a_working_token(server: ServerProcess, browser: Any) -> None:
    proc = _login_process(server, server.home)
    url = _sign_in_url(proc)
    assert url.startswith(server.url + "/sign-in?cli_callback=http%3A%2F%2F127.0.0.1%3A")

    browser.get(url)
    browser.find_element(By.ID, "email").send_keys("owner@example.com")
    browser.find_element(By.ID, "password").send_keys("wrong-password")
    browser.find_element(By.ID, "sign-in").click()
    # A wrong password keeps the browser on the page with the error; the CLI keeps waiting.
    assert "Email not found or unauthorized" in browser.find_element(By.CLASS_NAME, "error").text
    assert proc.poll() is None

    browser.find_element(By.ID, "email").send_keys("owner@example.com")
    browser.find_element(By.ID, "password").send_keys("password-123")
    browser.find_element(By.ID, "sign-in").click()

    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "Login successful!"
    assert browser.current_url.startswith("http://127.0.0.1:")  # landed on the CLI's callback
    assert "/callback?code=" in browser.current_url

    credentials = server.home / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o600
    status = subprocess.run(
        [*dagy_cmd(), "auth", "status"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "DAGY_LOCAL_DIR": str(server.home),
            "DAGY_API_URL": server.api_url,
            "DAGY_KEYRING": "0",
        },
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "owner@example.com" in status.stdout and "owner" in status.stdout

    # The stored token works against the API, and `dagy logout` revokes it on the server.
    import json

    token = json.loads(credentials.read_text())["access_token"]
    assert server.request("GET", "/me", token=token)[0] == 200
    logout = subprocess.run(
        [*dagy_cmd(), "logout"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "DAGY_LOCAL_DIR": str(server.home),
            "DAGY_API_URL": server.api_url,
            "DAGY_KEYRING": "0",
        },
        timeout=60,
    )
    assert logout.returncode == 0 and logout.stdout.strip() == "Logged out"
    assert server.request("GET", "/me", token=token)[0] == 401
    assert not credentials.exists()

    # The audit trail: the code the page issued (as the browser), the session the CLI traded it
    # for, and that session's logout; the refused password left no row.
    reader = server.login("owner@example.com")
    status, _, body = server.request("GET", "/audit-logs?limit=100", token=reader)
    assert status == 200, body
    rows = [
        r for r in body["items"] if r["changes"] == {"method": "browser"} or r["action"] == "logout"
    ]
    assert {(r["actor_email"], r["ip_address"]) for r in rows} == {
        ("owner@example.com", "127.0.0.1")
    }
    got = sorted((r["action"], r["resource_type"], r["resource_name"]) for r in rows)
    assert got == [
        ("create", "login_code", "owner@example.com"),
        ("login", "session", "owner@example.com"),
        ("logout", "session", "owner@example.com"),
    ]
    by_action = {r["action"]: r for r in rows}
    assert by_action["create"]["resource_id"] is None
    assert "Chrome" in by_action["create"]["user_agent"]
    assert by_action["login"]["resource_id"].startswith("tok_")
    assert by_action["logout"]["resource_id"] == by_action["login"]["resource_id"]


def test_cancel_in_the_browser_fails_the_cli_login(server: ServerProcess, browser: Any) -> None:
    proc = _login_process(server, server.home)
    browser.get(_sign_in_url(proc))
    browser.find_element(By.ID, "cancel").click()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1] == "Login failed: Sign-in was cancelled in the browser"
    assert not (server.home / "credentials").exists()


def test_sign_in_page_refuses_a_non_loopback_callback(server: ServerProcess, browser: Any) -> None:
    browser.get(
        server.url + "/sign-in?cli_callback=http%3A%2F%2Fevil.example%2Fcb&state=s"
        "&code_challenge=" + "A" * 43 + "&code_challenge_method=S256"
    )
    assert "not valid" in browser.find_element(By.CLASS_NAME, "error").text
    assert not browser.find_elements(By.ID, "password")
