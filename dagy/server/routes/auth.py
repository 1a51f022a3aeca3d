"""POST /auth/login, POST /auth/logout, and POST /auth/token (the PKCE code exchange)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post

from dagy.auth import rbac
from dagy.errors import InvalidInputError
from dagy.server.security import audit_request, identity_of, state_of
from dagy.services.accounts import login_codes
from dagy.services.accounts import users as accounts
from dagy.store.records import iso_z


class LoginBody(msgspec.Struct):
    email: str
    password: str | None = None
    org_id: str | None = None


class TokenBody(msgspec.Struct):
    code: str
    code_verifier: str
    redirect_uri: str


def token_response(issued: accounts.IssuedToken) -> dict[str, Any]:
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_at": iso_z(issued.expires_at),
    }


@post("/auth/login", status_code=200, sync_to_thread=True, opt={"permission": rbac.PUBLIC})
def login(request: Request[Any, Any, Any], data: LoginBody) -> dict[str, Any]:
    """Create an access token. Email and password; email alone only in `dagy serve --local`."""
    state = state_of(request)
    if state.jwt is not None:
        raise InvalidInputError("Password login is disabled: this server requires JWTs")
    with state.store.connection():
        issued = accounts.login(
            state.store,
            data.email,
            data.password,
            passwordless=state.local_mode,
            org_id=data.org_id,
            user_agent=request.headers.get("user-agent"),
        )
        identity = accounts.member_identity(
            state.store, issued.record.email, issued.record.org_id, kind="token"
        )
        audit_request(
            request,
            "login",
            "session",
            issued.record.token_id,
            name=identity.email,
            identity=identity,
        )
    return token_response(issued)


@post("/auth/logout", status_code=204, sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def logout(request: Request[Any, Any, Any]) -> Response[None]:
    """Revoke the access token of this request on the server."""
    state, identity = state_of(request), identity_of(request)
    with state.store.connection():
        accounts.logout(state.store, identity)
        audit_request(
            request,
            "logout",
            "session",
            identity.credential_id,
            name=identity.email,
        )
    return Response(None, status_code=204)


@post("/auth/token", status_code=200, sync_to_thread=True, opt={"permission": rbac.PUBLIC})
def exchange_code(request: Request[Any, Any, Any], data: TokenBody) -> dict[str, Any]:
    """Trade the one-time code from /sign-in for an access token (PKCE, S256)."""
    state = state_of(request)
    grant = login_codes.redeem(state.login_codes, data.code, data.code_verifier, data.redirect_uri)
    with state.store.connection():
        issued = accounts.issue_token(
            state.store, grant.email, grant.org_id, user_agent=request.headers.get("user-agent")
        )
        identity = accounts.member_identity(state.store, grant.email, grant.org_id, kind="token")
        audit_request(
            request,
            "login",
            "session",
            issued.record.token_id,
            name=grant.email,
            changes={"method": "browser"},
            identity=identity,
        )
    return token_response(issued)


ROUTES = [login, logout, exchange_code]
