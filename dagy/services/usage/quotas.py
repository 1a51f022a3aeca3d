"""Plans, their limits, per-org overrides, and the check every trigger goes through.

An org's limits are its plan's (``orgs.plan``, set by Stripe's webhooks), each replaced by the
org's stored override where it has one. ``check_trigger`` is called by ``execution`` under the
store's hold, just before a run is queued: a monthly runs limit reached, or (for a run that will
execute) the concurrent runs limit, is a 429 ``quota_exceeded``. Nothing is limited when no server
owns the store (the CLI on its own) or when the server owning it is ``dagy serve --local``.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from dagy.errors import InvalidInputError, NotFoundError, QuotaExceededError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.store import accounts as account_sql
from dagy.store import billing as billing_sql
from dagy.store import usage as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

WARNING_PERCENT = 80.0
DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class Limits:
    """None: unlimited."""

    monthly_runs: int | None
    monthly_tasks: int | None
    concurrent_runs: int | None
    max_run_duration_seconds: int | None


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    monthly_cost_usd: float
    limits: Limits
    stripe_price_env: str | None = None  # where checkout finds the plan's Stripe price id


PLANS: dict[str, Plan] = {
    "free": Plan("free", "Free", 0.0, Limits(100, 1_000, 2, 3_600)),
    "professional": Plan(
        "professional",
        "Professional",
        299.0,
        Limits(10_000, 100_000, 50, 86_400),
        "DAGY_STRIPE_PRICE_PROFESSIONAL",
    ),
    "enterprise": Plan(
        "enterprise",
        "Enterprise",
        1_999.0,
        Limits(None, None, 500, 7 * 86_400),
        "DAGY_STRIPE_PRICE_ENTERPRISE",
    ),
}
UNLIMITED = Limits(None, None, None, None)
LIMIT_NAMES = tuple(f.name for f in fields(Limits))


def plan_of(plan_id: str | None) -> Plan:
    return PLANS.get(plan_id or DEFAULT_PLAN, PLANS[DEFAULT_PLAN])


def plans_body() -> dict[str, Any]:
    """GET /billing/plans."""
    return {
        "items": [
            {
                "plan_id": p.plan_id,
                "name": p.name,
                "monthly_cost_usd": p.monthly_cost_usd,
                "limits": {
                    k: v
                    for k, v in asdict(p.limits).items()
                    if k in ("monthly_runs", "monthly_tasks", "concurrent_runs")
                },
            }
            for p in PLANS.values()
        ]
    }


# -- the billing period: the calendar month in UTC ------------------------------------------------


def month_of(now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
    """[first instant of the month, first instant of the next)."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + _dt.timedelta(days=32)).replace(day=1)
    return start, end


# -- who is limited -------------------------------------------------------------------------------


def enforced(store: DuckDBStore) -> bool:
    """Whether quotas apply: only in a multi-user `dagy serve`, which says so on the store it
    holds (``store.enforce_quotas``); the CLI, tests and benchmarks on a store, and ``--local``,
    are unlimited."""
    return bool(getattr(store, "enforce_quotas", False)) and store.held


def sells_plans() -> bool:
    """Whether this server sells plans through Stripe (dagy/services/usage/billing.py)."""
    return bool(os.environ.get("STRIPE_API_KEY"))


def effective_plan(store: DuckDBStore, org_id: str) -> Plan:
    """The plan an org's limits come from: ``orgs.plan``, except on a server that sells plans,
    where only what Stripe's webhooks granted counts (a plan asked for in POST /orgs is not paid
    for: free until a checkout completes)."""
    if sells_plans():
        account = billing_sql.get_account(store, org_id)
        return plan_of(account.plan if account else None)
    org = account_sql.get_org(store, org_id)
    return plan_of(org.plan if org else None)


