"""`dagy login`, `dagy logout` and `dagy auth status` through the real command.

A small HTTP server started here plays Dagy's side of the contract (docs/auth.md): the sign-in page
redirects to the CLI's callback with a one-time code, /v1/auth/token checks the PKCE verifier, and
/v1/users/me and /v1/auth/logout answer for the tokens it issued. The test does the browser's job
with urllib, reading the login URL from the CLI's stderr.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import stat
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dagy.config import credentials
from dagy.config.credentials import Credentials
from dagy.config.paths import DagyPaths
from tests.conftest import popen_dagy

VISIT = "If the browser does not open, visit: "
ME = {
    "user_email": "ada@example.com",
    "super_admin": False,
    "org_id": "org-1",
    "org_name": "Acme",
    "role": "admin",
}
# No proxy for loopback, whatever the machine's settings: the CLI and the test both use urllib.
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class FakeDagy:
    """What the fake server was asked, and how it should answer."""

    url: str = ""
    provider_error: tuple[str, str] | None = None
    pending: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> sign-in query
    active: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    logouts: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"


def _handler(fake: FakeDagy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: object = None, headers: dict[str, str] | None = None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _bearer(self) -> str:
            return self.headers.get("Authorization", "").removeprefix("Bearer ")

        def do_GET(self) -> None:  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/sign-in":
                answer = {"state": query["state"]}
                if fake.provider_error:
                    error, description = fake.provider_error
                    answer.update(error=error, error_description=description)
                else:
                    code = secrets.token_urlsafe(16)
                    fake.pending[code] = query
                    answer["code"] = code
                target = f"{query['cli_callback']}?{urllib.parse.urlencode(answer)}"
                self._send(302, headers={"Location": target})
            elif url.path == "/v1/users/me" and self._bearer() in fake.active:
                self._send(200, ME)
            elif url.path == "/v1/users/me":
                self._send(401, {"error": "unauthorized", "message": "Invalid or expired token"})
            else:
                self._send(404, {"error": "not_found", "message": "Not found"})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path == "/v1/auth/token":
                fake.token_requests.append(body)
                asked = fake.pending.pop(body.get("code", ""), None)
                digest = hashlib.sha256(body.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if (
                    asked is None
                    or asked["code_challenge"] != challenge
                    or asked["cli_callback"] != body.get("redirect_uri")
                ):
                    self._send(
                        400,
                        {
                            "error": "invalid_grant",
                            "message": "Invalid authorization code",
                            "detail": "Invalid authorization code",
                        },
                    )
                    return
                token = secrets.token_urlsafe(24)
                fake.active.add(token)
                self._send(
                    200,
                    {
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_at": "2999-03-02T12:00:00Z",
                    },
                )
            elif self.path == "/v1/auth/logout":
                fake.logouts.append(self._bearer())
                if self._bearer() in fake.active:
                    fake.active.discard(self._bearer())
                    self._send(204)
                else:
                    self._send(401, {"error": "unauthorized", "message": "Invalid token"})
            else:
                self._send(404, {"error": "not_found", "message": "Not found"})

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeDagy]:
    state = FakeDagy()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def env(fake: FakeDagy, dagy_home: Path) -> dict[str, str]:
    """The CLI's environment: the fake as API (and so app) URL, a no-op browser, no keyring."""
    return {
        "DAGY_API_URL": fake.api_url,
        "BROWSER": "true",
        "DAGY_KEYRING": "0",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        **NO_PROXY,
    }


class Login:
    """A running `dagy login`, its output read by threads so the test can act in between."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = popen_dagy("login", *args, env=env)
        self.err: list[str] = []
        self.out: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self.out.extend, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self.err.extend, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def url(self, timeout: float = 60, prefix: str = VISIT) -> str:
        """The login URL, from the `If the browser does not open, visit:` line on stderr."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
            if self.proc.poll() is not None and not self._readers[1].is_alive():
                break
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError(f"no login URL on stderr: {''.join(self.err)}")

    def callback(self) -> str:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url()).query))["cli_callback"]

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code, "".join(self.out), "".join(self.err)


