"""The role → permission matrix, exactly as ``GET /orgs/{org_id}/roles`` shows it."""

from __future__ import annotations

ROLES = ("owner", "admin", "developer", "viewer")

MATRIX: dict[str, tuple[str, ...]] = {
    "owner": (
        "flows.read",
        "flows.write",
        "flows.delete",
        "runs.read",
        "runs.trigger",
        "runs.cancel",
        "schedules.read",
        "schedules.write",
        "schedules.delete",
        "api_keys.read",
        "api_keys.write",
        "api_keys.delete",
        "admin.members",
        "admin.api_keys",
        "admin.audit",
        "secrets.read",
        "secrets.write",
        "secrets.delete",
        "notifications.read",
        "notifications.write",
        "environments.read",
        "environments.write",
        "sensors.read",
        "sensors.write",
        "billing.read",
        "billing.write",
    ),
    "admin": (
        "flows.read",
        "flows.write",
        "flows.delete",
        "runs.read",
        "runs.trigger",
        "runs.cancel",
        "schedules.read",
        "schedules.write",
        "api_keys.read",
        "api_keys.write",
        "admin.members",
        "admin.api_keys",
        "admin.audit",
        "secrets.read",
        "secrets.write",
        "notifications.read",
        "notifications.write",
        "environments.read",
        "environments.write",
        "sensors.read",
        "sensors.write",
        "billing.read",
    ),
    "developer": (
        "flows.read",
        "flows.write",
        "runs.read",
        "runs.trigger",
        "runs.cancel",
        "schedules.read",
        "schedules.write",
        "secrets.read",
        "secrets.write",
        "notifications.read",
        "environments.read",
        "sensors.read",
        "sensors.write",
    ),
    "viewer": (
        "flows.read",
        "runs.read",
        "schedules.read",
        "environments.read",
        "billing.read",
    ),
}

ALL_PERMISSIONS = frozenset(p for perms in MATRIX.values() for p in perms)

# Route markers that are not permissions of the matrix:
PUBLIC = "public"  # no identity needed (the spec's public list, plus the login pages)
AUTHENTICATED = "authenticated"  # any identity ("Permissions: Authenticated user" / "None")
LOCAL = "store.local"  # only the server's own local token (server.json): the CLI's store access


def permissions_for(role: str) -> frozenset[str]:
    return frozenset(MATRIX.get(role, ()))


def is_role(value: str) -> bool:
    return value in MATRIX
