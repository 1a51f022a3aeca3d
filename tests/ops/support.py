"""A real `dagy serve` for the ops tests: a super admin made in the store before the server starts
(as `dagy users create --super-admin` would), a plain owner, and the spec's error shape."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class FakeStripe(ThreadingHTTPServer):
    """Stripe's API as far as checkout and portal sessions go (DAGY_STRIPE_API_BASE points here)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StripeHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeStripe:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _StripeHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = {"/v1/checkout/sessions": "checkout.session"}.get(
            self.path, "billing_portal.session"
        )
        body = {"id": f"cs_{uuid.uuid4().hex[:8]}", "object": kind, "url": "https://stripe.test/s"}
        if kind == "checkout.session":
            body["expires_at"] = 1_900_000_000
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass
