"""Whether an org is suspended, for everything that must refuse or skip it.

A super admin suspends an org (POST /admin/customers/{org_id}/suspend); until it is activated the
server refuses its members and API keys (dagy/server/security.py), its sensor webhooks
(POST /webhooks/{token}), and the schedule and sensor loops skip its triggers, recording why.
Super admins still reach the org (to look, to impersonate, to activate it).
"""

from __future__ import annotations

from dagy.errors import OrgSuspendedError
from dagy.store.duckdb_store import DuckDBStore

SUSPENDED = "suspended"
ACTIVE = "active"
SKIP_REASON = "org_suspended: the organization is suspended"


def suspended(store: DuckDBStore, org_id: str) -> bool:
    with store.connection() as con:
        row = con.execute("SELECT status FROM orgs WHERE org_id = ?", [org_id]).fetchone()
    return row is not None and row[0] == SUSPENDED


def suspended_orgs(store: DuckDBStore) -> set[str]:
    """Every suspended org's id (one read for a loop's whole pass)."""
    with store.connection() as con:
        rows = con.execute("SELECT org_id FROM orgs WHERE status = ?", [SUSPENDED]).fetchall()
    return {str(r[0]) for r in rows}


def ensure_active(store: DuckDBStore, org_id: str) -> None:
    """OrgSuspendedError (403 ``org_suspended``) when the org is suspended."""
    if suspended(store, org_id):
        raise OrgSuspendedError(
            f"Organization {org_id} is suspended; contact support to reactivate it",
            {"org_id": org_id, "status": SUSPENDED},
        )
