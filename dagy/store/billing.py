"""SQL for billing: an org's Stripe customer and subscription, and the Stripe events applied."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class BillingAccount:
    org_id: str
    stripe_customer_id: str | None = None
    subscription_id: str | None = None
    status: str | None = None
    plan: str | None = None
    billing_email: str | None = None
    cycle_start: _dt.datetime | None = None
    cycle_end: _dt.datetime | None = None
    card_brand: str | None = None
    card_last_four: str | None = None
    card_exp_month: int | None = None
    card_exp_year: int | None = None
    updated_at: _dt.datetime | None = None


_COLUMNS = tuple(f.name for f in fields(BillingAccount))


def get_account(store: DuckDBStore, org_id: str) -> BillingAccount | None:
    with store.connection() as con:
        row = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM billing_accounts WHERE org_id = ?", [org_id]
        ).fetchone()
    return BillingAccount(*row) if row else None


def org_of(store: DuckDBStore, *, customer_id: Any, subscription_id: Any) -> str | None:
    """The org a Stripe customer or subscription belongs to (ids only match strings)."""
    keys = [k if isinstance(k, str) and k else None for k in (customer_id, subscription_id)]
    if keys == [None, None]:
        return None
    with store.connection() as con:
        row = con.execute(
            "SELECT org_id FROM billing_accounts "
            "WHERE stripe_customer_id = ? OR subscription_id = ? ORDER BY updated_at DESC LIMIT 1",
            keys,
        ).fetchone()
    return str(row[0]) if row else None


def save_account(store: DuckDBStore, account: BillingAccount) -> None:
    cols = ", ".join(_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "org_id")
    with store.connection() as con:
        con.execute(
            f"INSERT INTO billing_accounts ({cols}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
            f"ON CONFLICT (org_id) DO UPDATE SET {sets}",
            [getattr(account, c) for c in _COLUMNS],
        )


def event_seen(store: DuckDBStore, event_id: str) -> bool:
    with store.connection() as con:
        row = con.execute("SELECT 1 FROM stripe_events WHERE event_id = ?", [event_id]).fetchone()
    return row is not None


def record_event(
    store: DuckDBStore, event_id: str, kind: str, org_id: str | None, now: _dt.datetime
) -> None:
    with store.connection() as con:
        con.execute(
            "INSERT INTO stripe_events (event_id, type, org_id, processed_at) VALUES (?, ?, ?, ?)",
            [event_id, kind, org_id, now],
        )
