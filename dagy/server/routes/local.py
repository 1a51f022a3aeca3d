"""Routes for the CLI on this machine only (the local token of server.json): not the public API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post

from dagy.auth import rbac
from dagy.server.security import audit_request, state_of
from dagy.services.accounts import users as accounts


class UserBody(msgspec.Struct):
    email: str
    password: str
    role: str = "developer"
    org_id: str = "personal"


@post(
    "/_local/users",
    status_code=201,
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.LOCAL},
)
def create_user(request: Request[Any, Any, Any], data: UserBody) -> dict[str, Any]:
    """`dagy users create` while the server owns the store."""
    state = state_of(request)
    with state.store.connection():
        user, membership = accounts.create_user(
            state.store, data.email, data.password, role=data.role, org_id=data.org_id
        )
        audit_request(
            request,
            "create",
            "user",
            user.email,
            name=user.email,
            changes={"role": [None, membership.role]},
            org_id=membership.org_id,
        )
    return {"email": user.email, "role": membership.role, "org_id": membership.org_id}


ROUTES = [create_user]
