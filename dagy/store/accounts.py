"""SQL for accounts: users, orgs, memberships, access tokens, API keys and the audit log.

Plain functions over a DuckDBStore's connection; services decide, this module only reads and writes.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class User:
    email: str
    password_hash: str | None
    super_admin: bool
    default_org_id: str | None
    created_at: _dt.datetime


@dataclass
class Org:
    org_id: str
    name: str
    created_at: _dt.datetime
    plan: str | None
    owner_email: str | None


@dataclass
class Membership:
    member_id: str
    org_id: str
    email: str
    role: str
    status: str
    added_at: _dt.datetime
    joined_at: _dt.datetime | None
    updated_at: _dt.datetime | None


@dataclass
class AccessToken:
    token_id: str
    token_hash: str
    email: str
    org_id: str
    created_at: _dt.datetime
    expires_at: _dt.datetime
    revoked_at: _dt.datetime | None
    user_agent: str | None


@dataclass
class ApiKey:
    key_id: str
    org_id: str
    created_by: str
    name: str
    key_hash: str
    key_prefix: str
    scopes: str
    created_at: _dt.datetime
    expires_at: _dt.datetime | None
    last_used_at: _dt.datetime | None
    deleted_at: _dt.datetime | None

    @property
    def scope_list(self) -> list[str]:
        return list(json.loads(self.scopes))


@dataclass
class AuditEntry:
    audit_id: str
    org_id: str
    ts: _dt.datetime
    actor_email: str | None
    action: str
    resource_type: str
    resource_id: str | None
    resource_name: str | None
    changes: str | None
    ip_address: str | None
    user_agent: str | None
    impersonated_by: str | None = None  # the super admin acting in org_id (migration 0014)


# Bumped by every write that can change who a credential is (revocation, role change, key deletion,
# membership). The server, sole writer while it owns the store, caches resolved identities and
# drops any cached before the latest bump.
_generation = [0]


def generation() -> int:
    return _generation[0]


def _bump() -> None:
    _generation[0] += 1


def _cols(cls: type) -> str:
    return ", ".join(f.name for f in fields(cls))


def _insert(store: DuckDBStore, table: str, record: Any) -> None:
    names = [f.name for f in fields(record)]
    with store.connection() as con:
        con.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [getattr(record, n) for n in names],
        )


def _one(store: DuckDBStore, cls: type, sql: str, params: list[Any]) -> Any:
    with store.connection() as con:
        row = con.execute(sql.format(cols=_cols(cls)), params).fetchone()
    return cls(*row) if row else None


def _many(store: DuckDBStore, cls: type, sql: str, params: list[Any]) -> list[Any]:
    with store.connection() as con:
        rows = con.execute(sql.format(cols=_cols(cls)), params).fetchall()
    return [cls(*row) for row in rows]


# -- users and orgs ---------------------------------------------------------------------------------


def count_users(store: DuckDBStore) -> int:
    with store.connection() as con:
        row = con.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def get_user(store: DuckDBStore, email: str) -> User | None:
    return _one(store, User, "SELECT {cols} FROM users WHERE email = ?", [email])  # type: ignore[no-any-return]


def insert_user(store: DuckDBStore, user: User) -> None:
    _insert(store, "users", user)


def set_password(store: DuckDBStore, email: str, password_hash: str) -> None:
    with store.connection() as con:
        con.execute("UPDATE users SET password_hash = ? WHERE email = ?", [password_hash, email])
    _bump()


def set_super_admin(store: DuckDBStore, email: str, on: bool) -> None:
    with store.connection() as con:
        con.execute("UPDATE users SET super_admin = ? WHERE email = ?", [on, email])
    _bump()


def get_org(store: DuckDBStore, org_id: str) -> Org | None:
    return _one(store, Org, "SELECT {cols} FROM orgs WHERE org_id = ?", [org_id])  # type: ignore[no-any-return]


def org_name_taken(store: DuckDBStore, name: str) -> bool:
    with store.connection() as con:
        row = con.execute("SELECT 1 FROM orgs WHERE lower(name) = lower(?)", [name]).fetchone()
    return row is not None


def insert_org(store: DuckDBStore, org: Org) -> None:
    _insert(store, "orgs", org)


def update_org(store: DuckDBStore, org_id: str, **changes: Any) -> None:
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    with store.connection() as con:
        con.execute(f"UPDATE orgs SET {sets} WHERE org_id = ?", [*changes.values(), org_id])
    _bump()


def orgs_of(store: DuckDBStore, email: str) -> list[tuple[Org, str]]:
    """The orgs a user belongs to, with the user's role in each, oldest first."""
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {', '.join('o.' + f.name for f in fields(Org))}, m.role "
            "FROM memberships m JOIN orgs o ON o.org_id = m.org_id "
            "WHERE m.email = ? ORDER BY o.created_at, o.org_id",
            [email],
        ).fetchall()
    return [(Org(*row[:-1]), row[-1]) for row in rows]


# -- memberships ------------------------------------------------------------------------------------


def get_membership(store: DuckDBStore, org_id: str, email: str) -> Membership | None:
    return _one(  # type: ignore[no-any-return]
        store,
        Membership,
        "SELECT {cols} FROM memberships WHERE org_id = ? AND email = ?",
        [org_id, email],
    )


def first_membership(store: DuckDBStore, email: str) -> Membership | None:
    return _one(  # type: ignore[no-any-return]
        store,
        Membership,
        "SELECT {cols} FROM memberships WHERE email = ? ORDER BY added_at, member_id LIMIT 1",
        [email],
    )


def insert_membership(store: DuckDBStore, membership: Membership) -> None:
    _insert(store, "memberships", membership)
    _bump()


