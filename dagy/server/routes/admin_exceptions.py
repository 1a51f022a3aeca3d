"""Exception traces for super admins: list, content, a short-lived download URL, delete; the signed
file route that URL points at with the local store; and the test-only fault hook.

See dagy/services/traces.py for what a trace holds and where it lives, docs/admin.md for the API.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from dagy.auth import rbac
from dagy.config import settings
from dagy.server.openapi import Body
from dagy.server.security import actor_of, identity_of, require_super_admin, state_of
from dagy.services import traces

# Signed in, and a super admin: authorize() answers 403 "Super admin access required" otherwise.
SUPER_ADMIN = {"permission": rbac.AUTHENTICATED, "super_admin": True}
_KEY = {"pattern": traces._KEY.pattern}
_BY_KEY = {**SUPER_ADMIN, "params": {"key": {**_KEY, "required": True}}, "errors": [404]}


def _checked(request: Request[Any, Any, Any]) -> Any:
    require_super_admin(identity_of(request))  # the guard did; a route moved elsewhere still does
    return state_of(request)


@get(
    "/admin/exceptions",
    sync_to_thread=True,
    opt={**SUPER_ADMIN, "params": {"limit": {"minimum": 1, "maximum": 1000}}},
)
def list_exceptions(request: Request[Any, Any, Any], limit: int = 100) -> dict[str, Any]:
    """Exception traces across all organizations, newest first."""
    return traces.list_traces(_checked(request).paths, limit)


@get("/admin/exceptions/content", sync_to_thread=True, opt=_BY_KEY)
def exception_content(request: Request[Any, Any, Any], key: str | None = None) -> dict[str, Any]:
    """The whole trace at ``key``."""
    return traces.content(_checked(request).paths, key)


@get("/admin/exceptions/download", sync_to_thread=True, opt=_BY_KEY)
def exception_download(request: Request[Any, Any, Any], key: str | None = None) -> dict[str, Any]:
    """A short-lived URL that serves the trace without a token."""
    state = _checked(request)
    api_url = settings.PUBLIC_API_URL.get() or state.api_url
    return traces.download_url(state.paths, key, api_url)


class DeleteBody(Body):
    keys: list[str]
    doc = {"keys": {"minItems": 1, "items": {"type": "string", **_KEY}}}


@delete("/admin/exceptions", status_code=200, sync_to_thread=True, opt={**SUPER_ADMIN})
def delete_exceptions(request: Request[Any, Any, Any], data: DeleteBody) -> dict[str, Any]:
    """Delete traces; how many there were."""
    state = _checked(request)
    return {"deleted": traces.delete(state.paths, data.keys, state.store, actor_of(request))}


@get(
    "/admin/exceptions/file",
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.PUBLIC},  # the URL's signature and expiry are the credential
)
def exception_file(
    request: Request[Any, Any, Any], key: str = "", expires: str = "", signature: str = ""
) -> Response[bytes]:
    data = traces.signed_file(state_of(request).paths, key, expires, signature)
    name = key.rsplit("/", 1)[-1]
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class FaultBody(Body):
    message: str = "deliberate fault"


@post(
    "/_test/fault",
    sync_to_thread=False,
    include_in_schema=False,
    opt={"permission": rbac.AUTHENTICATED},
)
def test_fault(data: FaultBody) -> None:
    """Fails on purpose (mounted only with DAGY_TEST_FAULTS): the 500 every trace test needs."""
    raise RuntimeError(data.message)


ROUTES = [list_exceptions, exception_content, exception_download, delete_exceptions, exception_file]
TEST_ROUTES = [test_fault]  # mounted by create_app only when DAGY_TEST_FAULTS is on
