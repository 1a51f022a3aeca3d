"""Usage: the billing period's summary, days, quota, dashboard and costs (billing.read), and the
local token's route that sets an org's quota override. See docs/usage-billing.md."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, put

from dagy.auth import rbac
from dagy.server.openapi import WHEN
from dagy.server.readcache import cache_of
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.usage import quotas
from dagy.services.usage import summary as usage
from dagy.store.records import utcnow

_READ = {"permission": "billing.read"}
_SPAN = {**_READ, "params": {"start_date": WHEN, "end_date": WHEN}}


def _org(request: Request[Any, Any, Any]) -> tuple[Any, str]:
    """The store and the caller's org, with the API calls counted so far written first."""
    state = state_of(request)
    if state.api_calls is not None:
        state.api_calls.flush()
    return state.store, identity_of(request).org_id


@get("/usage/summary", sync_to_thread=True, opt=_READ)
def summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The API calls not yet written are added to the store's rather than written first: a
    dashboard polling this would otherwise put a store write on every poll. What the store says is
    kept until the store changes (dagy/server/readcache.py; the month is part of the key)."""
    state, org_id = state_of(request), identity_of(request).org_id
    meter = state.api_calls
    if meter is None:
        return usage.summary(state.store, org_id)
    now = utcnow()
    start, end = quotas.month_of(now)
    with meter.settled():
        stored = cache_of(request).kept(
            state.store,
            ("usage.summary", org_id, start),
            lambda: usage.summary(state.store, org_id, now),
        )
        body = {**stored}
        body["api_call_count"] += meter.pending(org_id, start.date(), end.date())
    return body


@get("/usage/timeseries", sync_to_thread=True, opt=_SPAN)
def timeseries(
    request: Request[Any, Any, Any], start_date: str | None = None, end_date: str | None = None
) -> dict[str, Any]:
    return usage.timeseries(*_org(request), start_date, end_date)


@get("/usage/quota", sync_to_thread=True, opt=_READ)
def quota(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return quotas.quota(*_org(request))


@get("/usage/dashboard", sync_to_thread=True, opt=_READ)
def dashboard(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return usage.dashboard(*_org(request))


@get("/usage/costs", sync_to_thread=True, opt=_SPAN)
def costs(
    request: Request[Any, Any, Any], start_date: str | None = None, end_date: str | None = None
) -> dict[str, Any]:
    return usage.costs(*_org(request), start_date, end_date)


@put(
    "/_local/quotas/{org_id:str}",
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.LOCAL},
)
def set_quota(request: Request[Any, Any, Any], org_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An org's limits over its plan's (an operator's setting: the local token only)."""
    return quotas.set_override(state_of(request).store, actor_of(request), org_id, data)


ROUTES = [summary, timeseries, quota, dashboard, costs, set_quota]
