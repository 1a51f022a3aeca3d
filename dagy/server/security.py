"""Authentication and authorization: one guard on the whole app.

Every route declares ``opt={"permission": ...}``: a permission of the RBAC matrix, ``authenticated``,
``public`` or ``store.local``. A route without one is refused (fail closed), and a test walks the
app's routes to make sure there is none.

Platform level (issue 18):
- ``opt={"permission": rbac.AUTHENTICATED, "super_admin": True}`` (or ``require_super_admin``
  in a handler) admits only super admins: 403 ``Super admin access required`` otherwise. The
  machine's own token (server.json, kind ``local``) counts as one: it owns the store file.
- ``X-Impersonate-Org: <org_id>`` from a super admin makes them owner of that org for the request
  (``Identity.impersonated_by`` names them, and so does every audit row written); from anyone
  else it is 403.
- A suspended org's members and API keys are refused (403 ``org_suspended``); super admins not.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from dagy.auth import rbac
from dagy.auth.identity import Identity
from dagy.auth.jwt import looks_like_jwt
from dagy.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from dagy.server.state import ServerState
from dagy.services.accounts import users as accounts
from dagy.services.accounts.audit import Actor, Origin
from dagy.services.admin import suspension
from dagy.store import accounts as sql
from dagy.store import admin as admin_sql
from dagy.store.records import utcnow

IDENTITY_TTL = 30.0
IDENTITY_CACHE_SIZE = 10_000
SUPER_ADMIN_REQUIRED = "Super admin access required"
IMPERSONATE_HEADER = "x-impersonate-org"


def is_super_admin(identity: Identity) -> bool:
    """A platform super admin (users.super_admin), or the machine's own token."""
    return identity.super_admin or identity.kind == "local"


def require_super_admin(identity: Identity) -> None:
    """403 ``Super admin access required`` unless ``identity`` is a super admin."""
    if not is_super_admin(identity):
        raise PermissionDeniedError(SUPER_ADMIN_REQUIRED, {"super_admin": "required"})


def bearer_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def cached_identity(
    state: ServerState, bearer: str, org_header: str | None, impersonate: str | None = None
) -> Identity | None:
    """A recently resolved identity for this credential, if nothing auth-related changed since.

    Resolving costs three store reads under the store's lock; most requests are a client's Nth
    with the same token. Entries die after IDENTITY_TTL, at the credential's expiry, and whenever
    a write bumps the accounts generation (revocation, role change, key deletion, ...).
    """
    entry = state.identities.get((bearer, org_header, impersonate))
    if entry is None:
        return None
    identity, generation, born = entry
    if (
        generation != sql.generation()
        or time.monotonic() - born > IDENTITY_TTL
        or (isinstance(identity.expires_at, _dt.datetime) and identity.expires_at <= utcnow())
    ):
        state.identities.pop((bearer, org_header, impersonate), None)
        return None
    return identity


def resolve_identity(
    state: ServerState, bearer: str, org_header: str | None, impersonate: str | None = None
) -> Identity:
    """Blocking (reads the store): call from a worker thread.

    Only admitted identities are cached: a suspended org's caller is checked again each request
    (suspending and activating bump the accounts generation, which drops cached entries)."""
    generation, born = sql.generation(), time.monotonic()
    identity = _resolve(state, bearer, org_header)
    if impersonate:
        identity = _impersonating(state, identity, impersonate)
    elif not is_super_admin(identity):
        suspension.ensure_active(state.store, identity.org_id)
    if len(state.identities) >= IDENTITY_CACHE_SIZE:
        state.identities.clear()
    state.identities[(bearer, org_header, impersonate)] = (identity, generation, born)
    return identity


def _impersonating(state: ServerState, identity: Identity, org_id: str) -> Identity:
    """The super admin as owner of ``org_id``, named in ``impersonated_by``."""
    require_super_admin(identity)
    if sql.get_org(state.store, org_id) is None:
        raise NotFoundError(f"Organization not found: {org_id}", {"org_id": org_id})
    expires = admin_sql.impersonation_expires(state.store, identity.email, org_id)
    if expires is None or expires <= utcnow():
        raise PermissionDeniedError(
            f"No open impersonation of {org_id}: start one with POST /admin/impersonate/{org_id}",
            {"org_id": org_id, "impersonation": "not started or expired"},
        )
    return Identity(
        identity.email,
        org_id,
        "owner",
        rbac.permissions_for("owner") | (identity.permissions & {rbac.LOCAL}),
        identity.kind,
        identity.credential_id,
        True,
        # the cache drops it when the impersonation ends, if the credential lasts longer
        min(expires, identity.expires_at)
        if isinstance(identity.expires_at, _dt.datetime)
        else expires,
        identity.email,
    )


def _resolve(state: ServerState, bearer: str, org_header: str | None) -> Identity:
    if state.is_local_token(bearer):
        return accounts.local_identity()
    if bearer.startswith("dagy_"):
        return accounts.identify(state.store, bearer)
    verifier = state.jwt_verifier
    if verifier is not None:
        # DAGY_JWT_REQUIRED: user bearer tokens must be JWTs signed by the configured issuer.
        if not looks_like_jwt(bearer):
            raise AuthenticationError("A JWT is required (DAGY_JWT_REQUIRED=true)")
        identity = accounts.jwt_identity(state.store, verifier.claims(bearer))
        if org_header and org_header != identity.org_id:
            accounts.switch_check(state.store, identity.email, org_header)
            identity = accounts.member_identity(state.store, identity.email, org_header, kind="jwt")
        return identity
    return accounts.identify(state.store, bearer, org_override=org_header)


async def authorize(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    if connection.scope.get("method") == "OPTIONS":
        return  # Litestar's automatic OPTIONS answers: they list methods and run no handler
    permission = handler.opt.get("permission")
    if permission is None:
        raise PermissionDeniedError("This route declares no permission")
    if permission == rbac.PUBLIC:
        return
    state: ServerState = connection.app.state.dagy
    bearer = bearer_of(connection)
    if bearer is None:
        raise AuthenticationError("Invalid or missing token")
    org_header = connection.headers.get("x-dagy-org") or None
    impersonate = connection.headers.get(IMPERSONATE_HEADER) or None
    identity = cached_identity(state, bearer, org_header, impersonate)
    if identity is None:
        identity = await anyio.to_thread.run_sync(
            resolve_identity, state, bearer, org_header, impersonate
        )
    connection.state.identity = identity
    if handler.opt.get("super_admin"):
        require_super_admin(identity)
    if not identity.can(permission):
        raise PermissionDeniedError(
            f"Insufficient permissions: {permission} required", {"permission": permission}
        )


def identity_of(request: Request[Any, Any, Any]) -> Identity:
    identity: Identity = request.state.identity
    return identity


def state_of(request: Request[Any, Any, Any]) -> ServerState:
    state: ServerState = request.app.state.dagy
    return state


def origin_of(request: Request[Any, Any, Any]) -> Origin:
    return Origin(
        request.client.host if request.client else None, request.headers.get("user-agent")
    )


def actor_of(request: Request[Any, Any, Any]) -> Actor:
    """The caller and where the request came from, for the services that write audit rows."""
    return Actor(identity_of(request), origin_of(request))
