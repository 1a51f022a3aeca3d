"""Billing through Stripe: subscription, checkout and portal sessions, and the webhook that sets an
org's plan.

Configured from the environment: ``STRIPE_API_KEY`` (without it checkout and portal are a 503;
the subscription is then the org's local plan), ``STRIPE_WEBHOOK_SECRET`` (the webhook's), ``DAGY_STRIPE_API_BASE`` (another API base,
e.g. a local stand-in for tests) and ``DAGY_STRIPE_PRICE_<PLAN>`` (the Stripe price id a plan is
sold at). The ``stripe`` package (the ``billing`` extra) is imported only here, only when used,
and after the configuration check: without it, checkout, portal and webhook are a 503 too. Keys
are never logged nor put in an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dagy.config import settings
from dagy.errors import InvalidInputError, PermissionDeniedError, ServiceUnavailableError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.usage import billing_events, quotas
from dagy.store import accounts as account_sql
from dagy.store import billing as sql
from dagy.store.billing import BillingAccount
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class StripeSettings:
    api_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    api_base: str | None = None
    prices: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> StripeSettings:
        prices = {
            plan.plan_id: price
            for plan in quotas.PLANS.values()
            if plan.stripe_price_env and (price := settings.declared(plan.stripe_price_env).get())
        }
        return cls(
            os.environ.get("STRIPE_API_KEY") or None,
            os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
            settings.STRIPE_API_BASE.get() or None,
            prices,
        )

    def require_api(self) -> str:
        if not self.api_key:
            raise ServiceUnavailableError(
                "Billing is not configured on this server: set STRIPE_API_KEY"
            )
        return self.api_key

    def client(self) -> Any:
        key = self.require_api()
        stripe = _sdk()
        if self.api_base:
            base: Any = {"api": self.api_base.rstrip("/")}
            return stripe.StripeClient(key, base_addresses=base, max_network_retries=0)
        return stripe.StripeClient(key, max_network_retries=0)


def _sdk() -> Any:
    """The stripe SDK, or a 503 saying how to get it (the server extra alone does not have it)."""
    try:
        import stripe
    except ImportError:
        raise ServiceUnavailableError(
            "Billing needs the stripe package on this server: pip install 'dagy[billing]'"
        ) from None
    return stripe


def _stripe_call(fn: Any, params: dict[str, Any]) -> Any:
    stripe = _sdk()
    try:
        return fn(params=params)
    except stripe.StripeError as exc:
        # user_message is Stripe's text for people; it never holds the full key.
        why = exc.user_message or type(exc).__name__
        raise ServiceUnavailableError(f"Stripe refused the request: {why}") from None


def _url(value: Any, name: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"Invalid {name}", {name: "an http(s) URL"})
    return str(value)


# -- reading --------------------------------------------------------------------------------------


def subscription(store: DuckDBStore, org_id: str, settings: StripeSettings) -> dict[str, Any]:
    """GET /billing/subscription: the org's plan and limits as this server knows them, and what
    Stripe last said about its subscription (nothing when this server does not sell plans)."""
    with store.connection():
        org = account_sql.get_org(store, org_id)
        account = sql.get_account(store, org_id) or BillingAccount(org_id)
        plan = quotas.effective_plan(store, org_id)
        _, limits = quotas.limits_of(store, org_id)
    start, end = quotas.month_of(utcnow())
    card = None
    if account.card_last_four:
        card = {
            "type": "card",
            "brand": account.card_brand,
            "last_four": account.card_last_four,
            "expiry_month": account.card_exp_month,
            "expiry_year": account.card_exp_year,
        }
    return {
        "subscription_id": account.subscription_id,
        "plan": plan.plan_id,
        # No Stripe subscription: the local plan is simply in effect (unless plans are sold).
        "status": account.status or ("none" if settings.api_key else "active"),
        "billing_cycle_start": iso_z(account.cycle_start or start),
        "billing_cycle_end": iso_z(account.cycle_end or end - _dt.timedelta(seconds=1)),
        "billing_email": account.billing_email or (org.owner_email if org else None),
        "monthly_cost_usd": plan.monthly_cost_usd,
        "payment_method": card,
        "limits": asdict(limits),
        "billing_configured": settings.api_key is not None,
    }


# -- sessions -------------------------------------------------------------------------------------


def checkout(
    store: DuckDBStore, actor: Actor, body: Any, settings: StripeSettings
) -> dict[str, Any]:
    """POST /billing/checkout: a Stripe Checkout session subscribing the actor's org to a paid
    plan; the session is audited as ``actor`` once Stripe made it."""
    client, org_id = settings.client(), actor.org_id
    if not isinstance(body, dict):
        raise InvalidInputError("Invalid request body", {"body": "an object"})
    plan_id = body.get("plan")
    paid = [p for p, plan in quotas.PLANS.items() if plan.stripe_price_env]
    if plan_id not in paid:
        raise InvalidInputError(f"Invalid plan: {plan_id!r}", {"plan": f"one of {', '.join(paid)}"})
    success_url = _url(body.get("success_url"), "success_url")
    cancel_url = _url(body.get("cancel_url"), "cancel_url")
    price = settings.prices.get(plan_id)
    if price is None:
        env = quotas.PLANS[plan_id].stripe_price_env
        raise ServiceUnavailableError(f"No Stripe price is configured for {plan_id}: set {env}")
    with store.connection():
        org = account_sql.get_org(store, org_id)
        account = sql.get_account(store, org_id)
    meta = {"org_id": org_id, "plan": plan_id}
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": org_id,
        "metadata": meta,
        "subscription_data": {"metadata": meta},
    }
    if account is not None and account.stripe_customer_id:
        params["customer"] = account.stripe_customer_id
    else:
        billing_email = (org.owner_email if org else None) or actor.email or ""
        if "@" in billing_email:
            params["customer_email"] = billing_email
    session = _stripe_call(client.v1.checkout.sessions.create, params)
    with store.transaction():
        audit.write(
            store, actor, "create", "checkout_session", session.id, changes={"plan": plan_id}
        )
    expires = billing_events.when(getattr(session, "expires_at", None))
    return {
        "checkout_id": session.id,
        "url": session.url,
        "expires_at": iso_z(expires) if expires else None,
    }


def portal(store: DuckDBStore, actor: Actor, body: Any, settings: StripeSettings) -> dict[str, Any]:
    """POST /billing/portal: a Stripe customer portal session for the actor's org's customer,
    audited as ``actor``."""
    client, org_id = settings.client(), actor.org_id
    if not isinstance(body, dict):
        raise InvalidInputError("Invalid request body", {"body": "an object"})
    return_url = _url(body.get("return_url"), "return_url")
    with store.connection():
        account = sql.get_account(store, org_id)
    if account is None or not account.stripe_customer_id:
        raise InvalidInputError(
            "This organization has no Stripe customer yet: subscribe with POST /billing/checkout",
            {"customer": "none"},
        )
    params = {"customer": account.stripe_customer_id, "return_url": return_url}
    session = _stripe_call(client.v1.billing_portal.sessions.create, params)
    with store.transaction():
        audit.write(store, actor, "create", "portal_session", session.id)
    return {"portal_session_id": session.id, "url": session.url}


# -- the webhook ----------------------------------------------------------------------------------


def verify(payload: bytes, header: str | None, settings: StripeSettings) -> dict[str, Any]:
    """The event of a webhook whose ``Stripe-Signature`` checks out.

    400 when the header is missing or unreadable, or the body is not an event; 403 when no
    signature matches or the timestamp is older than five minutes (a replay of a captured call);
    503 when the webhook secret or the stripe SDK is missing.
    """
    if not settings.webhook_secret:
        raise ServiceUnavailableError(
            "Stripe webhooks are not configured on this server: set STRIPE_WEBHOOK_SECRET"
        )
    stripe = _sdk()
    items = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    if not header or not items.get("t", "").isdigit() or "v1" not in items:
        raise InvalidInputError("Invalid signature: a Stripe-Signature header is required")
    try:
        stripe.WebhookSignature.verify_header(
            payload, header, settings.webhook_secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError:
        raise PermissionDeniedError("Signature verification failed") from None
    except UnicodeDecodeError:
        raise InvalidInputError("Invalid payload: not UTF-8") from None
    try:
        event = json.loads(payload)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise InvalidInputError("Invalid payload: not a Stripe event", {"id": "required"})
    if not isinstance(event.get("type"), str):
        raise InvalidInputError("Invalid payload: not a Stripe event", {"type": "required"})
    return event


def apply_event(store: DuckDBStore, event: dict[str, Any], settings: StripeSettings) -> bool:
    """Apply a verified event to its org's plan, once: False when its id was applied before."""
    with store.transaction():
        if sql.event_seen(store, event["id"]):
            return False  # nothing written: the empty transaction commits
        org_id = billing_events.apply(store, event, settings.prices)
        sql.record_event(store, event["id"], event["type"], org_id, utcnow())
    return True
