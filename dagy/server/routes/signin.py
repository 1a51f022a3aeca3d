"""``/sign-in``: the browser half of `dagy login` (authorization code with PKCE).

`dagy login` opens ``<app_url>/sign-in?cli_callback=...&state=...&code_challenge=...``. This page
checks that the callback is a loopback URL, asks for the account's credentials, and on success
redirects the browser to the callback with a one-time code (and the CLI's ``state``). The CLI then
trades the code and its PKCE verifier for a token at ``POST <api>/auth/token``. Plain HTML and the UI's
same-origin stylesheet, no scripts. The form carries a nonce that must match a SameSite=Strict cookie, so
another site cannot post it (login CSRF).

The web UI served by this server (``/``) uses the same flow: its callback is this server's own
root URL (``<scheme>://<host>/``), the only non-loopback callback accepted, so a code never leaves
the origin that asked for it; the UI trades it at ``/auth/token`` and drops it from the address bar.
"""

from __future__ import annotations

import hmac
import html
import secrets
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body

from dagy.auth import rbac
from dagy.errors import AuthenticationError, InvalidInputError
from dagy.server.security import origin_of, state_of
from dagy.services.accounts import login_codes
from dagy.services.accounts import users as accounts

_COOKIE = "dagy_signin"
_FIELDS = ("cli_callback", "state", "code_challenge", "code_challenge_method")
_HEADERS = {
    "Cache-Control": "no-store",
    # No http://[::1]:* source: CSP has no IPv6 literals (browsers drop it with a console error).
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; "
    "form-action 'self' http://127.0.0.1:* http://localhost:*",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to Dagy</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/signin.css"></head>
<body><main>
<h1>Sign in to Dagy</h1>
{body}
</main></body></html>
"""


def _page(body: str, status: int = 200, cookie: Cookie | None = None) -> Response[str]:
    return Response(
        _PAGE.format(body=body),
        status_code=status,
        media_type=MediaType.HTML,
        headers=_HEADERS,
        cookies=[cookie] if cookie else None,
    )


def _problem(message: str, status: int = 400) -> Response[str]:
    return _page(f'<p class="error">{html.escape(message)}</p>', status)


def _form(
    params: dict[str, str], nonce: str, *, local: bool, error: str | None = None, web: bool = False
) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">'
        for name in _FIELDS
    )
    password = (
        '<p class="note">Local mode: no password needed.</p>'
        if local
        else '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" required '
        'autocomplete="current-password">'
    )
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f"{problem}"
        '<form method="post" action="sign-in">'
        f'<input type="hidden" name="nonce" value="{nonce}">{hidden}'
        '<label for="email">Email</label>'
        '<input id="email" name="email" type="email" required autocomplete="username" autofocus>'
        f"{password}"
        '<button id="sign-in" type="submit" name="action" value="sign-in">Sign in</button> '
        '<button id="cancel" type="submit" name="action" value="cancel" formnovalidate>'
        "Cancel</button>"
        "</form>"
        + (
            '<p class="note">You are signing in to the Dagy web app in this browser.</p>'
            if web
            else '<p class="note">You are signing in the Dagy CLI on this computer.</p>'
        )
    )


def _web_callback(request: Request[Any, Any, Any]) -> str:
    """The web UI's callback: this server's root, as the browser reached it."""
    return f"{request.url.scheme}://{request.url.netloc}/"


def _checked(params: dict[str, str], request: Request[Any, Any, Any]) -> bool:
    """Check the sign-in parameters; True when the callback is this server's web UI."""
    web = params.get("cli_callback", "") == _web_callback(request)
    if not web:
        login_codes.check_callback(params.get("cli_callback", ""))
    login_codes.check_challenge(
        params.get("code_challenge", ""), params.get("code_challenge_method", "")
    )
    if not params.get("state"):
        raise InvalidInputError("state is required", {"state": "required"})
    return web


def _nonce_cookie(nonce: str) -> Cookie:
    return Cookie(
        key=_COOKIE, value=nonce, path="/sign-in", httponly=True, samesite="strict", max_age=600
    )


@get("/sign-in", sync_to_thread=False, include_in_schema=False, opt={"permission": rbac.PUBLIC})
def sign_in_page(request: Request[Any, Any, Any]) -> Response[str]:
    params = {name: request.query_params.get(name, "") for name in _FIELDS}
    try:
        web = _checked(params, request)
    except InvalidInputError as exc:
        return _problem(f"This sign-in link is not valid: {exc.message}")
    nonce = secrets.token_urlsafe(24)
    body = _form(params, nonce, local=state_of(request).local_mode, web=web)
    return _page(body, cookie=_nonce_cookie(nonce))


def _redirect(callback: str, **query: str) -> Response[str]:
    target = callback + ("&" if "?" in callback else "?") + urlencode(query)
    return Response(
        "", status_code=303, headers={**_HEADERS, "Location": target}, media_type=MediaType.HTML
    )


@post("/sign-in", sync_to_thread=True, include_in_schema=False, opt={"permission": rbac.PUBLIC})
def sign_in_submit(
    request: Request[Any, Any, Any],
    data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED),  # noqa: B008
) -> Response[str]:
    params = {name: str(data.get(name, "")) for name in _FIELDS}
    try:
        web = _checked(params, request)
    except InvalidInputError as exc:
        return _problem(f"This sign-in request is not valid: {exc.message}")
    cookie = request.cookies.get(_COOKIE, "")
    sent = str(data.get("nonce", "")).encode()  # bytes: a non-ASCII str would raise, a 500
    if not cookie or not hmac.compare_digest(cookie.encode(), sent):
        return _problem("This sign-in form has expired. Run `dagy login` again.", 403)
    callback, state = params["cli_callback"], params["state"]
    if data.get("action") == "cancel":
        return _redirect(
            callback,
            error="access_denied",
            error_description="Sign-in was cancelled in the browser",
            state=state,
        )
    server = state_of(request)
    try:
        membership = accounts.authenticate(
            server.store,
            data.get("email", ""),
            data.get("password"),
            passwordless=server.local_mode,
        )
    except (AuthenticationError, InvalidInputError) as exc:
        nonce = secrets.token_urlsafe(24)
        body = _form(params, nonce, local=server.local_mode, error=exc.message, web=web)
        return _page(
            body, 401 if isinstance(exc, AuthenticationError) else 400, _nonce_cookie(nonce)
        )
    code = login_codes.sign_in(
        server.store,
        server.login_codes,
        membership,
        params["code_challenge"],
        callback,
        origin=origin_of(request),
    )
    return _redirect(callback, code=code, state=state)


ROUTES = [sign_in_page, sign_in_submit]
