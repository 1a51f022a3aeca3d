"""`dagy login`, `dagy logout` and `dagy auth status` (docs/auth.md).

Login is the OAuth authorization-code flow with PKCE over a loopback redirect: a one-shot HTTP
server on 127.0.0.1 receives the browser's callback, then the code is exchanged for a token at
``POST <api_url>/auth/token``. Storage is dagy.config.credentials; HTTP is DagyClient.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dagy.cli import _errors

if TYPE_CHECKING:
    from dagy.client.http import DagyClient
    from dagy.config.credentials import Credentials
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import Config

DEFAULT_LOGIN_TIMEOUT = 120
_FAILED = _errors.RUN_FAILED  # 1: the login or the check did not succeed
_NOT_LOGGED_IN = "Not logged in. Run 'dagy login'."
_REJECTED = "Not logged in: the stored token was rejected (expired or revoked). Run 'dagy login'."

_SEE_TERMINAL = "Return to the terminal for details."

_profile_option = click.option(
    "--profile", "profile", metavar="NAME", help="Use this profile's app_url/api_url."
)


@click.command("login")
@_profile_option
def login(profile: str | None) -> None:
    """Sign in through the browser and store the access token.

    \b
    Opens <app_url>/sign-in; the browser comes back to a one-shot server on
    127.0.0.1, and the code it brings is exchanged (PKCE) for a token, kept in
    the OS keyring or else in ~/.dagy/credentials (0600).
    App URL: DAGY_APP_URL, the profile's app_url, the API URL without /v1,
    then https://dagy.io. Gives up after DAGY_LOGIN_TIMEOUT seconds (120).
    """
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths, env_int
    from dagy.config.profiles import load_config

    paths = DagyPaths.from_env()
    app_url, api_url = _login_urls(load_config(paths), profile)
    timeout = env_int("DAGY_LOGIN_TIMEOUT", DEFAULT_LOGIN_TIMEOUT)
    try:
        with _CallbackServer() as server:
            try:
                code, verifier = _authorize(server, app_url, timeout)
                found = _exchange(api_url, code, verifier, server.redirect_uri)
                credentials.save(paths, found)
            except _errors.CLIExit as exc:
                server.answer(ok=False, text=exc.message)
                raise
            server.answer(ok=True, text="You can close this tab and return to the terminal.")
    except KeyboardInterrupt:
        raise _errors.CLIExit(
            "Login failed: Login cancelled by user.", _errors.INTERRUPTED
        ) from None
    click.echo("Login successful!")


@click.command("logout")
@_profile_option
def logout(profile: str | None) -> None:
    """Revoke the stored token on the server and forget it locally.

    \b
    Idempotent: with nothing stored it just says "Logged out". An unreachable
    server only earns a warning; the local credentials are removed anyway.
    --profile is checked but reserved: there is one login per Dagy home.
    """
    from dagy.client.http import DagyClient
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths
    from dagy.errors import APIError

    paths = DagyPaths.from_env()
    _check_profile(paths, profile)
    stored = credentials.load(paths)
    if stored is not None and stored.access_token and stored.api_url:
        try:
            DagyClient(stored.api_url, token=stored.access_token).post("/auth/logout")
        except APIError as exc:
            if exc.status_code != 401:  # 401: already revoked or expired
                click.echo(
                    "Warning: could not revoke the token on the server: "
                    + _errors.message_for(exc),
                    err=True,
                )
    problem = credentials.delete(paths)
    if problem is not None:
        click.echo(f"Warning: could not remove the token from the keyring: {problem}", err=True)
    click.echo("Logged out")


@click.group("auth")
def auth() -> None:
    """Inspect the stored login."""


@auth.command("status")
@_profile_option
def status(profile: str | None) -> None:
    """Show who is logged in: user, organization, role, API URL and token expiry.

    \b
    Asks the server (GET /users/me), so a revoked token shows as not logged in.
    Exit code 1 when not logged in, 6 when the API cannot be reached.
    """
    from dagy.client.http import DagyClient
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths
    from dagy.errors import APIError

    paths = DagyPaths.from_env()
    _check_profile(paths, profile)
    stored = credentials.load(paths)
    if stored is None or not stored.access_token or not stored.api_url:
        raise _errors.CLIExit(_NOT_LOGGED_IN, _FAILED)
    try:
        me = DagyClient(stored.api_url, token=stored.access_token).get("/users/me") or {}
    except APIError as exc:
        if exc.status_code == 401:
            raise _errors.CLIExit(_REJECTED, _FAILED) from None
        raise
    for line in _status_lines(stored, me):
        click.echo(line)


# --- login, step by step ------------------------------------------------------------------------


def _login_urls(config: Config, profile: str | None) -> tuple[str, str]:
    """(app URL, API URL) for a login; the contract's precedence is in docs/auth.md."""
    from dagy.config.profiles import resolve_api_url, resolve_app_url, resolve_profile

    chosen = resolve_profile(config, profile)  # an unknown --profile is a ConfigError
    api_url = resolve_api_url(config, profile)
    if os.environ.get("DAGY_APP_URL", "").strip() or (chosen is not None and chosen.app_url):
        app_url = resolve_app_url(config, profile)
    elif api_url:
        app_url = api_url[: -len("/v1")] if api_url.endswith("/v1") else api_url
    else:
        app_url = resolve_app_url(config, profile)  # the default, https://dagy.io
    app_url = app_url.rstrip("/")
    return app_url, (api_url or f"{app_url}/v1").rstrip("/")


