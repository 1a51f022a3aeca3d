"""dagy.services.accounts.credits on a real store: the plan's grant, spends that never overdraw,
admin adjustments, and a ledger row for every change."""

from __future__ import annotations

import math

import pytest

from dagy.auth.identity import Identity
from dagy.config.paths import DagyPaths
from dagy.errors import InsufficientCreditsError, InvalidInputError, NotFoundError
from dagy.services.accounts import credits
from dagy.services.accounts.audit import Actor
from dagy.store.duckdb_store import DuckDBStore

ADMIN = Actor(Identity("root@example.com", "personal", "owner", frozenset(), "token", True))


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def ledger(store: DuckDBStore) -> list[tuple]:
    with store.connection() as con:
        return con.execute(
            "SELECT reason, delta, balance, ref FROM credit_ledger ORDER BY created_at, delta"
        ).fetchall()


def test_a_balance_opens_with_the_plans_grant_and_spends_down_to_zero_never_below(store):
    assert credits.balance(store, "personal") == credits.PLAN_GRANTS["free"]
    assert credits.spend(store, "personal", 99.5, ref="turn_1", actor_email="a@x") == 0.5
    with pytest.raises(InsufficientCreditsError) as refused:
        credits.spend(store, "personal", 1, ref="turn_2", actor_email="a@x")
    assert refused.value.status == 402
    assert refused.value.details["credits_balance"] == 0.5
    assert credits.balance(store, "personal") == 0.5
    assert [r[0] for r in ledger(store)] == ["grant", "spend"]


def test_a_failure_after_a_spend_in_the_same_transaction_returns_the_credits(store):
    with pytest.raises(RuntimeError), store.transaction():
        credits.spend(store, "personal", 10, ref="turn_1", actor_email=None)
        raise RuntimeError("the turn failed after paying")
    assert credits.balance(store, "personal") == 100.0


def test_admin_adjustments_either_way_with_an_audit_row_and_bad_amounts_refused(store):
    assert credits.adjust(store, "personal", 400, ADMIN, note="welcome") == 500.0
    assert credits.adjust(store, "personal", -450, ADMIN) == 50.0
    for bad in (0, math.nan, math.inf, "10", True, None, -51):
        with pytest.raises(InvalidInputError):
            credits.adjust(store, "personal", bad, ADMIN)
    with pytest.raises(NotFoundError):
        credits.adjust(store, "org_missing", 5, ADMIN)
    assert credits.balance(store, "personal") == 50.0
    assert [(r[0], r[1]) for r in ledger(store)][1:] == [("adjust", 400.0), ("adjust", -450.0)]
    with store.connection() as con:
        rows = con.execute(
            "SELECT action, resource_type FROM audit_log WHERE resource_type = 'credits'"
        ).fetchall()
    assert rows == [("update", "credits"), ("update", "credits")]


def test_every_plan_opens_with_its_own_grant(store):
    from dagy.services.accounts.users import PLANS

    assert set(credits.PLAN_GRANTS) == set(PLANS)
    with store.transaction() as con:
        con.execute("UPDATE orgs SET plan = 'professional' WHERE org_id = 'personal'")
    assert credits.balance(store, "personal") == 1000.0
