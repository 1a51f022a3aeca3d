"""Who is calling: the identity every authenticated request resolves to."""

from __future__ import annotations

from dataclasses import dataclass

from dagy.auth import rbac


@dataclass(frozen=True)
class Identity:
    email: str
    org_id: str
    role: str
    permissions: frozenset[str]
    kind: str  # "token" | "api_key" | "jwt" | "local"
    credential_id: str | None = None  # the access token's or API key's id
    super_admin: bool = False
    expires_at: object = None  # datetime of the credential's expiry, when it has one
    # The super admin's email while they act in org_id through X-Impersonate-Org (as its owner);
    # audit rows written meanwhile carry it (audit_log.impersonated_by).
    impersonated_by: str | None = None

    def can(self, permission: str) -> bool:
        if permission in (rbac.PUBLIC, rbac.AUTHENTICATED):
            return True
        return permission in self.permissions


LOCAL_EMAIL = "local"
