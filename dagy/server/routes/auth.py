"""POST /auth/login, POST /auth/logout, and POST /auth/token (the PKCE code exchange)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from dagy.auth import rbac
from dagy.errors import InvalidInputError
from dagy.server.openapi import EMAIL, Body, required
from dagy.server.security import actor_of, origin_of, state_of
from dagy.services.accounts import login_codes
from dagy.services.accounts import users as accounts
from dagy.store.records import iso_z


class LoginBody(Body):
    email: str
    password: str | None = None
    org_id: str | None = None
    doc = {"email": EMAIL, "password": required(minLength=1)}  # email alone: `serve --local`


class TokenBody(Body):
    code: str
    code_verifier: str
    redirect_uri: str


def token_response(issued: accounts.IssuedToken) -> dict[str, Any]:
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_at": iso_z(issued.expires_at),
    }


@post(
    "/auth/login",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": rbac.PUBLIC, "errors": [401]},
)
def login(request: Request[Any, Any, Any], data: LoginBody) -> dict[str, Any]:
    """Create an access token. Email and password; email alone only in `dagy serve --local`."""
    state = state_of(request)
    if state.jwt is not None:
        raise InvalidInputError("Password login is disabled: this server requires JWTs")
    issued = accounts.login(
        state.store,
        data.email,
        data.password,
        passwordless=state.local_mode,
        org_id=data.org_id,
        origin=origin_of(request),
    )
    return token_response(issued)


@post("/auth/logout", status_code=204, sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def logout(request: Request[Any, Any, Any]) -> Response[None]:
    """Revoke the access token of this request on the server."""
    accounts.logout(state_of(request).store, actor_of(request))
    return Response(None, status_code=204)


@post("/auth/token", status_code=200, sync_to_thread=True, opt={"permission": rbac.PUBLIC})
def exchange_code(request: Request[Any, Any, Any], data: TokenBody) -> dict[str, Any]:
    """Trade the one-time code from /sign-in for an access token (PKCE, S256)."""
    state = state_of(request)
    issued = login_codes.exchange(
        state.store,
        state.login_codes,
        data.code,
        data.code_verifier,
        data.redirect_uri,
        origin=origin_of(request),
    )
    return token_response(issued)


ROUTES = [login, logout, exchange_code]
