"""The server's outermost layer (dagy/server/faults.py) around an ASGI app whose middleware raises:
the caller gets the spec's 500 body, and a masked trace lands in <home>/exceptions/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from dagy.config.paths import DagyPaths
from dagy.server.faults import FaultMiddleware
from dagy.server.state import ServerState
from dagy.store.duckdb_store import DuckDBStore


async def broken_middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise ValueError("the limiter fell over holding tok_abcdefgh12345678")


def call(app: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/v1/runs", "headers": headers}
    anyio.run(app, scope, receive, send)
    return sent


def test_an_exception_outside_litestar_is_a_500_and_a_trace(tmp_path: Path):
    paths = DagyPaths(tmp_path / "home")
    app = FaultMiddleware(broken_middleware, ServerState(DuckDBStore(paths), paths))
    sent = call(app, [(b"authorization", b"Bearer tok_abcdefgh12345678")])
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {
        "error": "internal_error",
        "message": "Internal server error",
        "details": {},
        "detail": "Internal server error",
    }
    [trace_file] = (paths.home / "exceptions").iterdir()
    trace = json.loads(trace_file.read_text())
    assert trace["kind"] == "server"
    assert trace["request"] == {"method": "GET", "path": "/v1/runs"}
    assert trace["exception"] == {
        "type": "ValueError",
        "message": "the limiter fell over holding ****",
    }
    assert "tok_abcdefgh12345678" not in trace_file.read_text()
