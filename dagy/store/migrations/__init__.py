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
    """Apply every migration not recorded yet, in number order; returns the highest applied.

    By what is recorded, not by the highest number: branches take numbers in parallel (0005-0007
    for one, 0008 for another), and a store that met 0008 first must still get 0005-0007."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    done = {int(row[0]) for row in con.execute("SELECT version FROM schema_version").fetchall()}
    current = max(done, default=0)
    for number, path in available():
        if number in done:
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
        current = max(current, number)
    return current
