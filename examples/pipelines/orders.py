"""The python steps of orders_etl.yaml: plain functions, called with the step's `with:` values."""

from __future__ import annotations

from typing import Any


def clean(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Orders with an id and a positive amount, customer names trimmed and lower-cased, at most
    ``limit`` of them."""
    out = []
    for row in rows:
        amount = float(row.get("amount") or 0)
        if row.get("order_id") is None or amount <= 0:
            continue
        customer = str(row.get("customer") or "").strip().lower()
        out.append({"order_id": row["order_id"], "customer": customer, "amount": amount})
    return out[:limit]


def in_cents(order: dict[str, Any]) -> dict[str, Any]:
    """One order's amount in cents (this step runs once per order)."""
    return {"order_id": order["order_id"], "cents": round(order["amount"] * 100)}
