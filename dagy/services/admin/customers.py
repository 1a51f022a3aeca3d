"""Customer orgs as a super admin sees and changes them (the spec's "Super Admin" section).

Rules that live here (the routes and the CLI only call them):
- every change is audited in the customer org's own trail (``org_id`` of the row is the
  customer's; the actor is the super admin), in the change's transaction;
- ``status`` suspends or activates: a suspended org's members, keys, webhooks, sensors and
  schedules are refused (dagy/services/admin/suspension.py says where);
- ``quota_overrides`` are the limits the server enforces (dagy/services/usage/quotas.py reads the
  ``quota_overrides`` table this writes; ``orgs.quota_overrides`` keeps the same object);
- ``feature_flags`` are read through dagy/services/accounts/features.py;
- ``credits_balance`` is reached through ``credits.adjust`` by the difference (one ledger row);
- revoking a user's sessions bumps the accounts generation, so the server's identity cache
  forgets the revoked tokens at once: the next request with one is a 401.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import asdict
from typing import Any

from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.services.accounts import audit, credits
from dagy.services.accounts.audit import Actor
from dagy.services.accounts.users import normalize_email
from dagy.services.admin.suspension import ACTIVE, SUSPENDED
from dagy.services.usage import quotas, summary
from dagy.store import accounts as account_sql
from dagy.store import admin as sql
from dagy.store import usage as usage_sql
from dagy.store.admin import Customer
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

# How long an impersonation started by POST /admin/impersonate/{org_id} lets the header act.
IMPERSONATION_TTL = _dt.timedelta(hours=8)

STATUSES = (ACTIVE, SUSPENDED)
PLAN_ALIASES = {"pro": "professional"}
PATCH_FIELDS = ("status", "plan", "quota_overrides", "feature_flags", "notes", "credits_balance")
MAX_NOTES = 4000
MAX_LIMIT = 2**53  # a quota above this is no limit anyone means (and past BIGINT soon after)
MAX_CREDITS = 1e12  # per adjustment and as a balance: far past any real grant, far from inf
_FLAG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# -- reading --------------------------------------------------------------------------------------


def _plan(value: Any, field: str = "plan") -> str:
    if not isinstance(value, str) or PLAN_ALIASES.get(value, value) not in quotas.PLANS:
        raise InvalidInputError(
            f"Invalid {field}: {value!r}", {field: f"one of {', '.join(quotas.PLANS)}"}
        )
    return PLAN_ALIASES.get(value, value)


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise InvalidInputError(
            f"Invalid status: {value!r}", {"status": f"one of {', '.join(STATUSES)}"}
        )
    return str(value)


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _summary(c: Customer) -> dict[str, Any]:
    return {
        "org_id": c.org_id,
        "org_name": c.org_name,
        "owner_email": c.owner_email,
        "plan": c.plan,
        "status": c.status,
        "member_count": c.member_count,
        "created_at": iso_z(c.created_at),
        "updated_at": iso_z(c.updated_at),
    }


def _customer(store: DuckDBStore, org_id: Any) -> Customer:
    found = sql.get_customer(store, org_id) if isinstance(org_id, str) else None
    if found is None:
        raise NotFoundError(f"Organization not found: {org_id}", {"org_id": org_id})
    return found


def list_customers(
    store: DuckDBStore,
    *,
    status: str | None = None,
    plan: str | None = None,
    search: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """GET /admin/customers: orgs oldest first; ``total`` counts every match, not the page."""
    size = pagination.clamp_limit(limit, default=50, maximum=200)
    status = _status(status) if status else None
    plan = _plan(plan) if plan else None
    search = search.strip()[:200] if isinstance(search, str) and search.strip() else None
    after = pagination.decode_keyset(next_token)
    rows, total = sql.list_customers(
        store, status=status, plan=plan, search=search, after=after, limit=size + 1
    )
    items, token = pagination.page(rows, size, lambda c: [c.created_at.isoformat(), c.org_id])
    return {"items": [_summary(c) for c in items], "total": total, "next_token": token}


def detail(store: DuckDBStore, org_id: Any) -> dict[str, Any]:
    """GET /admin/customers/{org_id}."""
    with store.transaction():
        c = _customer(store, org_id)
        balance = credits.balance(store, c.org_id)
        override = usage_sql.get_override(store, c.org_id)
    overrides = {k: v for k, v in asdict(override).items() if v is not None} if override else {}
    return {
        **_summary(c),
        "quota_overrides": overrides,
        "feature_flags": _json_object(c.feature_flags),
        "notes": c.notes,
        "credits_balance": balance,
        "suspended_at": iso_z(c.suspended_at) if c.suspended_at else None,
    }


def members(
    store: DuckDBStore, org_id: Any, *, limit: Any = None, next_token: str | None = None
) -> dict[str, Any]:
    """GET /admin/customers/{org_id}/members: in the order they were added."""
    size = pagination.clamp_limit(limit, default=100, maximum=500)
    after = pagination.decode_keyset(next_token)
    with store.connection():
        _customer(store, org_id)
        rows = account_sql.list_members(store, org_id, after=after, limit=size + 1)
    items, token = pagination.page(rows, size, lambda m: [m.added_at.isoformat(), m.member_id])
    return {
        "items": [
            {
                "user_email": m.email,
                "role": m.role,
                "status": m.status,
                "joined_at": iso_z(m.joined_at) if m.joined_at else None,
            }
            for m in items
        ],
        "next_token": token,
    }


def _month_back(start: _dt.datetime) -> _dt.datetime:
    return (start - _dt.timedelta(days=1)).replace(day=1)


def usage(
    store: DuckDBStore, org_id: Any, *, months: Any = None, now: _dt.datetime | None = None
) -> dict[str, Any]:
    """GET /admin/customers/{org_id}/usage: a monthly aggregate per month (this one first, ``months``
    of them, default 3) and this month's daily series (the same figures as GET /usage/*)."""
    count = pagination.clamp_limit(months, default=3, maximum=24)
    now = now or utcnow()
    with store.connection():
        c = _customer(store, org_id)
        start, end = quotas.month_of(now)
        items = []
        for _ in range(count):
            t = usage_sql.totals(store, summary._window(c.org_id, start, end))
            items.append(
                {
                    "org_id": c.org_id,
                    "period": start.strftime("%Y-%m"),
                    "run_count": t.run_count,
                    "task_count": t.task_count,
                    "compute_seconds": round(t.compute_seconds, 3),
                    "api_call_count": t.api_call_count,
                    "error_count": t.error_count,
                    "estimated_cost_usd": round(t.cost_usd, 2),
                }
            )
            start, end = _month_back(start), start
        daily = summary.timeseries(store, c.org_id, None, None)["items"]
    return {"items": items, "daily": daily}


