"""A real `dagy serve` for the ops tests: a super admin made in the store before the server starts
(as `dagy users create --super-admin` would), a plain owner, and the spec's error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.services.accounts import users
from dagy.store.duckdb_store import DuckDBStore
from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ROOT = "root@example.com"
OWNER = "owner@example.com"
ERROR_KEYS = {"error", "message", "details", "detail"}


def seed_accounts(home: Path) -> None:
    """The super admin and an owner of the personal org, written before any server holds it."""
    store = DuckDBStore(DagyPaths(home))
    users.create_user(store, ROOT, PASSWORD, role="owner", super_admin=True)
    users.create_user(store, OWNER, PASSWORD, role="owner")


def serve(home: Path, env: dict[str, str] | None = None) -> ServerProcess:
    seed_accounts(home)
    return start_server(
        home, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_TEST_FAULTS": "1", **(env or {})}
    )


def assert_error(status: int, body: Any, code: int, error: str | None = None) -> dict[str, Any]:
    assert status == code, body
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["detail"] == body["message"]
    if error is not None:
        assert body["error"] == error, body
    return body