def _authorize(server: _CallbackServer, app_url: str, timeout: int) -> tuple[str, str]:
    """Send the browser to sign in and wait for its callback; (code, PKCE verifier)."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
    query = urllib.parse.urlencode(
        {
            "cli_callback": server.redirect_uri,
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode("ascii"),
            "code_challenge_method": "S256",
        }
    )
    url = f"{app_url}/sign-in?{query}"
    click.echo("Opening browser for login...", err=True)
    click.echo(f"If the browser does not open, visit: {url}", err=True)
    if not _open_browser(url):
        click.echo(f"Could not open a browser. Open this URL to log in: {url}", err=True)
    callback = server.wait(timeout)
    if callback is None:
        _fail("Login timed out – no callback received.")
    if not secrets.compare_digest(callback.state.encode(), state.encode()):
        _fail("State mismatch – possible CSRF attack.")
    if callback.error or not callback.code:
        _fail(callback.error_description or callback.error or "no code in the callback")
    return callback.code, verifier


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url))
    except Exception:  # webbrowser.Error, or an OSError from a BROWSER command that cannot start
        return False


def _exchange(api_url: str, code: str, verifier: str, redirect_uri: str) -> Credentials:
    """Trade the one-time code for a token, then ask the API whose token it is."""
    from dagy.config.credentials import Credentials
    from dagy.errors import APIError

    try:
        token = _client(api_url, "").post(
            "/auth/token", {"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
        )
        access_token = token.get("access_token") if isinstance(token, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise APIError(0, f"No access_token in the token response from {api_url}")
        me = _client(api_url, access_token).get("/users/me") or {}
    except APIError as exc:
        _fail(_errors.message_for(exc), _errors.API)
    return Credentials(
        access_token=access_token,
        api_url=api_url,
        token_type=str(token.get("token_type") or "Bearer"),
        expires_at=_field(token, "expires_at"),
        user_email=_field(me, "user_email"),
        org_id=_field(me, "org_id"),
        org_name=_field(me, "org_name"),
        role=_field(me, "role"),
    )


def _client(api_url: str, token: str) -> DagyClient:
    from dagy.client.http import DagyClient

    return DagyClient(api_url, token=token)  # "" sends no Authorization, never the stored token


def _fail(reason: str, exit_code: int = _FAILED) -> NoReturn:
    raise _errors.CLIExit(f"Login failed: {reason}", exit_code)


# --- the loopback callback server ---------------------------------------------------------------


@dataclass(frozen=True)
class _Callback:
    """What the browser brought to /callback."""

    state: str
    code: str | None
    error: str | None
    error_description: str | None


class _CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 (never 0.0.0.0) for the browser's redirect.

    The first /callback carrying a state and a code or an error is the answer; the browser's page
    waits until the login has finished so it can say how it went.
    """

    def __init__(self) -> None:
        self._received = threading.Event()
        self._answered = threading.Event()
        self._responded = threading.Event()
        self._lock = threading.Lock()
        self.callback: _Callback | None = None
        self._page = ("Login failed", _SEE_TERMINAL)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"

    def __enter__(self) -> _CallbackServer:
        threading.Thread(target=self._httpd.serve_forever, name="dagy-login", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.answer(ok=False, text=_SEE_TERMINAL)  # no-op when answered already
        if self.callback is not None:
            self._responded.wait(5)  # let the browser get its page before the process exits
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self, timeout: float) -> _Callback | None:
        """The callback, or None after ``timeout`` seconds; short waits keep Ctrl+C responsive."""
        deadline = time.monotonic() + timeout
        while not self._received.wait(0.1):
            if time.monotonic() >= deadline:
                return None
        return self.callback

    def answer(self, *, ok: bool, text: str) -> None:
        """Release the browser's page: success, or failure with ``text``."""
        with self._lock:
            if not self._answered.is_set():
                self._page = ("Login successful" if ok else "Login failed", text)
                self._answered.set()

    def _accept(self, query: dict[str, list[str]]) -> bool:
        """Record the first valid callback; False for any later one."""
        first = {key: values[0] for key, values in query.items() if values}
        with self._lock:
            if self.callback is not None:
                return False
            self.callback = _Callback(
                state=first.get("state", ""),
                code=first.get("code"),
                error=first.get("error"),
                error_description=first.get("error_description"),
            )
        self._received.set()
        return True


