"""GET /health (public), GET /health/detailed, and the OpenAPI document."""

from __future__ import annotations

import os
import time
from typing import Any

from litestar import Request, Response, get

from dagy import __version__
from dagy.auth import rbac
from dagy.server.openapi import document
from dagy.server.security import state_of
from dagy.server.state import ServerState
from dagy.store.records import iso_z, utcnow


def _probe(name: str, check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
        status = "healthy"
    except Exception as exc:  # a failing component is reported, not raised
        status = f"unhealthy: {type(exc).__name__}"
    latency = round((time.perf_counter() - started) * 1000, 2)
    return {"name": name, "status": status, "latency_ms": latency}


def _components(state: ServerState) -> list[dict[str, Any]]:
    def database() -> None:
        with state.store.connection() as con:
            con.execute("SELECT 1").fetchone()

    def artifacts() -> None:
        folder = state.paths.artifacts
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(str(folder))

    return [
        {"name": "api", "status": "healthy", "latency_ms": 0.0},
        _probe("database", database),
        _probe("artifact_store", artifacts),
    ]


def _report(state: ServerState, detailed: bool) -> Response[dict[str, Any]]:
    components = _components(state)
    healthy = all(c["status"] == "healthy" for c in components)
    if not detailed:
        components = [{"name": c["name"], "status": c["status"]} for c in components]
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "version": __version__,
        "components": components,
        "timestamp": iso_z(utcnow()),
    }
    return Response(body, status_code=200 if healthy else 503)


@get("/health", sync_to_thread=True, opt={"permission": rbac.PUBLIC})
def health(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return _report(state_of(request), detailed=False)


@get("/health/detailed", sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def health_detailed(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return _report(state_of(request), detailed=True)


@get(
    "/openapi.json", sync_to_thread=False, include_in_schema=False, opt={"permission": rbac.PUBLIC}
)
def openapi(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return document(request.app)


ROUTES = [health, health_detailed, openapi]
