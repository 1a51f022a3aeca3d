"""What each Stripe event does to an org's plan and billing account (the webhook has verified it).

- ``checkout.session.completed``: the org (``client_reference_id``) takes the plan it paid for
  (``metadata.plan``); its customer and subscription ids are kept.
- ``customer.subscription.updated``: the plan follows the subscription's price (or its
  ``metadata.plan``) while Stripe says it is paid for (active, trialing, past_due), else free.
- ``customer.subscription.deleted``: back to free.
- ``invoice.payment_failed``: the subscription is ``past_due``; the plan stays while Stripe retries
  (a later ``customer.subscription.updated``/``deleted`` ends it).

Any other type, or an event no org matches, is recorded and changes nothing.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from dagy.services.usage import quotas
from dagy.store import accounts as account_sql
from dagy.store import billing as sql
from dagy.store.billing import BillingAccount
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

PAYING = ("active", "trialing", "past_due")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def when(value: Any) -> _dt.datetime | None:
    """A Stripe timestamp (seconds since the epoch) as the store's naive UTC."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:  # a signed event can still carry a year 10^12 or NaN: not a time, not a 500
        return _dt.datetime.fromtimestamp(value, _dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def _small_int(value: Any) -> int | None:
    """A card's month or year: an int the store's INTEGER column holds."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100_000:
        return None
    return value


def _plan_of_price(prices: dict[str, str], price_id: str | None) -> str | None:
    return next((plan for plan, price in prices.items() if price_id and price == price_id), None)


def _known_plan(value: Any) -> str | None:
    return value if isinstance(value, str) and value in quotas.PLANS else None


def _org(store: DuckDBStore, obj: dict[str, Any], *candidates: Any) -> str | None:
    """The first candidate org id that exists, else the org owning the object's customer or
    subscription."""
    for candidate in candidates:
        org_id = _str(candidate)
        if org_id and account_sql.get_org(store, org_id) is not None:
            return org_id
    subscription = obj.get("subscription") if obj.get("object") != "subscription" else obj.get("id")
    return sql.org_of(store, customer_id=obj.get("customer"), subscription_id=subscription)


def _save(store: DuckDBStore, org_id: str, plan: str | None, **changes: Any) -> None:
    account = sql.get_account(store, org_id) or BillingAccount(org_id)
    for key, value in changes.items():
        if value is not None:
            setattr(account, key, value)
    if plan is not None:
        account.plan = plan
        account_sql.update_org(store, org_id, plan=plan)
    account.updated_at = utcnow()
    sql.save_account(store, account)


def _checkout_completed(store: DuckDBStore, obj: dict[str, Any]) -> str | None:
    meta = _dict(obj.get("metadata"))
    org_id = _org(store, obj, obj.get("client_reference_id"), meta.get("org_id"))
    if org_id is None:
        return None
    details = _dict(obj.get("customer_details"))
    _save(
        store,
        org_id,
        _known_plan(meta.get("plan")),
        stripe_customer_id=_str(obj.get("customer")),
        subscription_id=_str(obj.get("subscription")),
        status="active",
        billing_email=_str(details.get("email")) or _str(obj.get("customer_email")),
    )
    return org_id


def _card(obj: dict[str, Any]) -> dict[str, Any]:
    card = _dict(_dict(obj.get("default_payment_method")).get("card"))
    return {
        "card_brand": _str(card.get("brand")),
        "card_last_four": _str(card.get("last4")),
        "card_exp_month": _small_int(card.get("exp_month")),
        "card_exp_year": _small_int(card.get("exp_year")),
    }


def _subscription_changed(
    store: DuckDBStore, obj: dict[str, Any], deleted: bool, prices: dict[str, str]
) -> str | None:
    meta = _dict(obj.get("metadata"))
    org_id = _org(store, obj, meta.get("org_id"))
    if org_id is None:
        return None
    items = _dict(obj.get("items")).get("data")
    first = _dict(items[0]) if isinstance(items, list) and items else {}
    status = "canceled" if deleted else _str(obj.get("status"))
    if deleted or status not in PAYING:
        plan: str | None = quotas.DEFAULT_PLAN
    else:
        plan = _plan_of_price(prices, _str(_dict(first.get("price")).get("id"))) or _known_plan(
            meta.get("plan")
        )
    # Newer API versions put the period on the subscription's items.
    start = obj.get("current_period_start") or first.get("current_period_start")
    end = obj.get("current_period_end") or first.get("current_period_end")
    _save(
        store,
        org_id,
        plan,
        stripe_customer_id=_str(obj.get("customer")),
        subscription_id=_str(obj.get("id")),
        status=status,
        cycle_start=when(start),
        cycle_end=when(end),
        **_card(obj),
    )
    return org_id


def _payment_failed(store: DuckDBStore, obj: dict[str, Any]) -> str | None:
    org_id = _org(store, obj, _dict(obj.get("metadata")).get("org_id"))
    if org_id is not None:
        _save(store, org_id, None, status="past_due")
    return org_id


def apply(store: DuckDBStore, event: dict[str, Any], prices: dict[str, str]) -> str | None:
    """Apply the event (``prices``: plan → Stripe price id); returns the org it changed, or None."""
    obj = _dict(_dict(event.get("data")).get("object"))
    kind = event.get("type")
    if kind == "checkout.session.completed":
        return _checkout_completed(store, obj)
    if kind in ("customer.subscription.updated", "customer.subscription.deleted"):
        return _subscription_changed(store, obj, kind == "customer.subscription.deleted", prices)
    if kind == "invoice.payment_failed":
        return _payment_failed(store, obj)
    return None
