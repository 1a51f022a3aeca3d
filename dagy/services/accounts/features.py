"""Feature flags of an org, as a super admin sets them (PATCH /admin/customers/{org_id}): the one
place features read them, so a flag takes effect wherever it is checked.

Known flags and their defaults are listed here; an unknown flag reads as its caller's default.
"""

from __future__ import annotations

import json
from typing import Any

from dagy.store.duckdb_store import DuckDBStore

# flag -> default when the org has not set it
FLAGS = {
    "ai_studio": True,  # the AI studio's turns (POST /ai-studio/sessions/{id}/messages...)
}


def flags(store: DuckDBStore, org_id: str) -> dict[str, bool]:
    """Every known flag's value for the org, defaults filled in, plus any others it has set."""
    with store.connection() as con:
        row = con.execute("SELECT feature_flags FROM orgs WHERE org_id = ?", [org_id]).fetchone()
    stored = _parse(row[0] if row else None)
    return {**FLAGS, **stored}


def enabled(store: DuckDBStore, org_id: str, flag: str, default: bool | None = None) -> bool:
    """Whether ``flag`` is on for the org (its default from FLAGS, else ``default``, else False)."""
    value = flags(store, org_id).get(flag)
    if value is None:
        return bool(default)
    return bool(value)


def _parse(text: Any) -> dict[str, bool]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): bool(v) for k, v in data.items()}
