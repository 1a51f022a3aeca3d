"""Routes for the CLI on this machine only (the local token of server.json): not the public API."""

from __future__ import annotations

from typing import Any

from litestar import Request, post, put

from dagy.auth import rbac
from dagy.server.openapi import Body
from dagy.server.security import actor_of, state_of
from dagy.services.accounts import users as accounts
from dagy.services.admin import super_admins
from dagy.store.records import iso_z


class UserBody(Body):
    email: str
    password: str
    role: str = "developer"
    org_id: str = "personal"
    super_admin: bool = False


class SuperAdminBody(Body):
    super_admin: bool


@post(
    "/_local/users",
    status_code=201,
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.LOCAL},
)
def create_user(request: Request[Any, Any, Any], data: UserBody) -> dict[str, Any]:
    """`dagy users create` while the server owns the store."""
    user, membership = accounts.create_user(
        state_of(request).store,
        data.email,
        data.password,
        role=data.role,
        org_id=data.org_id,
        actor=actor_of(request),
    )
    if data.super_admin:
        super_admins.set_super_admin(state_of(request).store, actor_of(request), user.email, True)
    return {
        "member_id": membership.member_id,
        "email": user.email,
        "role": membership.role,
        "org_id": membership.org_id,
        "status": membership.status,
        "joined_at": iso_z(membership.joined_at) if membership.joined_at else None,
    }


@put(
    "/_local/users/{email:str}/super-admin",
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.LOCAL},
)
def set_super_admin(
    request: Request[Any, Any, Any], email: str, data: SuperAdminBody
) -> dict[str, Any]:
    """`dagy users set-super-admin` while the server owns the store."""
    return super_admins.set_super_admin(
        state_of(request).store, actor_of(request), email, data.super_admin
    )


ROUTES = [create_user, set_super_admin]
