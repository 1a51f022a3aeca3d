"""GET /me and GET /users/me."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from dagy.auth import rbac
from dagy.server.security import identity_of, state_of
from dagy.store import accounts as sql


@get("/me", sync_to_thread=False, opt={"permission": rbac.AUTHENTICATED})
def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    identity = identity_of(request)
    return {"user_email": identity.email, "org_id": identity.org_id, "role": identity.role}


@get("/users/me", sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def users_me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    identity = identity_of(request)
    org = sql.get_org(state_of(request).store, identity.org_id)
    return {
        "user_email": identity.email,
        "super_admin": identity.super_admin,
        "org_id": identity.org_id,
        "org_name": org.name if org else None,
        "role": identity.role,
    }


ROUTES = [me, users_me]
