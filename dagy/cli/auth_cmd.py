"""`dagy login`, `dagy logout` and `dagy auth status` (docs/auth.md).

Browser login is the OAuth authorization-code flow with PKCE over a loopback redirect: a one-shot
HTTP server on 127.0.0.1 (_login_callback) receives the browser's callback, then the code is
exchanged for a token at ``POST <api_url>/auth/token``. ``--with-token`` takes a token or API key
from stdin instead (CI, SSH). Talking to the API and storing the login: dagy.backend.session.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dagy.cli import _errors
from dagy.cli._help import HomeCommand

if TYPE_CHECKING:
    from dagy.backend.session import Session
    from dagy.cli._login_callback import CallbackServer
    from dagy.config.paths import DagyPaths

_FAILED = _errors.RUN_FAILED  # 1: the login or the check did not succeed
_NOT_LOGGED_IN = "Not logged in. Run 'dagy login'."
_REJECTED = "Not logged in: {what} was rejected (expired or revoked). {fix}"
VISIT = "If the browser does not open, visit: "
VISIT_NO_BROWSER = "To log in, visit: "

_profile_option = click.option(
    "--profile", "profile", metavar="NAME", help="Use this profile's app_url/api_url."
)


@click.command("login", cls=HomeCommand)
@_profile_option
@click.option(
    "--with-token",
    is_flag=True,
    help="Read a token or dagy_sk_... API key from stdin (one line), check it, store it.",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL and wait; open no browser.")
def login(profile: str | None, with_token: bool, no_browser: bool) -> None:
    """Sign in through the browser (or --with-token) and store the access token.

    \b
    Opens <app_url>/sign-in; the browser comes back to a one-shot server on
    127.0.0.1, and the code it brings is exchanged (PKCE) for a token, kept in
    the OS keyring or else in ~/.dagy/credentials (0600).
    App URL: DAGY_APP_URL, the profile's app_url, the API URL without /v1,
    then https://dagy.io. Gives up after DAGY_LOGIN_TIMEOUT seconds (120).
    \b
    Headless (CI, SSH):  echo "$TOKEN" | dagy login --with-token
    """
    from dagy.backend import session
    from dagy.config.paths import DagyPaths

    if with_token and no_browser:
        raise click.UsageError("--with-token and --no-browser cannot be used together")
    paths = DagyPaths.from_env()
    app_url, api_url = session.login_urls(paths, profile)
    if with_token:
        _login_with_token(paths, api_url)
    else:
        _login_in_browser(paths, app_url, api_url, open_browser=not no_browser)
    click.echo("Login successful!")


@click.command("logout")
@_profile_option
def logout(profile: str | None) -> None:
    """Revoke the stored token on the server and forget it locally.

    \b
    Idempotent: with nothing stored it just says "Logged out". An unreachable
    server only earns a warning; the local credentials are removed anyway.
    DAGY_TOKEN and DAGY_API_KEY are not touched: unset them yourself.
    --profile is checked but reserved: there is one login per Dagy home.
    """
    from dagy.backend import session
    from dagy.config.paths import DagyPaths

    paths = DagyPaths.from_env()
    _check_profile(paths, profile)
    failed, problem = session.logout(paths)
    if failed is not None:
        click.echo(
            "Warning: could not revoke the token on the server: " + _errors.message_for(failed),
            err=True,
        )
    if problem is not None:
        click.echo(f"Warning: could not remove the token from the keyring: {problem}", err=True)
    click.echo("Logged out")


@click.group("auth")
def auth() -> None:
    """Inspect the login in use."""


@auth.command("status")
@_profile_option
def status(profile: str | None) -> None:
    """Show who is logged in, with which credential, and against which API.

    \b
    The credential: DAGY_TOKEN, then DAGY_API_KEY, then the stored login.
    Asks the server (GET /users/me), so a revoked token shows as not logged in.
    Exit code 1 when not logged in, 6 when the API cannot be reached.
    """
    from dagy.backend import session
    from dagy.config.paths import DagyPaths
    from dagy.errors import APIError

    found = session.current(DagyPaths.from_env(), profile)
    if found is None:
        raise _errors.CLIExit(_NOT_LOGGED_IN, _FAILED)
    try:
        me = session.whoami(found.api_url, found.credential.token)
    except APIError as exc:
        if exc.status_code == 401:
            raise _errors.CLIExit(_rejected(found), _FAILED) from None
        raise
    for line in _status_lines(found, me):
        click.echo(line)


# --- login, step by step ------------------------------------------------------------------------


def _login_with_token(paths: DagyPaths, api_url: str) -> None:
    """Check a token from stdin with GET /users/me, then store it; a refused one stores nothing."""
    from dagy.backend import session

    if sys.stdin.isatty():
        token = click.prompt("Token or API key", hide_input=True, err=True, default="")
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise _errors.CLIExit("Login failed: no token on stdin", _errors.USAGE)
    me = session.whoami(api_url, token)  # APIError 401 → exit 6, nothing stored
    session.save_login(paths, api_url, token, me, expires_at=None)


def _login_in_browser(paths: DagyPaths, app_url: str, api_url: str, *, open_browser: bool) -> None:
    from dagy.cli._login_callback import CallbackServer
    from dagy.config import settings

    timeout = settings.LOGIN_TIMEOUT.get()
    try:
        with CallbackServer() as server:
            try:
                code, verifier = _authorize(server, app_url, timeout, open_browser)
                _exchange(paths, api_url, code, verifier, server.redirect_uri)
            except _errors.CLIExit as exc:
                server.answer(ok=False, text=exc.message)
                raise
            server.answer(ok=True, text="You can close this tab and return to the terminal.")
    except KeyboardInterrupt:
        raise _errors.CLIExit(
            "Login failed: Login cancelled by user.", _errors.INTERRUPTED
        ) from None


def _authorize(
    server: CallbackServer, app_url: str, timeout: int, open_browser: bool
) -> tuple[str, str]:
    """Send the browser to sign in and wait for its callback; (code, PKCE verifier).

    The URL is printed once: the line after "Opening browser" (or, with --no-browser, the only
    one); a browser that cannot be opened points back to it instead of repeating it.
    """
    import base64
    import hashlib
    import secrets
    import urllib.parse

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
    if open_browser:
        click.echo("Opening browser for login...", err=True)
        click.echo(VISIT + url, err=True)
        if not _open_browser(url):
            click.echo("Could not open a browser: open the URL above to log in.", err=True)
    else:
        click.echo(VISIT_NO_BROWSER + url, err=True)
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


def _exchange(paths: DagyPaths, api_url: str, code: str, verifier: str, redirect_uri: str) -> None:
    """Trade the one-time code for a token, ask the API whose token it is, store the login."""
    from dagy.backend import session
    from dagy.errors import APIError

    try:
        token = session.exchange_code(api_url, code, verifier, redirect_uri)
        me = session.whoami(api_url, token["access_token"])
    except APIError as exc:
        _fail(_errors.message_for(exc), _errors.API)
    expires_at = session.field(token, "expires_at")
    session.save_login(paths, api_url, token["access_token"], me, expires_at)


def _fail(reason: str, exit_code: int = _FAILED) -> NoReturn:
    raise _errors.CLIExit(f"Login failed: {reason}", exit_code)


# --- status and helpers -------------------------------------------------------------------------


def _status_lines(found: Session, me: dict[str, Any]) -> list[str]:
    from dagy.backend.session import field

    stored = found.stored if found.credential.source in ("keyring", "file") else None
    org_id = field(me, "org_id") or (stored.org_id if stored else None) or "-"
    org_name = field(me, "org_name") or (stored.org_name if stored else None)
    role = field(me, "role") or (stored.role if stored else None) or "-"
    if me.get("super_admin") is True:
        role += " (super admin)"
    email = field(me, "user_email") or (stored.user_email if stored else None) or "-"
    return [
        f"Logged in as {email}",
        f"Organization: {f'{org_name} ({org_id})' if org_name else org_id}",
        f"Role: {role}",
        f"API URL: {found.api_url}",
        f"Token expires: {_expiry(stored.expires_at if stored else None)}",
        f"Credential: {found.credential.describe()}",
    ]


def _rejected(found: Session) -> str:
    source = found.credential.source
    if source in ("DAGY_TOKEN", "DAGY_API_KEY"):
        return _REJECTED.format(what=source, fix=f"Set another {source} or unset it.")
    return _REJECTED.format(what="the stored token", fix="Run 'dagy login'.")


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


def _check_profile(paths: DagyPaths, profile: str | None) -> None:
    """An explicit --profile must exist (it is otherwise reserved for per-profile logins)."""
    if profile is not None:
        from dagy.config.profiles import load_config, resolve_profile

        resolve_profile(load_config(paths), profile)
