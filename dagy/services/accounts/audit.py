"""The audit trail: who did what to which resource, from where."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

from dagy.auth import rbac
from dagy.auth import secrets as hashing
from dagy.auth.identity import LOCAL_EMAIL, Identity
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.store import accounts as sql
from dagy.store.accounts import AuditEntry
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

ACTIONS = ("create", "update", "delete", "execute", "login", "logout", "read")


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the audit row."""

    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who calls a service and from where: what the audit rows of its changes name.

    Services that change state take one and write their audit rows in the same transaction as
    the change, so the server, the CLI and the TUI leave the same trail.
    """

    identity: Identity | None
    origin: Origin = Origin()  # noqa: RUF009 - frozen

    @property
    def org_id(self) -> str:
        return self.identity.org_id if self.identity is not None else "personal"

    @property
    def email(self) -> str | None:
        return self.identity.email if self.identity is not None else None

    @property
    def role(self) -> str | None:
        """The caller's role in its org: what protected environments check."""
        return self.identity.role if self.identity is not None else None


def local_identity() -> Identity:
    """The server's own token (server.json), and the CLI on the store file: the machine's user,
    owner of the personal org. (Here, not in users.py, which audits through this module.)"""
    return Identity(
        LOCAL_EMAIL,
        "personal",
        "owner",
        rbac.permissions_for("owner") | {rbac.LOCAL},
        "local",
    )


def local_actor() -> Actor:
    """This machine's user acting through the CLI or the TUI on the store file."""
    from dagy import __version__

    return Actor(local_identity(), Origin(None, f"dagy-cli/{__version__}"))


def write(
    store: DuckDBStore,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    resource_name: str | None = None,
    changes: dict[str, Any] | None = None,
    org_id: str | None = None,
) -> AuditEntry:
    """The audit row of ``actor``'s change; call it inside the change's ``store.transaction()``."""
    return record(
        store,
        actor.identity,
        action,
        resource_type,
        resource_id,
        resource_name=resource_name,
        changes=changes,
        origin=actor.origin,
        org_id=org_id,
    )


def record(
    store: DuckDBStore,
    identity: Identity | None,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    resource_name: str | None = None,
    changes: dict[str, Any] | None = None,
    origin: Origin = Origin(),  # noqa: B008 - frozen
    org_id: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        hashing.new_id("audit"),
        org_id or (identity.org_id if identity else "personal"),
        utcnow(),
        identity.email if identity else None,
        action,
        resource_type,
        resource_id,
        resource_name,
        json.dumps(changes) if changes is not None else None,
        origin.ip_address,
        (origin.user_agent or "")[:500] or None,
        identity.impersonated_by if identity else None,
    )
    sql.insert_audit(store, entry)
    return entry


def _parse_date(value: str | None, field: str) -> _dt.datetime | None:
    if not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"Invalid {field}: {value!r}", {field: "an ISO 8601 date or date-time"}
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment


def to_item(entry: AuditEntry, *, brief: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "audit_id": entry.audit_id,
        "timestamp": iso_z(entry.ts),
        "actor_email": entry.actor_email,
        "action": entry.action,
    }
    if not brief:
        item |= {
            "resource_type": entry.resource_type,
            "resource_id": entry.resource_id,
            "resource_name": entry.resource_name,
        }
    item["changes"] = json.loads(entry.changes) if entry.changes else {}
    if not brief:
        item |= {"ip_address": entry.ip_address, "user_agent": entry.user_agent}
    if entry.impersonated_by:
        item["impersonated_by"] = entry.impersonated_by  # a super admin acting as the org's owner
    return item


def query(
    store: DuckDBStore,
    identity: Identity,
    *,
    resource_type: str | None = None,
    action: str | None = None,
    actor_email: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    size = pagination.clamp_limit(limit, default=20, maximum=100)
    start, end = _parse_date(start_date, "start_date"), _parse_date(end_date, "end_date")
    if start and end and start > end:
        raise InvalidInputError("start_date is after end_date", {"start_date": "after end_date"})
    if end is not None and end_date and "T" not in end_date:
        end += _dt.timedelta(days=1) - _dt.timedelta(microseconds=1)  # a bare date: whole day
    position = pagination.decode_keyset(next_token)
    rows = sql.query_audit(
        store,
        identity.org_id,
        filters={
            "resource_type": resource_type,
            "action": action,
            "actor_email": actor_email.lower() if actor_email else None,
        },
        start=start,
        end=end,
        before=position,
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda e: [e.ts.isoformat(), e.audit_id])
    return {"items": [to_item(e) for e in items], "next_token": token}


def resource_trail(
    store: DuckDBStore,
    identity: Identity,
    resource_type: str,
    resource_id: str,
    *,
    limit: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    position = pagination.decode_keyset(next_token)
    rows = sql.query_audit(
        store,
        identity.org_id,
        filters={"resource_type": resource_type, "resource_id": resource_id},
        start=None,
        end=None,
        before=position,
        limit=size + 1,
    )
    if not rows and position is None:
        raise NotFoundError(f"No audit trail for {resource_type} {resource_id}")
    items, token = pagination.page(rows, size, lambda e: [e.ts.isoformat(), e.audit_id])
    name = next((e.resource_name for e in rows if e.resource_name), None)
    return {
        "resource_id": resource_id,
        "resource_type": resource_type,
        "resource_name": name,
        "items": [to_item(e, brief=True) for e in items],
        "next_token": token,
    }