def browse(url: str) -> tuple[int, str]:
    """What the browser does with a URL: follow redirects, return the final status and page."""
    try:
        with _direct.open(url, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def save_login(api_url: str, token: str, **fields: str) -> None:
    """Store a login as `dagy login` would, in the file (the test's DAGY_LOCAL_DIR)."""
    login = Credentials(access_token=token, api_url=api_url, **fields)
    assert credentials.save(DagyPaths.from_env(), login, {"DAGY_KEYRING": "0"}).storage == "file"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# --- login --------------------------------------------------------------------------------------


def test_login_exchanges_the_code_with_pkce_and_stores_the_token_0600(env, fake, dagy_home):
    login = Login(env)
    url = login.url()
    assert login.err[0] == "Opening browser for login...\n"
    assert url.startswith(f"{fake.url}/sign-in?")  # the app URL is the API URL without /v1
    query = query_of(url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", query["cli_callback"])
    assert len(query["state"]) >= 43 and query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])

    callback_root = query["cli_callback"].removesuffix("/callback")
    assert browse(f"{callback_root}/favicon.ico")[0] == 404
    assert browse(query["cli_callback"])[0] == 400  # no state, no code: not the callback
    status, page = browse(url)
    assert status == 200 and "Login successful" in page

    code, out, err = login.finish()
    assert (code, out) == (0, "Login successful!\n"), err
    (token,) = fake.active
    assert fake.token_requests[0]["redirect_uri"] == query["cli_callback"]
    assert stat.S_IMODE(os.stat(dagy_home / "credentials").st_mode) == 0o600
    assert json.loads((dagy_home / "credentials").read_text()) == {
        "access_token": token,
        "token_type": "Bearer",
        "expires_at": "2999-03-02T12:00:00Z",
        "api_url": fake.api_url,
        "user_email": "ada@example.com",
        "org_id": "org-1",
        "org_name": "Acme",
        "role": "admin",
        "storage": "file",
    }


def test_no_browser_prints_the_url_once_opens_nothing_and_waits(env, fake, dagy_home, tmp_path):
    opened = tmp_path / "browser-opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    login = Login({**env, "BROWSER": f"{browser} %s"}, "--no-browser")
    url = login.url(prefix="To log in, visit: ")
    status, page = browse(url)
    assert status == 200 and "Login successful" in page
    code, out, err = login.finish()
    assert (code, out) == (0, "Login successful!\n"), err
    assert err.splitlines() == [f"To log in, visit: {url}"]  # no "Opening browser", one URL
    assert not opened.exists()
    assert json.loads((dagy_home / "credentials").read_text())["access_token"] in fake.active


def test_the_browser_flow_prints_the_url_once_when_the_browser_opens(env, fake, tmp_path):
    opened = tmp_path / "browser-opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    login = Login({**env, "BROWSER": f"{browser} %s"})
    url = login.url()
    browse(url)
    code, _, err = login.finish()
    assert code == 0, err
    assert err.splitlines() == ["Opening browser for login...", VISIT + url]
    assert opened.read_text().strip() == url


def test_with_token_and_no_browser_together_are_a_usage_error(run_dagy, env):
    result = run_dagy("login", "--with-token", "--no-browser", input="x\n", env=env)
    assert result.returncode == 2
    assert "--with-token and --no-browser cannot be used together" in result.stderr


def test_a_callback_with_another_state_fails_as_possible_csrf(env, fake, dagy_home):
    login = Login(env)
    status, page = browse(f"{login.callback()}?code=stolen&state=not-the-one")
    code, out, err = login.finish()
    assert code == 1 and out == ""
    assert last_line(err) == "Login failed: State mismatch – possible CSRF attack."
    assert status == 200 and "Login failed" in page and "CSRF" in page
    assert fake.token_requests == [] and not (dagy_home / "credentials").exists()


def test_a_provider_error_fails_with_its_description(env, fake, dagy_home):
    fake.provider_error = ("access_denied", "The user denied access")
    login = Login(env)
    browse(login.url())
    code, _, err = login.finish()
    assert code == 1 and last_line(err) == "Login failed: The user denied access"
    assert not (dagy_home / "credentials").exists()