def limits_of(store: DuckDBStore, org_id: str) -> tuple[str, Limits]:
    """The org's plan id and its limits with the org's overrides applied."""
    plan = effective_plan(store, org_id)
    limits = plan.limits
    override = sql.get_override(store, org_id)
    if override is not None:
        changes = {k: v for k, v in asdict(override).items() if v is not None}
        limits = replace(limits, **changes)
    return plan.plan_id, limits


def _percent(used: int, limit: int | None) -> float | None:
    if limit is None:
        return None
    if limit <= 0:
        return 100.0
    return round(100.0 * used / limit, 1)


def quota(store: DuckDBStore, org_id: str, now: _dt.datetime | None = None) -> dict[str, Any]:
    """GET /usage/quota: limits, this month's use against them, ``warning`` from 80%."""
    now = now or utcnow()
    start, end = month_of(now)
    with store.connection():
        plan_id, limits = limits_of(store, org_id)
        if not enforced(store):
            plan_id, limits = "local", UNLIMITED
        current = {
            "monthly_runs": sql.runs_since(store, org_id, start),
            "monthly_tasks": sql.tasks_since(store, org_id, start),
            "concurrent_runs": sql.concurrent_runs(store, org_id),
        }
    percentages = {k: _percent(v, getattr(limits, k)) for k, v in current.items()}
    known = [p for p in percentages.values() if p is not None]
    return {
        "plan": plan_id,
        "limits": asdict(limits),
        "current_usage": current,
        "percentages": percentages,
        "warning": any(p >= WARNING_PERCENT for p in known),
        "over_limit": any(p >= 100.0 for p in known),
        "reset_at": iso_z(end),
    }


def check_trigger(
    store: DuckDBStore, org_id: str, *, execute: bool, now: _dt.datetime | None = None
) -> None:
    """Raise QuotaExceededError when queueing one more run would pass the org's limits.

    Call it under the store's hold with the insert that follows, so two triggers cannot both
    take the last run of a quota.
    """
    if not enforced(store):
        return
    now = now or utcnow()
    start, end = month_of(now)
    _, limits = limits_of(store, org_id)
    if limits.monthly_runs is not None:
        used = sql.runs_since(store, org_id, start)
        if used >= limits.monthly_runs:
            raise QuotaExceededError(
                "Monthly run quota exhausted",
                {"quota": "monthly_runs"},
                fields={
                    "limit": limits.monthly_runs,
                    "current_usage": used,
                    "reset_at": iso_z(end),
                },
                retry_after=max(1, int((end - now).total_seconds())),
            )
    if execute and limits.concurrent_runs is not None:
        active = sql.concurrent_runs(store, org_id)
        if active >= limits.concurrent_runs:
            raise QuotaExceededError(
                "Concurrent run limit reached",
                {"quota": "concurrent_runs"},
                fields={"limit": limits.concurrent_runs, "current_usage": active, "reset_at": None},
            )


def set_override(store: DuckDBStore, actor: Actor, org_id: Any, raw: Any) -> dict[str, Any]:
    """Store an org's limits (each a non-negative integer, or null to keep the plan's); an empty
    object removes the override. Returns the org's quota afterwards; audited as ``actor``."""
    if not isinstance(raw, dict):
        raise InvalidInputError("Invalid quota override", {"body": "an object"})
    unknown = sorted(set(raw) - set(LIMIT_NAMES))
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    for key, value in raw.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidInputError(f"Invalid {key}", {key: "a non-negative integer or null"})
    with store.transaction():
        if not isinstance(org_id, str) or account_sql.get_org(store, org_id) is None:
            raise NotFoundError(f"Organization not found: {org_id}")
        if not any(v is not None for v in raw.values()):
            sql.delete_override(store, org_id)
        else:
            values = {k: raw.get(k) for k in LIMIT_NAMES}
            sql.set_override(store, org_id, sql.Override(**values), utcnow())
        answer = quota(store, org_id)
        audit.write(
            store, actor, "update", "quota", org_id, changes=answer["limits"], org_id=org_id
        )
    return answer
