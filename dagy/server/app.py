"""The Litestar application: routes under the base path, one guard, one error shape."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from dagy import __version__
from dagy.server import errors
from dagy.server.ratelimit import RateLimitMiddleware
from dagy.server.routes import (
    api_keys,
    audit_logs,
    auth,
    health,
    local,
    orgs,
    runs,
    signin,
    store_local,
    users,
)
from dagy.server.security import authorize
from dagy.server.state import ServerState

API_MODULES = [auth, users, orgs, api_keys, audit_logs, health, local, runs, store_local]
ROOT_MODULES: list[Any] = [signin]


def create_app(state: ServerState) -> Litestar:
    api = Router(
        path=state.base_path or "/",
        route_handlers=[h for module in API_MODULES for h in module.ROUTES],
    )
    root = [h for module in ROOT_MODULES for h in module.ROUTES]
    app = Litestar(
        route_handlers=[api, *root],
        guards=[authorize],
        exception_handlers=errors.HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Dagy API",
            version=__version__,
            path="/docs",
            render_plugins=[],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}],
        ),
        middleware=[DefineMiddleware(RateLimitMiddleware, state=state)],  # type: ignore[arg-type]
        debug=False,
    )
    app.state.dagy = state
    return app
