"""What the web front end shows beyond the API's resources (the spec's "UI Config"): landing page
content, navigation, the dashboard's widgets with real numbers, and the settings page with the
integrations this server has.

The words live in ``content/*.json`` beside this module (package data, edited without touching
code); the numbers come from the store through the same services the usage routes use, so the
dashboard never disagrees with ``GET /usage/summary``. See docs/ui-config.md.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from dagy.states import to_api
from dagy.store.records import iso_z

if TYPE_CHECKING:
    from dagy.auth.identity import Identity
    from dagy.store.duckdb_store import DuckDBStore

RECENT_RUNS = 10
AI_PROVIDERS_GROUP = "dagy.ai_providers"
BUILTIN_AI_PROVIDERS = ("offline",)


@cache
def _content(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"content/{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def content(name: str) -> dict[str, Any]:
    """A fresh copy of ``content/<name>.json`` (callers may add to it)."""
    copied: dict[str, Any] = json.loads(json.dumps(_content(name)))
    return copied


# -- public ---------------------------------------------------------------------------------------


def marketing() -> dict[str, Any]:
    """GET /ui/marketing: the landing page, with the plans and prices this server sells."""
    from dagy.services.usage import quotas

    body = content("marketing")
    body["pricing"]["plans"] = quotas.plans_body()["items"]
    return body


def navigation() -> dict[str, Any]:
    """GET /ui/navigation: main, sidebar (each item names the permission it needs) and footer."""
    return content("navigation")


# -- the dashboard --------------------------------------------------------------------------------


def dashboard(store: DuckDBStore, org_id: str) -> dict[str, Any]:
    """GET /ui/dashboard: widgets, this period's stats (``GET /usage/summary``'s numbers, with the
    runs in progress from ``GET /usage/quota``) and the org's most recent runs."""
    from dagy.services.usage import quotas, summary

    with store.connection():  # one hold: the numbers come from one moment of the store
        period = summary.summary(store, org_id)
        quota = quotas.quota(store, org_id)
        runs = store.list_runs(org_id=org_id, limit=RECENT_RUNS)
    stats = {**period, "runs_in_progress": quota["current_usage"]["concurrent_runs"]}
    stats["plan"] = quota["plan"]
    activity = [  # the fields of a GET /runs item, and what the run was
        {
            "type": "run",
            "run_id": run.run_id,
            "flow_name": run.flow_name,
            "flow_version": run.flow_version,
            "deployment_name": run.deployment_name,
            "status": to_api(run.status),
            "trigger": run.trigger,
            "created_at": iso_z(run.created_at) if run.created_at else None,
            "completed_at": iso_z(run.ended_at) if run.ended_at else None,
            "error": run.error,
        }
        for run in runs
    ]
    return {**content("dashboard"), "stats": stats, "recent_activity": activity}


# -- settings -------------------------------------------------------------------------------------


def _stripe_sdk() -> bool:
    try:
        import stripe  # noqa: F401
    except ImportError:
        return False
    return True


def _ai_providers() -> list[dict[str, Any]]:
    from importlib.metadata import entry_points

    found = {name: {"name": name, "builtin": True} for name in BUILTIN_AI_PROVIDERS}
    for ep in sorted(entry_points(group=AI_PROVIDERS_GROUP), key=lambda e: e.name):
        found.setdefault(ep.name, {"name": ep.name, "builtin": False, "target": ep.value})
    return list(found.values())


def _channels(store: DuckDBStore, org_id: str) -> list[dict[str, Any]]:
    from dagy.notify import TYPES
    from dagy.services.notifications import channels

    rows = channels.list_channels(store, org_id)
    return [
        {
            "id": f"channel_{kind}",
            "type": "notification_channel",
            "name": kind,
            "configured": any(r.channel_type == kind for r in rows),
            "enabled": any(r.channel_type == kind and r.enabled for r in rows),
            "count": sum(1 for r in rows if r.channel_type == kind),
        }
        for kind in TYPES
    ]


def settings_page(store: DuckDBStore, identity: Identity) -> dict[str, Any]:
    """GET /ui/settings: the sections the caller may open, the integrations as configured on this
    server and in the caller's org, and display preferences."""
    from dagy.artifacts import store_classes
    from dagy.config import settings
    from dagy.services import backends

    page = content("settings")
    page["sections"] = [{**s, "allowed": identity.can(s["permission"])} for s in page["sections"]]
    integrations = _channels(store, identity.org_id)
    stripe_key = bool(os.environ.get("STRIPE_API_KEY"))
    sdk = _stripe_sdk()
    integrations.append(
        {
            "id": "stripe",
            "type": "billing",
            "name": "stripe",
            "configured": stripe_key and sdk,
            "api_key_set": stripe_key,
            "webhook_secret_set": bool(os.environ.get("STRIPE_WEBHOOK_SECRET")),
            "sdk_installed": sdk,
        }
    )
    integrations += [
        {"id": f"ai_provider_{p['name']}", "type": "ai_provider", "configured": True, **p}
        for p in _ai_providers()
    ]
    integrations += [
        {
            "id": f"executor_{b['name']}",
            "type": "executor",
            "name": b["name"],
            "configured": b.get("status") == "available",
            "status": b.get("status"),
        }
        for b in backends.installed()
    ]
    active = settings.ARTIFACT_STORE.get() or "local"
    integrations += [
        {
            "id": f"artifact_store_{name}",
            "type": "artifact_store",
            "name": name,
            "configured": name == active,
            "active": name == active,
        }
        for name in sorted(store_classes())
    ]
    page["integrations"] = integrations
    page["preferences"] = {
        **page["preferences"],
        "email": identity.email,
        "org_id": identity.org_id,
        "role": identity.role,
    }
    return page