def test_a_rejected_code_fails_with_the_api_error(env, fake, dagy_home):
    login = Login(env)
    state = query_of(login.url())["state"]
    browse(f"{login.callback()}?code=made-up&state={state}")
    code, _, err = login.finish()
    assert code == 6 and last_line(err) == "Login failed: APIError 400: Invalid authorization code"
    assert not (dagy_home / "credentials").exists()


def test_login_times_out_and_prints_the_url_when_no_browser_opens(run_dagy, env):
    env = {**env, "DAGY_LOGIN_TIMEOUT": "1", "BROWSER": "false", "DISPLAY": "", "DAGY_API_URL": ""}
    result = run_dagy("login", env=env, timeout=60)  # the default wait is 120 s: 1 s was used
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "Opening browser for login..."
    url = lines[1].removeprefix(VISIT)
    assert url.startswith("https://dagy.io/sign-in?cli_callback=")  # the default app URL
    assert lines[2:] == [
        "Could not open a browser: open the URL above to log in.",
        "Login failed: Login timed out – no callback received.",
    ]
    assert result.stderr.count("https://dagy.io/sign-in?") == 1  # the URL, printed once


def test_ctrl_c_cancels_the_login_and_the_callback_listens_on_loopback_only(env):
    login = Login(env)
    port = urllib.parse.urlsplit(login.callback()).port
    assert port is not None
    if sys.platform == "linux":  # 127.0.0.2 is loopback too: only a 0.0.0.0 bind would accept it
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
    login.proc.send_signal(signal.SIGINT)
    code, out, err = login.finish()
    assert code == 130 and out == ""
    assert last_line(err) == "Login failed: Login cancelled by user."
    assert "Traceback" not in err and "Interrupted." not in err


def test_login_with_a_profile_uses_its_app_url_and_api_url(env, fake, dagy_home):
    dagy_home.mkdir()
    (dagy_home / "config.yaml").write_text(
        textwrap.dedent(f"""\
            version: 1
            default_profile: other
            profiles:
              other:
                api_url: http://127.0.0.1:9/v1
              staging:
                api_url: {fake.api_url}
                app_url: {fake.url}/
            """)
    )
    login = Login({**env, "DAGY_API_URL": ""}, "--profile", "staging")
    assert login.url().startswith(f"{fake.url}/sign-in?")
    browse(login.url())
    code, out, err = login.finish()
    assert (code, out) == (0, "Login successful!\n"), err


def test_login_with_dagy_app_url_only_exchanges_at_its_v1(env, fake):
    login = Login({**env, "DAGY_API_URL": "", "DAGY_APP_URL": fake.url})
    browse(login.url())
    code, out, err = login.finish()
    assert (code, out) == (0, "Login successful!\n"), err
    assert len(fake.token_requests) == 1


KEYRING_MODULE = '''
"""A keyring backend for the tests: passwords in the JSON file $DAGY_E2E_KEYRING_FILE."""
import json, os
from keyring.backend import KeyringBackend

class JsonFileKeyring(KeyringBackend):
    priority = 1

    def _load(self):
        try:
            with open(os.environ["DAGY_E2E_KEYRING_FILE"]) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def _save(self, data):
        with open(os.environ["DAGY_E2E_KEYRING_FILE"], "w") as handle:
            json.dump(data, handle)

    def get_password(self, service, username):
        return self._load().get(service, {}).get(username)

    def set_password(self, service, username, password):
        data = self._load()
        data.setdefault(service, {})[username] = password
        self._save(data)

    def delete_password(self, service, username):
        data = self._load()
        del data[service][username]
        self._save(data)
'''


