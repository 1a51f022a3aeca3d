"""Organizations & team: orgs, members, roles."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, patch, post

from dagy.auth import rbac
from dagy.server.openapi import EMAIL, Body, display_name, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services import pagination
from dagy.services.accounts import orgs as accounts
from dagy.services.usage.quotas import PLANS
from dagy.store.accounts import Membership
from dagy.store.records import iso_z

_ROLE = {"enum": list(rbac.ROLES)}


class OrgBody(Body):
    org_name: str
    plan: str | None = None
    doc = {"org_name": display_name(100), "plan": {"enum": list(PLANS)}}


class MemberBody(Body):
    email: str
    role: str
    doc = {"email": required(EMAIL), "role": _ROLE}


class RoleBody(Body):
    role: str
    doc = {"role": _ROLE}


@post("/orgs", status_code=201, sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def create_org(request: Request[Any, Any, Any], data: OrgBody) -> dict[str, Any]:
    org = accounts.create_org(state_of(request).store, actor_of(request), data.org_name, data.plan)
    return {
        "org_id": org.org_id,
        "org_name": org.name,
        "plan": org.plan,
        "owner_email": org.owner_email,
        "created_at": iso_z(org.created_at),
    }


@get("/orgs", sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def list_orgs(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return {
        "items": [
            {
                "org_id": org.org_id,
                "org_name": org.name,
                "plan": org.plan,
                "role": role,
                "created_at": iso_z(org.created_at),
            }
            for org, role in accounts.list_orgs(state.store, identity)
        ]
    }


@post(
    "/orgs/{org_id:str}/members",
    status_code=201,
    sync_to_thread=True,
    opt={"permission": "admin.members"},
)
def add_member(request: Request[Any, Any, Any], org_id: str, data: MemberBody) -> dict[str, Any]:
    member = accounts.add_member(
        state_of(request).store, actor_of(request), org_id, data.email, data.role
    )
    return {
        "member_id": member.member_id,
        "email": member.email,
        "role": member.role,
        "added_at": iso_z(member.added_at),
        "status": member.status,
    }


def _member_item(m: Membership) -> dict[str, Any]:
    return {
        "member_id": m.member_id,
        "email": m.email,
        "role": m.role,
        "status": m.status,
        "joined_at": iso_z(m.joined_at) if m.joined_at else None,
    }


@get("/orgs/{org_id:str}/members", sync_to_thread=True, opt={"permission": "admin.members"})
def list_members(
    request: Request[Any, Any, Any],
    org_id: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    position = pagination.decode_keyset(next_token)
    rows = accounts.list_members(
        state.store,
        identity,
        org_id,
        after=position,
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda m: [m.added_at.isoformat(), m.member_id])
    return {"items": [_member_item(m) for m in items], "next_token": token}


@get("/orgs/{org_id:str}/roles", sync_to_thread=True, opt={"permission": "admin.members"})
def roles(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    accounts.own_org(state.store, identity, org_id)
    return {"roles": {role: list(perms) for role, perms in rbac.MATRIX.items()}}


@patch(
    "/orgs/{org_id:str}/members/{email:str}/role",
    sync_to_thread=True,
    opt={"permission": "admin.members"},
)
def change_role(
    request: Request[Any, Any, Any], org_id: str, email: str, data: RoleBody
) -> dict[str, Any]:
    member, _ = accounts.change_role(
        state_of(request).store, actor_of(request), org_id, email, data.role
    )
    return {
        "member_id": member.member_id,
        "email": member.email,
        "role": member.role,
        "updated_at": iso_z(member.updated_at),
    }


ROUTES = [create_org, list_orgs, add_member, list_members, roles, change_role]
