"""Ordered schema migrations: ``NNNN_name.sql`` files applied once each, recorded in schema_version."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent


def available() -> list[tuple[int, Path]]:
    found = []
    for name in os.listdir(_DIR):
        if name.endswith(".sql"):
            number, _, _ = name.partition("_")
            found.append((int(number), _DIR / name))
    return sorted(found)


_listed: tuple[tuple[Path, int], list[tuple[int, Path]], frozenset[int]] | None = None


def _listing() -> tuple[list[tuple[int, Path]], frozenset[int]]:
    """available() and its numbers, listed again only when the folder changes (a stat)."""
    global _listed
    key = (_DIR, os.stat(_DIR).st_mtime_ns)
    if _listed is None or _listed[0] != key:
        found = available()
        _listed = (key, found, frozenset(number for number, _ in found))
    return _listed[1], _listed[2]


LATEST = _listing()[0][-1][0]


def apply(con: Any) -> int:
    """Bring the schema up to date; returns the version it is at.

    A store whose schema_version already lists every file costs one query (every open of the file
    asks); only a new or older store goes through the migration path.
    """
    try:
        done = {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}
    except Exception:  # noqa: BLE001 - a new file: no schema_version yet (duckdb CatalogException)
        done = None
    found, numbers = _listing()
    if done is not None and numbers <= done:
        return max(done)
    if done is None:
        return _create(con, found)
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    # Every file not yet recorded, in order, even one numbered below the latest applied: branches
    # add migrations side by side (0005, 0006, 0007), and a store migrated on one must still get
    # the others' once they are merged.
    current = max(done, default=0)
    for number, path in found:
        if number in done:
            continue
        con.execute("BEGIN")
        try:
            _apply(con, number, path)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = max(current, number)
    return current


def _create(con: Any, found: list[tuple[int, Path]]) -> int:
    """A new store: every file in one transaction, one commit (one WAL sync rather than one per
    file; a new home's first command or `dagy serve` paid ~19). All or nothing, like each file."""
    con.execute("BEGIN")
    try:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
        )
        for number, path in found:
            _apply(con, number, path)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return found[-1][0]


def _apply(con: Any, number: int, path: Path) -> None:
    """One migration file and its schema_version row, inside the caller's transaction."""
    con.execute(path.read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_version VALUES (?, current_timestamp::TIMESTAMP)", [number])