def test_with_a_keyring_the_token_lives_there_until_logout(
    env, fake, dagy_home, tmp_path, run_dagy
):
    (tmp_path / "dagy_e2e_keyring.py").write_text(KEYRING_MODULE)
    ring = tmp_path / "keyring.json"
    env = {
        **env,
        "DAGY_KEYRING": "1",
        "PYTHON_KEYRING_BACKEND": "dagy_e2e_keyring.JsonFileKeyring",
        "DAGY_E2E_KEYRING_FILE": str(ring),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    login = Login(env)
    browse(login.url())
    code, _, err = login.finish()
    assert code == 0, err
    (token,) = fake.active
    assert json.loads(ring.read_text()) == {"dagy": {fake.api_url: token}}
    stored = json.loads((dagy_home / "credentials").read_text())
    assert "access_token" not in stored and stored["storage"] == "keyring"
    assert stat.S_IMODE(os.stat(dagy_home / "credentials").st_mode) == 0o600

    status = run_dagy("auth", "status", env=env)
    assert status.returncode == 0 and "Credential: stored login (OS keyring)" in status.stdout

    assert run_dagy("logout", env=env).stdout == "Logged out\n"
    assert fake.logouts == [token] and fake.active == set()
    assert json.loads(ring.read_text()) == {"dagy": {}}
    assert not (dagy_home / "credentials").exists()


# --- logout -------------------------------------------------------------------------------------


def test_logout_revokes_the_token_on_the_server_and_removes_it(run_dagy, env, fake, dagy_home):
    fake.active.add("tok-1")
    save_login(fake.api_url, "tok-1")
    result = run_dagy("logout", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Logged out\n", "")
    assert fake.logouts == ["tok-1"] and fake.active == set()
    assert not (dagy_home / "credentials").exists()
    again = run_dagy("logout", env=env)  # nothing stored: still fine, no server call
    assert (again.returncode, again.stdout) == (0, "Logged out\n")
    assert fake.logouts == ["tok-1"]


def test_logout_of_an_already_revoked_token_says_nothing_more(run_dagy, env, fake, dagy_home):
    save_login(fake.api_url, "revoked-already")
    result = run_dagy("logout", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Logged out\n", "")
    assert fake.logouts == ["revoked-already"]
    assert not (dagy_home / "credentials").exists()


def test_logout_with_the_server_unreachable_warns_and_still_removes(run_dagy, env, dagy_home):
    api_url = closed_port_url()
    save_login(api_url, "tok-1")
    result = run_dagy("logout", env=env)
    assert result.returncode == 0 and result.stdout == "Logged out\n"
    assert result.stderr.startswith(
        "Warning: could not revoke the token on the server: "
        f"APIError 0: Unable to reach Dagy API at {api_url}."
    )
    assert not (dagy_home / "credentials").exists()


# --- auth status --------------------------------------------------------------------------------


def test_auth_status_shows_the_user_org_role_url_and_expiry(run_dagy, env, fake, dagy_home):
    fake.active.add("tok-1")
    save_login(fake.api_url, "tok-1", expires_at="2999-01-01T00:00:00Z")
    result = run_dagy("auth", "status", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Logged in as ada@example.com",
        "Organization: Acme (org-1)",
        "Role: admin",
        f"API URL: {fake.api_url}",
        "Token expires: 2999-01-01T00:00:00Z",
        f"Credential: stored login ({dagy_home / 'credentials'})",
    ]


def test_auth_status_marks_a_past_expiry(run_dagy, env, fake):
    fake.active.add("tok-1")
    save_login(fake.api_url, "tok-1", expires_at="2020-01-01T00:00:00Z")
    result = run_dagy("auth", "status", env=env)
    assert "Token expires: 2020-01-01T00:00:00Z (expired)" in result.stdout.splitlines()


def test_auth_status_without_a_login(run_dagy, env):
    result = run_dagy("auth", "status", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "Not logged in. Run 'dagy login'.\n"


def test_auth_status_with_a_token_the_server_rejects(run_dagy, env, fake):
    save_login(fake.api_url, "revoked")
    result = run_dagy("auth", "status", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "Not logged in: the stored token was rejected (expired or revoked). Run 'dagy login'.\n"
    )


def test_auth_status_with_the_server_unreachable(run_dagy, env):
    api_url = closed_port_url()
    save_login(api_url, "tok-1")
    result = run_dagy("auth", "status", env=env)
    assert result.returncode == 6
    assert result.stderr.startswith(f"APIError 0: Unable to reach Dagy API at {api_url}.")