def audit_trail(store: DuckDBStore, org_id: Any, *, limit: Any = None) -> dict[str, Any]:
    """GET /admin/customers/{org_id}/audit: that org's rows, newest first."""
    size = pagination.clamp_limit(limit, default=50, maximum=500)
    with store.connection():
        c = _customer(store, org_id)
        rows = account_sql.query_audit(
            store, c.org_id, filters={}, start=None, end=None, before=None, limit=size
        )
    return {
        "items": [
            {
                "org_id": e.org_id,
                "event_time": iso_z(e.ts),
                "resource_type": e.resource_type,
                "resource_id": e.resource_id,
                "action": e.action,
                "actor_email": e.actor_email,
                "impersonated_by": e.impersonated_by,
                "metadata": json.loads(e.changes) if e.changes else {},
            }
            for e in rows
        ]
    }


def sessions(store: DuckDBStore, org_id: Any) -> dict[str, Any]:
    """GET /admin/customers/{org_id}/sessions: each member's last login and live token."""
    with store.connection():
        c = _customer(store, org_id)
        rows = sql.sessions(store, c.org_id, utcnow())
    return {
        "items": [
            {
                "user_email": s.user_email,
                "last_login_at": iso_z(s.last_login_at) if s.last_login_at else None,
                "current_token_issued_at": (
                    iso_z(s.current_token_issued_at) if s.current_token_issued_at else None
                ),
                "active_sessions": s.active_sessions,
            }
            for s in rows
        ]
    }


