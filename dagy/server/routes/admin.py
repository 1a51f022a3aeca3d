"""Super Admin: customer orgs across the platform (the spec's section, but /admin/exceptions*, which
dagy/server/routes/admin_exceptions.py serves). Every route is for super admins only: the guard
answers 403 ``Super admin access required`` to anyone else (``SUPER_ADMIN`` below)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post

from dagy.auth import rbac
from dagy.server.openapi import EMAIL, Body, given, required
from dagy.server.security import actor_of, state_of
from dagy.services.admin import customers

SUPER_ADMIN = {"permission": rbac.AUTHENTICATED, "super_admin": True}
CUSTOMER = "/admin/customers/{org_id:str}"
_PLANS = sorted({*customers.quotas.PLANS, *customers.PLAN_ALIASES})
_CUSTOMER = {**SUPER_ADMIN, "params": {"user_email": EMAIL, "months": {"minimum": 1}}}
_LIST = {
    **SUPER_ADMIN,
    "params": {"status": {"enum": list(customers.STATUSES)}, "plan": {"enum": _PLANS}},
}


class CustomerPatch(Body):
    status: str | msgspec.UnsetType = msgspec.UNSET
    plan: str | msgspec.UnsetType = msgspec.UNSET
    # the service checks these (its messages name the field)
    quota_overrides: Any = msgspec.UNSET
    feature_flags: Any = msgspec.UNSET
    notes: Any = msgspec.UNSET
    credits_balance: Any = msgspec.UNSET
    doc = {
        "*": {"minProperties": 1},
        "status": {"enum": list(customers.STATUSES)},
        "plan": {"enum": _PLANS},
        "quota_overrides": {
            "type": "object",
            "propertyNames": {"enum": list(customers.quotas.LIMIT_NAMES)},
            "additionalProperties": {
                "oneOf": [
                    {"type": "integer", "minimum": 0, "maximum": customers.MAX_LIMIT},
                    {"type": "null"},
                ]
            },
        },
        "feature_flags": {
            "type": "object",
            "propertyNames": {"pattern": customers._FLAG.pattern},
            "additionalProperties": {"type": ["boolean", "null"]},
        },
        "notes": {"type": ["string", "null"], "maxLength": customers.MAX_NOTES},
        "credits_balance": {"type": "number", "minimum": 0, "maximum": customers.MAX_CREDITS},
    }


class CreditsBody(Body):
    amount: Any = msgspec.UNSET  # the service checks it: a number, never 0, "500" or true
    note: Any = msgspec.UNSET
    doc = {
        "amount": required(
            {"not": {"const": 0}},
            type="number",
            minimum=-customers.MAX_CREDITS,
            maximum=customers.MAX_CREDITS,
        ),
        "note": {"type": ["string", "null"], "maxLength": 500},
    }


@get("/admin/customers", sync_to_thread=True, opt=_LIST)
def list_customers(
    request: Request[Any, Any, Any],
    status: str | None = None,
    plan: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return customers.list_customers(
        state_of(request).store,
        status=status,
        plan=plan,
        search=search,
        limit=limit,
        next_token=next_token,
    )


@get(CUSTOMER, sync_to_thread=True, opt=SUPER_ADMIN)
def get_customer(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    return customers.detail(state_of(request).store, org_id)


@patch(CUSTOMER, sync_to_thread=True, opt=SUPER_ADMIN)
def update_customer(
    request: Request[Any, Any, Any], org_id: str, data: CustomerPatch
) -> dict[str, Any]:
    return customers.update(state_of(request).store, actor_of(request), org_id, given(data))


@get(f"{CUSTOMER}/members", sync_to_thread=True, opt=SUPER_ADMIN)
def customer_members(
    request: Request[Any, Any, Any],
    org_id: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return customers.members(state_of(request).store, org_id, limit=limit, next_token=next_token)


@get(f"{CUSTOMER}/usage", sync_to_thread=True, opt=_CUSTOMER)
def customer_usage(
    request: Request[Any, Any, Any], org_id: str, months: int | None = None
) -> dict[str, Any]:
    return customers.usage(state_of(request).store, org_id, months=months)


@get(f"{CUSTOMER}/audit", sync_to_thread=True, opt=SUPER_ADMIN)
def customer_audit(
    request: Request[Any, Any, Any], org_id: str, limit: int | None = None
) -> dict[str, Any]:
    return customers.audit_trail(state_of(request).store, org_id, limit=limit)


@get(f"{CUSTOMER}/sessions", sync_to_thread=True, opt=SUPER_ADMIN)
def customer_sessions(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    return customers.sessions(state_of(request).store, org_id)


@delete(
    f"{CUSTOMER}/sessions/{{user_email:str}}",
    status_code=200,
    sync_to_thread=True,
    opt=_CUSTOMER,
)
def revoke_sessions(
    request: Request[Any, Any, Any], org_id: str, user_email: str
) -> dict[str, Any]:
    return customers.revoke_sessions(state_of(request).store, actor_of(request), org_id, user_email)


@post(f"{CUSTOMER}/suspend", status_code=200, sync_to_thread=True, opt=SUPER_ADMIN)
def suspend(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    return customers.set_status(state_of(request).store, actor_of(request), org_id, "suspended")


@post(f"{CUSTOMER}/activate", status_code=200, sync_to_thread=True, opt=SUPER_ADMIN)
def activate(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    return customers.set_status(state_of(request).store, actor_of(request), org_id, "active")


@post(f"{CUSTOMER}/credits", status_code=200, sync_to_thread=True, opt=SUPER_ADMIN)
def adjust_credits(
    request: Request[Any, Any, Any], org_id: str, data: CreditsBody
) -> dict[str, Any]:
    body = given(data)
    return customers.adjust_credits(state_of(request).store, actor_of(request), org_id, body)


@post("/admin/impersonate/{org_id:str}", status_code=200, sync_to_thread=True, opt=SUPER_ADMIN)
def impersonate(request: Request[Any, Any, Any], org_id: str) -> dict[str, Any]:
    return customers.impersonate(state_of(request).store, actor_of(request), org_id)


ROUTES = [
    list_customers,
    get_customer,
    update_customer,
    customer_members,
    customer_usage,
    customer_audit,
    customer_sessions,
    revoke_sessions,
    suspend,
    activate,
    adjust_credits,
    impersonate,
]