def update_membership(store: DuckDBStore, member_id: str, **changes: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in changes)
    with store.connection() as con:
        con.execute(
            f"UPDATE memberships SET {sets} WHERE member_id = ?", [*changes.values(), member_id]
        )
    _bump()


def list_members(
    store: DuckDBStore, org_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[Membership]:
    """Members by (added_at, member_id), keyset-paged after the given position."""
    where, params = "org_id = ?", [org_id]
    if after is not None:
        where += " AND (added_at, member_id) > (?::TIMESTAMP, ?)"
        params += list(after)
    return _many(  # type: ignore[no-any-return]
        store,
        Membership,
        f"SELECT {{cols}} FROM memberships WHERE {where} ORDER BY added_at, member_id LIMIT ?",
        [*params, limit],
    )


def count_owners(store: DuckDBStore, org_id: str) -> int:
    with store.connection() as con:
        row = con.execute(
            "SELECT count(*) FROM memberships WHERE org_id = ? AND role = 'owner'", [org_id]
        ).fetchone()
    return int(row[0]) if row else 0


def activate_memberships(store: DuckDBStore, email: str, now: _dt.datetime) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE memberships SET status = 'active', joined_at = coalesce(joined_at, ?) "
            "WHERE email = ? AND status = 'invited'",
            [now, email],
        )


# -- access tokens ----------------------------------------------------------------------------------


def insert_token(store: DuckDBStore, token: AccessToken) -> None:
    _insert(store, "access_tokens", token)


def token_by_hash(store: DuckDBStore, token_hash: str) -> AccessToken | None:
    return _one(  # type: ignore[no-any-return]
        store, AccessToken, "SELECT {cols} FROM access_tokens WHERE token_hash = ?", [token_hash]
    )


def revoke_token(store: DuckDBStore, token_id: str, now: _dt.datetime) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
            [now, token_id],
        )
    _bump()


def revoke_tokens_of(store: DuckDBStore, email: str, org_id: str, now: _dt.datetime) -> int:
    """Revoke every live access token of ``email`` bound to ``org_id``; how many."""
    with store.connection() as con:
        rows = con.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE email = ? AND org_id = ? "
            "AND revoked_at IS NULL AND expires_at > ? RETURNING token_id",
            [now, email, org_id, now],
        ).fetchall()
    _bump()
    return len(rows)


def delete_expired_tokens(store: DuckDBStore, before: _dt.datetime) -> int:
    with store.connection() as con:
        row = con.execute(
            "DELETE FROM access_tokens WHERE expires_at < ? RETURNING token_id", [before]
        ).fetchall()
    return len(row)


# -- API keys ---------------------------------------------------------------------------------------


def insert_api_key(store: DuckDBStore, key: ApiKey) -> None:
    _insert(store, "api_keys", key)


def api_key_by_hash(store: DuckDBStore, key_hash: str) -> ApiKey | None:
    return _one(  # type: ignore[no-any-return]
        store,
        ApiKey,
        "SELECT {cols} FROM api_keys WHERE key_hash = ? AND deleted_at IS NULL",
        [key_hash],
    )


def get_api_key(store: DuckDBStore, org_id: str, key_id: str) -> ApiKey | None:
    return _one(  # type: ignore[no-any-return]
        store,
        ApiKey,
        "SELECT {cols} FROM api_keys WHERE org_id = ? AND key_id = ? AND deleted_at IS NULL",
        [org_id, key_id],
    )


def list_api_keys(
    store: DuckDBStore, org_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[ApiKey]:
    where, params = "org_id = ? AND deleted_at IS NULL", [org_id]
    if after is not None:
        where += " AND (created_at, key_id) > (?::TIMESTAMP, ?)"
        params += list(after)
    return _many(  # type: ignore[no-any-return]
        store,
        ApiKey,
        f"SELECT {{cols}} FROM api_keys WHERE {where} ORDER BY created_at, key_id LIMIT ?",
        [*params, limit],
    )


def delete_api_key(store: DuckDBStore, key_id: str, now: _dt.datetime) -> None:
    with store.connection() as con:
        con.execute("UPDATE api_keys SET deleted_at = ? WHERE key_id = ?", [now, key_id])
    _bump()


def touch_api_keys(store: DuckDBStore, used: dict[str, _dt.datetime]) -> None:
    """Record ``last_used_at`` for many keys in one statement (batched off the request path)."""
    if not used:
        return
    with store.connection() as con:
        con.execute(
            "UPDATE api_keys SET last_used_at = u.t FROM "
            "(SELECT unnest(?::VARCHAR[]) AS k, unnest(?::TIMESTAMP[]) AS t) u "
            "WHERE api_keys.key_id = u.k",
            [list(used), list(used.values())],
        )


# -- audit log --------------------------------------------------------------------------------------


def insert_audit(store: DuckDBStore, entry: AuditEntry) -> None:
    _insert(store, "audit_log", entry)


def query_audit(
    store: DuckDBStore,
    org_id: str,
    *,
    filters: dict[str, Any],
    start: _dt.datetime | None,
    end: _dt.datetime | None,
    before: tuple[str, str] | None,
    limit: int,
) -> list[AuditEntry]:
    """Newest first, keyset-paged by (ts, audit_id) going backwards."""
    where: list[str] = ["org_id = ?"]
    params: list[Any] = [org_id]
    for column, value in filters.items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts <= ?")
        params.append(end)
    if before is not None:
        where.append("(ts, audit_id) < (?::TIMESTAMP, ?)")
        params += list(before)
    return _many(  # type: ignore[no-any-return]
        store,
        AuditEntry,
        f"SELECT {{cols}} FROM audit_log WHERE {' AND '.join(where)} "
        "ORDER BY ts DESC, audit_id DESC LIMIT ?",
        [*params, limit],
    )