# -- changing -------------------------------------------------------------------------------------


def _check_overrides(raw: Any) -> dict[str, int | None]:
    if not isinstance(raw, dict):
        raise InvalidInputError(
            "quota_overrides must be an object", {"quota_overrides": "an object"}
        )
    unknown = sorted(set(raw) - set(quotas.LIMIT_NAMES))
    if unknown:
        raise InvalidInputError(
            f"Unknown quota: {unknown[0]}",
            {"quota_overrides": f"known quotas: {', '.join(quotas.LIMIT_NAMES)}"},
        )
    for key, value in raw.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT
        ):
            raise InvalidInputError(
                f"Invalid quota override {key}",
                {key: f"an integer from 0 to {MAX_LIMIT}, or null"},
            )
    return {str(k): v for k, v in raw.items()}


def _check_flags(raw: Any) -> dict[str, bool | None]:
    if not isinstance(raw, dict):
        raise InvalidInputError("feature_flags must be an object", {"feature_flags": "an object"})
    for key, value in raw.items():
        if not isinstance(key, str) or not _FLAG.match(key):
            raise InvalidInputError(
                f"Invalid feature flag name: {key!r}",
                {"feature_flags": "names are lower-case letters, digits and _ (64 at most)"},
            )
        if value is not None and not isinstance(value, bool):
            raise InvalidInputError(
                f"Invalid value for feature flag {key}", {key: "true, false or null (unset)"}
            )
    return dict(raw)


