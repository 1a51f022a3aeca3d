"""The Litestar application: routes under the base path, one guard, one error shape."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from dagy import __version__, web
from dagy.auth import rbac
from dagy.config import settings
from dagy.server import errors, openapi
from dagy.server.faults import FaultMiddleware
from dagy.server.metering import ApiCallMiddleware
from dagy.server.ratelimit import RateLimitMiddleware
from dagy.server.routes import (
    admin,
    admin_exceptions,
    ai_studio,
    alert_rules,
    api_keys,
    artifacts,
    audit_logs,
    auth,
    billing,
    channels,
    child_store,
    deployments,
    drafts,
    environments,
    events,
    flows,
    health,
    local,
    metrics,
    nodes,
    orgs,
    run_artifacts,
    run_diff,
    runs,
    schedules,
    secrets,
    sensors,
    signin,
    sql,
    store_local,
    ui,
    usage,
    users,
    webhooks,
)
from dagy.server.security import authorize
from dagy.server.state import ServerState

API_MODULES = [
    auth,
    users,
    orgs,
    api_keys,
    audit_logs,
    health,
    local,
    runs,
    run_artifacts,
    run_diff,
    store_local,
    child_store,
    events,
    metrics,
    environments,
    secrets,
    artifacts,
    flows,
    deployments,
    schedules,
    sensors,
    webhooks,
    channels,
    alert_rules,
    drafts,
    usage,
    billing,
    nodes,
    ui,
    admin,
    admin_exceptions,
    ai_studio,
    sql,
]
ROOT_MODULES: list[Any] = [signin, web]


def create_app(state: ServerState) -> Litestar:
    handlers = [h for module in API_MODULES for h in module.ROUTES]
    if settings.TEST_FAULTS.get():  # a route that fails on purpose, for the trace tests
        handlers += admin_exceptions.TEST_ROUTES
    api = Router(path=state.base_path or "/", route_handlers=handlers)
    root = [h for module in ROOT_MODULES for h in module.ROUTES]
    app = Litestar(
        route_handlers=[api, *root],
        guards=[authorize],
        exception_handlers=errors.HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Dagy API",
            version=__version__,
            # Only the JSON document (UI pages would load scripts from CDNs this server can't
            # promise); public like <base>/openapi.json.
            render_plugins=[],
            enabled_endpoints={"openapi.json"},
            openapi_router=Router(
                path="/docs",
                route_handlers=[],
                opt={"permission": rbac.PUBLIC},
                include_in_schema=False,
            ),
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}],
        ),
        debug=False,
    )
    openapi.install(app)  # the document says what the routes really answer (dagy/server/openapi.py)
    app.state.dagy = state
    return app


def create_asgi(state: ServerState) -> Any:
    """The app as the server runs it: the rate limiter wraps the whole app, so requests for unknown
    routes (404) and wrong methods (405) draw from the same bucket as every other request; inside
    it, API calls are counted per org (a request refused by the limiter is not a call). Outside
    all, an exception none of them handled is a 500 and an exception trace."""
    inner = RateLimitMiddleware(ApiCallMiddleware(create_app(state), state), state)
    return FaultMiddleware(inner, state)