def _handler_for(server: _CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path != "/callback":
                self._page(404, "Not found", "")
            elif not query.get("state") or not (query.get("code") or query.get("error")):
                self._page(400, "Invalid callback", "It needs a state and a code or an error.")
            elif not server._accept(query):
                self._page(409, "Login already handled", "Return to the terminal.")
            else:
                server._answered.wait(60)
                self._page(200, *server._page)
                server._responded.set()

        def _page(self, code: int, title: str, text: str) -> None:
            body = (
                "<!doctype html><html><head><meta charset='utf-8'>"
                f"<title>Dagy: {html.escape(title)}</title></head>"
                f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
            ).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


# --- status and helpers -------------------------------------------------------------------------


def _status_lines(stored: Credentials, me: dict[str, Any]) -> list[str]:
    org_id = _field(me, "org_id") or stored.org_id or "-"
    org_name = _field(me, "org_name") or stored.org_name
    role = _field(me, "role") or stored.role or "-"
    if me.get("super_admin") is True:
        role += " (super admin)"
    where = "OS keyring" if stored.storage == "keyring" else "credentials file"
    return [
        f"Logged in as {_field(me, 'user_email') or stored.user_email or '-'}",
        f"Organization: {f'{org_name} ({org_id})' if org_name else org_id}",
        f"Role: {role}",
        f"API URL: {stored.api_url}",
        f"Token expires: {_expiry(stored.expires_at)}",
        f"Token stored in: {where}",
    ]


def _expiry(expires_at: str | None) -> str:
    if not expires_at:
        return "unknown"
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return expires_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{expires_at} (expired)" if moment <= datetime.now(timezone.utc) else expires_at


def _field(data: object, key: str) -> str | None:
    """A non-empty scalar of a JSON object as text (an org_id may come as a number)."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, (str, int)) else None


def _check_profile(paths: DagyPaths, profile: str | None) -> None:
    """An explicit --profile must exist (it is otherwise reserved for per-profile logins)."""
    if profile is not None:
        from dagy.config.profiles import load_config, resolve_profile

        resolve_profile(load_config(paths), profile)
