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
    # Every file not yet recorded, in order, even one numbered below the latest applied: branches
    # add migrations side by side (0005, 0006, 0007), and a store migrated on one must still get
    # the others' once they are merged.
    done = {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}
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
