"""Every route declares its permission (the guard refuses those that don't): walk the app's routes.

Built in-process on a temporary store, no server: this test is about the route table itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from dagy.auth import rbac
from dagy.config.paths import DagyPaths
from dagy.server.app import create_app
from dagy.server.security import authorize
from dagy.server.state import ServerState
from dagy.store.duckdb_store import DuckDBStore

BASE = "/v1"
# The spec's public endpoints (under the base path), plus the login page at the root.
PUBLIC_API = {
    "/health",
    "/auth/login",
    "/auth/token",
    "/openapi.json",
    "/billing/plans",
    "/billing/webhook",
    "/webhooks/{token}",
    # The local artifact store's presigned part URLs: the URL's signature is the credential.
    "/artifacts/uploads/{upload_id}/parts/{part_number}",
    # UI Config: "Marketing and navigation are public".
    "/ui/marketing",
    "/ui/navigation",
    # An exception trace's short-lived download URL (local store): its signature is the credential.
    "/admin/exceptions/file",
    # The AI studio's single-part attachment upload URL, signed the same way.
    "/ai-studio/uploads/{attachment_id}",
}
# /docs: the spec names it among the public, unlimited paths; only /docs/openapi.json answers.
# The web UI (dagy/web): its page and static files are public; every API call it makes is not.
PUBLIC_ROOT = {
    "/sign-in",
    "/docs",
    "/docs/openapi.json",
    "/docs/{path}",
    "/",
    "/static/{path}",
}
MARKERS = {rbac.AUTHENTICATED, rbac.LOCAL}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    paths = DagyPaths(tmp_path_factory.mktemp("routes") / "home")
    return create_app(ServerState(DuckDBStore(paths), paths, base_path=BASE))


def handlers(app: Litestar) -> Iterator[tuple[str, Any]]:
    """(path without parameter types, handler) for every handler of every route."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", None) or [route.route_handler]:
            yield re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path), handler


def is_ours(handler: Any) -> bool:
    """Dagy's own handlers; the rest are Litestar's (OPTIONS answers, the OpenAPI plugin's router)."""
    fn = getattr(handler.fn, "func", handler.fn)  # sync handlers are wrapped in an AsyncCallable
    return str(fn.__module__).startswith("dagy.")


def label(path: str, handler: Any) -> str:
    return f"{'/'.join(sorted(handler.http_methods))} {path}"


def test_the_walk_sees_the_routes_of_this_issue(app):
    seen = {path for path, handler in handlers(app) if is_ours(handler)}
    for path in ("/me", "/auth/login", "/orgs/{org_id}/members/{email}/role", "/audit-logs"):
        assert BASE + path in seen
    assert "/sign-in" in seen


def test_every_handler_of_ours_declares_a_permission(app):
    missing = [label(p, h) for p, h in handlers(app) if is_ours(h) and "permission" not in h.opt]
    assert not missing, f"routes without opt['permission']: {missing}"


def test_only_the_specs_public_routes_are_public(app):
    public = {p for p, h in handlers(app) if h.opt.get("permission") == rbac.PUBLIC}
    allowed = {BASE + p for p in PUBLIC_API} | PUBLIC_ROOT
    assert public <= allowed, f"public but not in the spec's list: {sorted(public - allowed)}"


def test_every_other_permission_is_in_the_matrix_or_a_known_marker(app):
    unknown = sorted(
        f"{label(p, h)}: {h.opt['permission']}"
        for p, h in handlers(app)
        if "permission" in h.opt
        and h.opt["permission"] != rbac.PUBLIC
        and h.opt["permission"] not in rbac.ALL_PERMISSIONS | MARKERS
    )
    assert not unknown, unknown


def test_store_local_routes_stay_under_the_local_prefix(app):
    local = {p for p, h in handlers(app) if h.opt.get("permission") == rbac.LOCAL}
    assert local and all(p.startswith(BASE + "/_local/") for p in local)


def test_every_handler_goes_through_the_guard(app):
    unguarded = [label(p, h) for p, h in handlers(app) if authorize not in h.resolve_guards()]
    assert not unguarded, unguarded


def test_litestars_own_handlers_are_public_only_where_meant(app):
    """Handlers Litestar adds itself: OPTIONS answers (no handler runs) and the OpenAPI router
    under /docs, whose only enabled endpoint is the JSON document (public, like
    <base>/openapi.json). Nothing else Litestar adds answers with data."""
    theirs = [(p, h) for p, h in handlers(app) if not is_ours(h)]
    assert theirs  # if Litestar stops adding them, this test has nothing left to check
    with TestClient(app) as client:
        options = client.request("OPTIONS", BASE + "/api-keys")
        assert options.status_code == 204
        assert "POST" in options.headers["allow"] and options.content == b""
        spec = client.get("/docs/openapi.json")
        assert spec.status_code == 200 and BASE + "/me" in spec.json()["paths"]
        for path in ("/docs", "/docs/swagger", "/docs/redoc"):
            assert client.get(path).status_code == 404, path


def test_the_rate_limiter_wraps_unknown_routes_too(tmp_path):
    from dagy.server.app import create_asgi
    from dagy.server.state import RateLimitSettings

    paths = DagyPaths(tmp_path / "home")
    state = ServerState(DuckDBStore(paths), paths, base_path=BASE)
    state.rate_limit = RateLimitSettings(per_minute=60, burst=2)
    with TestClient(create_asgi(state)) as client:
        codes = [client.get(BASE + "/no-such-route").status_code for _ in range(3)]
    assert codes == [404, 404, 429]
