"""Ordered schema migrations: ``NNNN_name.sql`` files applied once each, recorded in schema_version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent


def available() -> list[tuple[int, Path]]:
    found = []
    for path in _DIR.glob("*.sql"):
        number, _, _ = path.stem.partition("_")
        found.append((int(number), path))
    return sorted(found)


LATEST = available()[-1][0]


def apply(con: Any) -> int:
    """Bring the schema up to date; returns the version it is at."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    current = int(row[0])
    if current >= LATEST:
        return current
    for number, path in available():
        if number <= current:
            continue
        con.execute("BEGIN")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute(
                "INSERT INTO schema_version VALUES (?, current_timestamp::TIMESTAMP)", [number]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = number
    return current
