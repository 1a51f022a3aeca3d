"""An org's credits: the balance metered features spend (the AI studio's turns) and super admins
adjust. One balance per org, opened with its plan's grant the first time it is read.

Rules that live here:
- a balance never goes below zero: ``spend`` checks and takes in one statement inside the caller's
  transaction, so two turns racing for the last credit cannot both have it (the server serialises
  store blocks on its one connection; the row's CHECK is the last guard);
- every change is a ``credit_ledger`` row (delta, balance after, reason, ref, actor) in the same
  transaction as the change; ``adjust`` (a super admin's) writes its audit row there too;
- amounts are finite numbers; zero is not a change.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from dagy.errors import InsufficientCreditsError, InvalidInputError, NotFoundError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

# What a new org's balance opens with, by plan.
PLAN_GRANTS = {"free": 100.0, "professional": 1000.0, "enterprise": 10000.0}


def amount_of(value: Any, *, field: str = "amount", allow_negative: bool = True) -> float:
    """``value`` as a credit amount: a finite non-zero number (bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{field} must be a number", {field: "must be a number"})
    amount = float(value)
    if not math.isfinite(amount) or amount == 0:
        raise InvalidInputError(
            f"{field} must be a finite number other than zero", {field: "finite, not zero"}
        )
    if amount < 0 and not allow_negative:
        raise InvalidInputError(f"{field} must be positive", {field: "must be positive"})
    return round(amount, 6)


def balance(store: DuckDBStore, org_id: str) -> float:
    """The org's balance (opening it with the plan's grant on first read)."""
    with store.transaction() as con:
        return _open(con, org_id)


def spend(
    store: DuckDBStore, org_id: str, amount: float, *, ref: str | None, actor_email: str | None
) -> float:
    """Take ``amount`` from the balance; InsufficientCreditsError (402), changing nothing, when
    the balance is short. Answers the balance after. Call it inside the transaction that records
    what the credits paid for, so a failure after it returns the credits."""
    amount = amount_of(amount, allow_negative=False)
    with store.transaction() as con:
        have = _open(con, org_id)
        row = con.execute(
            "UPDATE org_credits SET balance = balance - ?, updated_at = ? "
            "WHERE org_id = ? AND balance >= ? RETURNING balance",
            [amount, utcnow(), org_id, amount],
        ).fetchone()
        if row is None:
            raise InsufficientCreditsError(
                f"Insufficient credits: this needs {amount:g}, the balance is {have:g}",
                {"required": amount, "credits_balance": have},
            )
        after = float(row[0])
        _ledger(con, org_id, -amount, after, "spend", ref, actor_email)
        return after


def adjust(
    store: DuckDBStore, org_id: str, amount: Any, actor: Actor, *, note: str | None = None
) -> float:
    """A super admin's change of the balance by ``amount`` (either sign); the balance stays at
    zero or above (400 otherwise, nothing changed). Answers the balance after."""
    delta = amount_of(amount)
    with store.transaction() as con:
        exists = con.execute("SELECT 1 FROM orgs WHERE org_id = ?", [org_id]).fetchone()
        if exists is None:
            raise NotFoundError(f"Organization not found: {org_id}", {"org_id": org_id})
        have = _open(con, org_id)
        if have + delta < 0:
            raise InvalidInputError(
                f"amount would take the balance below zero (balance {have:g})",
                {"amount": "balance cannot go below zero", "credits_balance": have},
            )
        con.execute(
            "UPDATE org_credits SET balance = ?, updated_at = ? WHERE org_id = ?",
            [have + delta, utcnow(), org_id],
        )
        email = actor.identity.email if actor.identity is not None else None
        _ledger(con, org_id, delta, have + delta, "adjust", note, email)
        audit.write(
            store,
            actor,
            "update",
            "credits",
            org_id,
            changes={"amount": delta, "credits_balance": have + delta},
            org_id=org_id,
        )
        return have + delta


def _open(con: Any, org_id: str) -> float:
    row = con.execute("SELECT balance FROM org_credits WHERE org_id = ?", [org_id]).fetchone()
    if row is not None:
        return float(row[0])
    plan_row = con.execute("SELECT plan FROM orgs WHERE org_id = ?", [org_id]).fetchone()
    grant = PLAN_GRANTS.get(str(plan_row[0]) if plan_row else "free", PLAN_GRANTS["free"])
    con.execute(
        "INSERT INTO org_credits (org_id, balance, updated_at) VALUES (?, ?, ?)",
        [org_id, grant, utcnow()],
    )
    _ledger(con, org_id, grant, grant, "grant", "plan", None)
    return grant


def _ledger(
    con: Any,
    org_id: str,
    delta: float,
    after: float,
    reason: str,
    ref: str | None,
    actor_email: str | None,
) -> None:
    con.execute(
        "INSERT INTO credit_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            f"cl_{secrets.token_hex(8)}",
            org_id,
            delta,
            after,
            reason,
            ref,
            actor_email,
            utcnow(),
        ],
    )
