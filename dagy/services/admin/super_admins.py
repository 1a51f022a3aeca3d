"""The platform-level super-admin flag of a user (``users.super_admin``), separate from org roles.

Set only where the store is (`dagy users create --super-admin`, `dagy users set-super-admin`, on
the store file or through this home's live server's private ``/_local`` routes): no public API
route grants it. Each change is audited in the user's default org's trail.
"""

from __future__ import annotations

from typing import Any

from dagy.errors import NotFoundError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.accounts.users import normalize_email
from dagy.store import accounts as sql


def set_super_admin(store: Any, actor: Actor, email: Any, on: bool) -> dict[str, Any]:
    """Turn the flag on or off for an existing user; answers {user_email, super_admin}."""
    email = normalize_email(email)
    with store.transaction():
        user = sql.get_user(store, email)
        if user is None:
            raise NotFoundError(f"User not found: {email}", {"email": email})
        before = bool(user.super_admin)
        if before != on:
            sql.set_super_admin(store, email, on)
        audit.write(
            store,
            actor,
            "update",
            "user",
            email,
            resource_name=email,
            changes={"super_admin": [before, on]},
            org_id=user.default_org_id or "personal",
        )
    return {"user_email": email, "super_admin": on}
