"""SQL for the AI studio (0013_ai_studio.sql): sessions, turns, attachments."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class SessionRow:
    session_id: str
    org_id: str
    user_email: str
    title: str
    tier: str
    status: str
    flow_name: str | None
    draft_id: str | None
    canvas_json: str
    created_at: _dt.datetime
    updated_at: _dt.datetime
    archived_at: _dt.datetime | None = None

    @property
    def canvas(self) -> dict[str, Any]:
        return dict(json.loads(self.canvas_json))


@dataclass
class TurnRow:
    turn_key: str
    session_id: str
    org_id: str
    seq: int
    turn_id: str | None
    idempotency_key: str | None
    status: str
    intent: str | None
    message: str
    response: str | None
    status_code: int | None
    result_json: str | None
    credits_used: float
    created_by: str | None
    created_at: _dt.datetime
    finished_at: _dt.datetime | None = None

    @property
    def result(self) -> dict[str, Any] | None:
        return dict(json.loads(self.result_json)) if self.result_json else None


@dataclass
class AttachmentRow:
    attachment_id: str
    session_id: str
    org_id: str
    file_name: str
    content_type: str
    kind: str
    size_bytes: int | None
    status: str
    text: str | None
    created_by: str | None
    created_at: _dt.datetime
    completed_at: _dt.datetime | None = None


_TABLES: dict[type, tuple[str, list[str]]] = {
    SessionRow: ("studio_sessions", [f.name for f in fields(SessionRow)]),
    TurnRow: ("studio_turns", [f.name for f in fields(TurnRow)]),
    AttachmentRow: ("studio_attachments", [f.name for f in fields(AttachmentRow)]),
}


def _select(store: DuckDBStore, kind: type, where: str, params: list[Any], tail: str = "") -> list:
    table, cols = _TABLES[kind]
    with store.connection() as con:
        found = con.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE {where} {tail}", params
        ).fetchall()
    return [kind(*row) for row in found]


def insert(store: DuckDBStore, row: SessionRow | TurnRow | AttachmentRow) -> None:
    table, cols = _TABLES[type(row)]
    with store.connection() as con:
        con.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [getattr(row, c) for c in cols],
        )


def _update(store: DuckDBStore, table: str, key: str, value: str, changes: dict[str, Any]) -> None:
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    with store.connection() as con:
        con.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", [*changes.values(), value])


# -- sessions ---------------------------------------------------------------------------------------


def get_session(store: DuckDBStore, org_id: str, session_id: str) -> SessionRow | None:
    found = _select(store, SessionRow, "org_id = ? AND session_id = ?", [org_id, session_id])
    return found[0] if found else None


def session_page(
    store: DuckDBStore,
    org_id: str,
    user_email: str,
    *,
    status: str | None,
    before: tuple[str, str] | None,
    limit: int,
) -> list[SessionRow]:
    """The user's sessions, newest first, strictly before the ``(created_at, id)`` keyset."""
    where, params = "org_id = ? AND user_email = ?", [org_id, user_email]
    if status is not None:
        where += " AND status = ?"
        params.append(status)
    if before is not None:
        where += " AND (created_at, session_id) < (?::TIMESTAMP, ?)"
        params += list(before)
    tail = "ORDER BY created_at DESC, session_id DESC LIMIT ?"
    return _select(store, SessionRow, where, [*params, limit], tail)


def session_by_flow(
    store: DuckDBStore, org_id: str, user_email: str, flow_name: str
) -> SessionRow | None:
    found = _select(
        store,
        SessionRow,
        "org_id = ? AND user_email = ? AND flow_name = ?",
        [org_id, user_email, flow_name],
        "ORDER BY updated_at DESC, session_id LIMIT 1",
    )
    return found[0] if found else None


def update_session(store: DuckDBStore, session_id: str, **changes: Any) -> None:
    _update(store, "studio_sessions", "session_id", session_id, changes)


def unbind_flow(
    store: DuckDBStore, org_id: str, user_email: str, flow_name: str, keep: str
) -> None:
    """The user's other sessions bound to ``flow_name`` let it go (a flow has one session)."""
    with store.connection() as con:
        con.execute(
            "UPDATE studio_sessions SET flow_name = NULL "
            "WHERE org_id = ? AND user_email = ? AND flow_name = ? AND session_id <> ?",
            [org_id, user_email, flow_name, keep],
        )


def delete_session(store: DuckDBStore, session_id: str) -> None:
    with store.connection() as con:
        for table in ("studio_turns", "studio_attachments", "studio_sessions"):
            con.execute(f"DELETE FROM {table} WHERE session_id = ?", [session_id])


# -- turns ------------------------------------------------------------------------------------------


def turns(store: DuckDBStore, session_id: str) -> list[TurnRow]:
    return _select(store, TurnRow, "session_id = ?", [session_id], "ORDER BY seq")


def get_turn(store: DuckDBStore, turn_key: str) -> TurnRow | None:
    found = _select(store, TurnRow, "turn_key = ?", [turn_key])
    return found[0] if found else None


def find_turn(
    store: DuckDBStore, session_id: str, turn_id: str | None, idempotency_key: str | None
) -> TurnRow | None:
    """The session's turn with this turn_id or this idempotency key, if any."""
    if turn_id is None and idempotency_key is None:
        return None
    found = _select(
        store,
        TurnRow,
        "session_id = ? AND (turn_id = ? OR idempotency_key = ?)",
        [session_id, turn_id, idempotency_key],
        "ORDER BY seq LIMIT 1",
    )
    return found[0] if found else None


def turn_count(store: DuckDBStore, session_id: str) -> tuple[int, int]:
    """(turns so far, the last seq)."""
    with store.connection() as con:
        row = con.execute(
            "SELECT count(*), coalesce(max(seq), 0) FROM studio_turns WHERE session_id = ?",
            [session_id],
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def update_turn(store: DuckDBStore, turn_key: str, **changes: Any) -> None:
    _update(store, "studio_turns", "turn_key", turn_key, changes)


def delete_turn(store: DuckDBStore, turn_key: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM studio_turns WHERE turn_key = ?", [turn_key])


# -- attachments ------------------------------------------------------------------------------------


def attachments(store: DuckDBStore, session_id: str) -> list[AttachmentRow]:
    return _select(
        store, AttachmentRow, "session_id = ?", [session_id], "ORDER BY created_at, attachment_id"
    )


def get_attachment(store: DuckDBStore, attachment_id: str) -> AttachmentRow | None:
    found = _select(store, AttachmentRow, "attachment_id = ?", [attachment_id])
    return found[0] if found else None


def attachment_count(store: DuckDBStore, session_id: str) -> int:
    with store.connection() as con:
        row = con.execute(
            "SELECT count(*) FROM studio_attachments WHERE session_id = ?", [session_id]
        ).fetchone()
    return int(row[0]) if row else 0


def update_attachment(store: DuckDBStore, attachment_id: str, **changes: Any) -> None:
    _update(store, "studio_attachments", "attachment_id", attachment_id, changes)


def delete_attachment(store: DuckDBStore, attachment_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM studio_attachments WHERE attachment_id = ?", [attachment_id])