def _check_notes(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > MAX_NOTES:
        raise InvalidInputError(
            "Invalid notes", {"notes": f"a string of at most {MAX_NOTES} characters, or null"}
        )
    return raw


def _check_balance(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise InvalidInputError(
            "credits_balance must be a finite number", {"credits_balance": "a number"}
        )
    if not 0 <= raw <= MAX_CREDITS:
        raise InvalidInputError(
            "credits_balance out of range", {"credits_balance": f"from 0 to {MAX_CREDITS:g}"}
        )
    return round(float(raw), 6)


def update(store: DuckDBStore, actor: Actor, org_id: Any, body: Any) -> dict[str, Any]:
    """PATCH /admin/customers/{org_id}: any of PATCH_FIELDS; all checked before anything is
    written, then written with one audit row in one transaction. Answers the detail."""
    if not isinstance(body, dict) or not body:
        raise InvalidInputError(
            "No fields to update", {"body": f"any of {', '.join(PATCH_FIELDS)}"}
        )
    unknown = sorted(set(body) - set(PATCH_FIELDS))
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    status = _status(body["status"]) if "status" in body else None
    plan = _plan(body["plan"]) if "plan" in body else None
    overrides = _check_overrides(body["quota_overrides"]) if "quota_overrides" in body else None
    flags = _check_flags(body["feature_flags"]) if "feature_flags" in body else None
    notes = _check_notes(body["notes"]) if "notes" in body else None
    balance = _check_balance(body["credits_balance"]) if "credits_balance" in body else None
    now = utcnow()
    with store.transaction():
        c = _customer(store, org_id)
        # Opened (with the current plan's grant) before a plan change, so the balance set below
        # is reached from what the org had.
        have = credits.balance(store, c.org_id)
        changes: dict[str, Any] = {}
        columns: dict[str, Any] = {}
        if status is not None and status != c.status:
            columns |= _status_columns(status, now)
            changes["status"] = [c.status, status]
        if plan is not None and plan != c.plan:
            columns["plan"] = plan
            changes["plan"] = [c.plan, plan]
        if overrides is not None:
            kept = {k: v for k, v in overrides.items() if v is not None}
            if kept:
                values = {k: overrides.get(k) for k in quotas.LIMIT_NAMES}
                usage_sql.set_override(store, c.org_id, usage_sql.Override(**values), now)
            else:
                usage_sql.delete_override(store, c.org_id)
            columns["quota_overrides"] = json.dumps(kept)
            changes["quota_overrides"] = kept
        if flags is not None:
            merged = {**_json_object(c.feature_flags), **flags}
            merged = {k: v for k, v in merged.items() if v is not None}
            columns["feature_flags"] = json.dumps(merged)
            changes["feature_flags"] = flags
        if "notes" in body:
            columns["notes"] = notes
            changes["notes"] = [c.notes, notes]
        if columns:
            account_sql.update_org(store, c.org_id, updated_at=now, **columns)
        if balance is not None:
            if round(balance - have, 6) != 0:
                credits.adjust(store, c.org_id, balance - have, actor, note="PATCH credits_balance")
                account_sql.update_org(store, c.org_id, updated_at=now)
            changes["credits_balance"] = [have, balance]
        audit.write(
            store,
            actor,
            "update",
            "customer",
            c.org_id,
            resource_name=c.org_name,
            changes=changes,
            org_id=c.org_id,
        )
        return detail(store, c.org_id)


def _status_columns(status: str, now: _dt.datetime) -> dict[str, Any]:
    if status == SUSPENDED:
        return {"status": SUSPENDED, "suspended_at": now}
    return {"status": ACTIVE, "suspended_at": None}


def set_status(store: DuckDBStore, actor: Actor, org_id: Any, status: str) -> dict[str, Any]:
    """POST /admin/customers/{org_id}/suspend and /activate (idempotent; audited each time)."""
    status = _status(status)
    now = utcnow()
    with store.transaction():
        c = _customer(store, org_id)
        if c.status != status:
            account_sql.update_org(store, c.org_id, updated_at=now, **_status_columns(status, now))
        audit.write(
            store,
            actor,
            "update",
            "customer",
            c.org_id,
            resource_name=c.org_name,
            changes={"status": [c.status, status]},
            org_id=c.org_id,
        )
    return {"status": status, "org_id": c.org_id}


def adjust_credits(store: DuckDBStore, actor: Actor, org_id: Any, body: Any) -> dict[str, Any]:
    """POST /admin/customers/{org_id}/credits: ``amount`` either sign, never zero/NaN/text."""
    if not isinstance(body, dict) or "amount" not in body:
        raise InvalidInputError("amount is required", {"amount": "required"})
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise InvalidInputError("Invalid note", {"note": "a string of at most 500 characters"})
    amount = body["amount"]
    if (
        isinstance(amount, (int, float))
        and not isinstance(amount, bool)
        and abs(amount) > MAX_CREDITS
    ):
        raise InvalidInputError(
            "amount out of range", {"amount": f"at most {MAX_CREDITS:g} either way"}
        )
    _customer(store, org_id)
    after = credits.adjust(store, org_id, amount, actor, note=note)
    return {"org_id": org_id, "credits_balance": after}


def revoke_sessions(store: DuckDBStore, actor: Actor, org_id: Any, email: Any) -> dict[str, Any]:
    """DELETE /admin/customers/{org_id}/sessions/{email}: that user's live tokens in that org."""
    email = normalize_email(email, field="user_email")
    with store.transaction():
        c = _customer(store, org_id)
        deleted = account_sql.revoke_tokens_of(store, email, c.org_id, utcnow())
        audit.write(
            store,
            actor,
            "delete",
            "session",
            email,
            resource_name=email,
            changes={"revoked": deleted},
            org_id=c.org_id,
        )
    return {"status": "revoked", "user_email": email, "deleted": deleted}


def impersonate(store: DuckDBStore, actor: Actor, org_id: Any) -> dict[str, Any]:
    """POST /admin/impersonate/{org_id}: opens an impersonation for IMPERSONATION_TTL (again:
    renews it), audited in the customer's trail; the super admin then sends
    ``X-Impersonate-Org: <org_id>`` (dagy/server/security.py) to act as its owner."""
    now = utcnow()
    expires = now + IMPERSONATION_TTL
    with store.transaction():
        c = _customer(store, org_id)
        sql.start_impersonation(store, str(actor.email), c.org_id, now, expires)
        audit.write(
            store,
            actor,
            "login",
            "impersonation",
            c.org_id,
            resource_name=c.org_name,
            changes={"super_admin": actor.email, "impersonating": True},
            org_id=c.org_id,
        )
    return {
        "org_id": c.org_id,
        "org_name": c.org_name,
        "impersonating": True,
        "expires_at": iso_z(expires),
    }
