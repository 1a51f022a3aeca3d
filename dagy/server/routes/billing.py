"""Billing: plans (public), the org's subscription, Stripe checkout and portal sessions
(billing.write), and Stripe's webhook (public, its signature is the credential).
See docs/usage-billing.md."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, get, post

from dagy.auth import rbac
from dagy.server.openapi import HTTP_URL, Body, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.usage import billing, quotas


class CheckoutBody(Body):
    plan: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    doc = {
        "plan": required(enum=[p for p, plan in quotas.PLANS.items() if plan.stripe_price_env]),
        "success_url": required(HTTP_URL),
        "cancel_url": required(HTTP_URL),
    }


class PortalBody(Body):
    return_url: str | None = None
    doc = {"return_url": required(HTTP_URL)}


@get("/billing/plans", sync_to_thread=False, opt={"permission": rbac.PUBLIC})
def plans() -> dict[str, Any]:
    return quotas.plans_body()


@get("/billing/subscription", sync_to_thread=True, opt={"permission": "billing.read"})
def subscription(request: Request[Any, Any, Any]) -> dict[str, Any]:
    store, org_id = state_of(request).store, identity_of(request).org_id
    return billing.subscription(store, org_id, billing.StripeSettings.from_env())


@post(
    "/billing/checkout",
    status_code=201,
    sync_to_thread=True,
    opt={"permission": "billing.write", "errors": [503]},  # 503: Stripe not configured
)
def checkout(request: Request[Any, Any, Any], data: CheckoutBody) -> dict[str, Any]:
    body = msgspec.structs.asdict(data)
    return billing.checkout(
        state_of(request).store, actor_of(request), body, billing.StripeSettings.from_env()
    )


@post(
    "/billing/portal",
    status_code=201,
    sync_to_thread=True,
    opt={"permission": "billing.write", "errors": [503]},
)
def portal(request: Request[Any, Any, Any], data: PortalBody) -> dict[str, Any]:
    body = msgspec.structs.asdict(data)
    return billing.portal(
        state_of(request).store, actor_of(request), body, billing.StripeSettings.from_env()
    )


def _webhook(state: Any, payload: bytes, header: str | None) -> None:
    settings = billing.StripeSettings.from_env()
    billing.apply_event(state.store, billing.verify(payload, header, settings), settings)


@post(
    "/billing/webhook",
    status_code=200,
    opt={"permission": rbac.PUBLIC, "errors": [400, 403, 503], "body": {"type": "object"}},
)
async def webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Verified against the raw body (re-encoding JSON would change what Stripe signed)."""
    payload = await request.body()
    header = request.headers.get("stripe-signature")
    await anyio.to_thread.run_sync(_webhook, state_of(request), payload, header)
    return {"received": True}


ROUTES = [plans, subscription, checkout, portal, webhook]
