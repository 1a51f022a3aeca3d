"""SQL for super admins: customer orgs across the platform, their members' sessions.

Lists page in SQL (keyset on (created_at, org_id)) and count with one aggregate; nothing here
loops over rows in Python.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass(frozen=True)
class Customer:
    org_id: str
    org_name: str
    owner_email: str | None
    plan: str
    status: str
    member_count: int
    created_at: _dt.datetime
    updated_at: _dt.datetime
    quota_overrides: str | None
    feature_flags: str | None
    notes: str | None
    suspended_at: _dt.datetime | None


_SELECT = """
    SELECT o.org_id, o.name, o.owner_email, coalesce(o.plan, 'free'), coalesce(o.status, 'active'),
           (SELECT count(*) FROM memberships m WHERE m.org_id = o.org_id),
           o.created_at, coalesce(o.updated_at, o.created_at),
           o.quota_overrides, o.feature_flags, o.notes, o.suspended_at
    FROM orgs o
"""


def _where(status: str | None, plan: str | None, search: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        where.append("coalesce(o.status, 'active') = ?")
        params.append(status)
    if plan is not None:
        where.append("coalesce(o.plan, 'free') = ?")
        params.append(plan)
    if search:
        where.append(
            "(contains(lower(o.name), ?) OR contains(lower(coalesce(o.owner_email, '')), ?))"
        )
        params += [search.lower(), search.lower()]
    return where, params


def list_customers(
    store: DuckDBStore,
    *,
    status: str | None,
    plan: str | None,
    search: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> tuple[list[Customer], int]:
    """A page of orgs oldest first, after the keyset ``after``, and how many match in all."""
    where, params = _where(status, plan, search)
    counted = " WHERE " + " AND ".join(where) if where else ""
    paged = list(where)
    page_params = list(params)
    if after is not None:
        paged.append("(o.created_at, o.org_id) > (?::TIMESTAMP, ?)")
        page_params += list(after)
    clause = " WHERE " + " AND ".join(paged) if paged else ""
    with store.connection() as con:
        total = con.execute(f"SELECT count(*) FROM orgs o{counted}", params).fetchone()
        rows = con.execute(
            f"{_SELECT}{clause} ORDER BY o.created_at, o.org_id LIMIT ?", [*page_params, limit]
        ).fetchall()
    return [Customer(*r) for r in rows], int(total[0]) if total else 0


def get_customer(store: DuckDBStore, org_id: str) -> Customer | None:
    with store.connection() as con:
        row = con.execute(f"{_SELECT} WHERE o.org_id = ?", [org_id]).fetchone()
    return Customer(*row) if row else None


@dataclass(frozen=True)
class Session:
    user_email: str
    last_login_at: _dt.datetime | None
    current_token_issued_at: _dt.datetime | None
    active_sessions: int


def sessions(store: DuckDBStore, org_id: str, now: _dt.datetime) -> list[Session]:
    """Each member of the org: their last login into it (its audit trail's newest ``login``, or
    the newest token bound to it, which outlive each other), and the issue time and number of
    the tokens still live (not revoked, not expired)."""
    with store.connection() as con:
        rows = con.execute(
            """
            WITH logins AS (
                SELECT actor_email AS email, max(ts) AS at FROM audit_log
                WHERE org_id = ? AND action = 'login' AND resource_type = 'session'
                GROUP BY actor_email
            )
            SELECT m.email, greatest(max(t.created_at), any_value(l.at)),
                   max(t.created_at) FILTER (WHERE t.revoked_at IS NULL AND t.expires_at > ?),
                   count(t.token_id) FILTER (WHERE t.revoked_at IS NULL AND t.expires_at > ?)
            FROM memberships m
            LEFT JOIN access_tokens t ON t.email = m.email AND t.org_id = m.org_id
            LEFT JOIN logins l ON l.email = m.email
            WHERE m.org_id = ?
            GROUP BY m.email
            ORDER BY m.email
            """,
            [org_id, now, now, org_id],
        ).fetchall()
    return [Session(r[0], r[1], r[2], int(r[3])) for r in rows]


# -- impersonation ----------------------------------------------------------------------------------


def start_impersonation(
    store: DuckDBStore, email: str, org_id: str, started: _dt.datetime, expires: _dt.datetime
) -> None:
    with store.transaction() as con:
        con.execute(
            "INSERT OR REPLACE INTO impersonations VALUES (?, ?, ?, ?)",
            [email, org_id, started, expires],
        )


def impersonation_expires(store: DuckDBStore, email: str, org_id: str) -> _dt.datetime | None:
    """When ``email``'s open impersonation of ``org_id`` ends; None when none was started."""
    with store.connection() as con:
        row = con.execute(
            "SELECT expires_at FROM impersonations WHERE email = ? AND org_id = ?",
            [email, org_id],
        ).fetchone()
    return row[0] if row else None
