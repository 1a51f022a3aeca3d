"""UI Config: content and configuration for the web front end (the spec's "UI Config").

Marketing and navigation are public; the dashboard needs runs.read; settings any signed-in caller.
The content is package data (dagy/services/ui/content/); see docs/ui-config.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from dagy.auth import rbac
from dagy.server.security import identity_of, state_of
from dagy.services import ui


@get("/ui/marketing", sync_to_thread=False, opt={"permission": rbac.PUBLIC})
def marketing() -> dict[str, Any]:
    return ui.marketing()


@get("/ui/navigation", sync_to_thread=False, opt={"permission": rbac.PUBLIC})
def navigation() -> dict[str, Any]:
    return ui.navigation()


@get("/ui/dashboard", sync_to_thread=True, opt={"permission": "runs.read"})
def dashboard(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = state_of(request)
    if state.api_calls is not None:  # the API calls counted so far, as GET /usage/summary does
        state.api_calls.flush()
    return ui.dashboard(state.store, identity_of(request).org_id)


@get("/ui/settings", sync_to_thread=True, opt={"permission": rbac.AUTHENTICATED})
def settings_page(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return ui.settings_page(state_of(request).store, identity_of(request))


ROUTES = [marketing, navigation, dashboard, settings_page]
