"""Accounts: users, logins and tokens; who a bearer token is (orgs.py: orgs and members;
api_keys.py: API keys).

Rules that live here (not in the HTTP layer, so the CLI's `dagy users create` obeys them too):
- emails are case-insensitive and stored lower-cased;
- tokens and keys are stored only as SHA-256 hashes, passwords only as scrypt hashes;
- an API key never carries a scope its creator lacks, and loses any scope the creator loses later;
- an org always keeps at least one owner, and only an owner can make or unmake owners.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

from dagy.auth import rbac
from dagy.auth import secrets as hashing
from dagy.auth.identity import Identity
from dagy.config import settings
from dagy.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor, Origin
from dagy.services.accounts.audit import local_identity as local_identity  # its old home
from dagy.store import accounts as sql
from dagy.store.accounts import AccessToken, Membership, User
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

PERSONAL_ORG = "personal"
PLANS = ("free", "professional", "enterprise")
DEFAULT_TOKEN_TTL = 12 * 3600
# last_used_at is written at most this often per key: a write per request would dominate GET /me.
KEY_TOUCH_INTERVAL = _dt.timedelta(seconds=60)
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")


def token_ttl() -> int:
    return max(1, settings.TOKEN_TTL_SECONDS.get())


def normalize_email(email: Any, *, field: str = "email") -> str:
    if not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        raise InvalidInputError("Invalid email format", {field: "must be an email address"})
    return email.strip().lower()


def check_role(role: Any) -> str:
    if not isinstance(role, str) or not rbac.is_role(role):
        raise InvalidInputError(
            f"Invalid role: {role!r}", {"role": f"must be one of {', '.join(rbac.ROLES)}"}
        )
    return role


# -- users ------------------------------------------------------------------------------------------


def has_users(store: DuckDBStore) -> bool:
    return sql.count_users(store) > 0


def create_user(
    store: DuckDBStore,
    email: str,
    password: str | None,
    *,
    role: str = "owner",
    org_id: str = PERSONAL_ORG,
    super_admin: bool = False,
    actor: Actor | None = None,
) -> tuple[User, Membership]:
    """Create an account and its membership; an invited account gets its password and activates.

    With an ``actor`` (`dagy users create`), the change is audited as them; the server's own
    bootstrap of its first owner passes none."""
    email = normalize_email(email)
    check_role(role)
    if password is not None and len(password) < 8:
        raise InvalidInputError("Password must be at least 8 characters", {"password": "too short"})
    now = utcnow()
    with store.transaction():
        org = sql.get_org(store, org_id)
        if org is None:
            raise NotFoundError(f"Organization not found: {org_id}")
        user = sql.get_user(store, email)
        if user is not None and user.password_hash:
            raise ConflictError(f"User already exists: {email}")
        digest = hashing.hash_password(password) if password is not None else None
        if user is None:
            user = User(email, digest, super_admin, org_id, now)
            sql.insert_user(store, user)
        elif digest is not None:
            sql.set_password(store, email, digest)
            user.password_hash = digest
        membership = sql.get_membership(store, org_id, email)
        if membership is None:
            membership = Membership(
                hashing.new_id("member"), org_id, email, role, "active", now, now, None
            )
            sql.insert_membership(store, membership)
        if org.owner_email is None and role == "owner":
            sql.update_org(store, org_id, owner_email=email)
        sql.activate_memberships(store, email, now)
        membership = sql.get_membership(store, org_id, email) or membership
        if actor is not None:
            audit.write(
                store,
                actor,
                "create",
                "user",
                email,
                resource_name=email,
                changes={"role": [None, membership.role]},
                org_id=membership.org_id,
            )
    return user, membership


# -- login, tokens, identities ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: _dt.datetime
    record: AccessToken


def authenticate(
    store: DuckDBStore,
    email: Any,
    password: Any,
    *,
    passwordless: bool,
    org_id: str | None = None,
) -> Membership:
    """The membership the credentials log into; AuthenticationError when they don't check out."""
    email = normalize_email(email)
    if not passwordless and not (isinstance(password, str) and password):
        raise InvalidInputError("Password is required", {"password": "required"})
    with store.connection():
        user = sql.get_user(store, email)
        if passwordless:
            ok = user is not None
        else:
            ok = hashing.verify_password(password, user.password_hash if user else None)
        if not ok or user is None:
            raise AuthenticationError("Email not found or unauthorized")
        membership = (
            sql.get_membership(store, org_id, email) if org_id else _default_membership(store, user)
        )
        if membership is None:
            raise AuthenticationError("Email not found or unauthorized")
        sql.activate_memberships(store, email, utcnow())
    return membership


def login(
    store: DuckDBStore,
    email: Any,
    password: Any,
    *,
    passwordless: bool,
    org_id: str | None = None,
    origin: Origin = Origin(),  # noqa: B008 - frozen
) -> IssuedToken:
    """Check the credentials and open a session (an access token bound to one org), audited."""
    with store.transaction():
        membership = authenticate(store, email, password, passwordless=passwordless, org_id=org_id)
        return open_session(store, membership.email, membership.org_id, origin=origin)


def _default_membership(store: DuckDBStore, user: User) -> Membership | None:
    if user.default_org_id:
        found = sql.get_membership(store, user.default_org_id, user.email)
        if found is not None:
            return found
    return sql.first_membership(store, user.email)


def issue_token(
    store: DuckDBStore, email: str, org_id: str, *, user_agent: str | None = None
) -> IssuedToken:
    token = hashing.new_access_token()
    now = utcnow()
    expires = now + _dt.timedelta(seconds=token_ttl())
    record = AccessToken(
        hashing.new_id("tok"),
        hashing.token_hash(token),
        email,
        org_id,
        now,
        expires,
        None,
        (user_agent or "")[:300] or None,
    )
    sql.insert_token(store, record)
    return IssuedToken(token, expires, record)


def open_session(
    store: DuckDBStore,
    email: str,
    org_id: str,
    *,
    origin: Origin = Origin(),  # noqa: B008 - frozen
    changes: dict[str, Any] | None = None,
) -> IssuedToken:
    """An access token for a member of ``org_id`` and its ``login`` audit row, in one transaction.

    The login establishes who the actor is: the row names the member the token is for, and
    ``origin`` (the request's IP and user agent, which the token keeps too).
    """
    with store.transaction():
        identity = member_identity(store, email, org_id, kind="token")
        issued = issue_token(store, email, org_id, user_agent=origin.user_agent)
        audit.write(
            store,
            Actor(identity, origin),
            "login",
            "session",
            issued.record.token_id,
            resource_name=identity.email,
            changes=changes,
        )
    return issued


def logout(store: DuckDBStore, actor: Actor) -> None:
    """Revoke the actor's access token (an API key is not revoked here) and audit the logout."""
    identity = actor.identity
    if identity is None:
        raise AuthenticationError("Invalid or missing token")
    with store.transaction():
        if identity.kind == "token" and identity.credential_id:
            sql.revoke_token(store, identity.credential_id, utcnow())
        audit.write(
            store,
            actor,
            "logout",
            "session",
            identity.credential_id,
            resource_name=identity.email,
        )


def identify(store: DuckDBStore, bearer: str, *, org_override: str | None = None) -> Identity:
    """The identity of an access token or ``dagy_`` API key; AuthenticationError otherwise."""
    now = utcnow()
    digest = hashing.token_hash(bearer)
    with store.connection():
        if bearer.startswith("dagy_"):
            return _identify_key(store, digest, now)
        token = sql.token_by_hash(store, digest)
        if token is None or token.revoked_at is not None:
            raise AuthenticationError("Invalid or missing token")
        if token.expires_at <= now:
            raise AuthenticationError("Token expired")
        org_id = org_override or token.org_id
        if org_id != token.org_id:
            switch_check(store, token.email, org_id)
        identity = member_identity(store, token.email, org_id, kind="token")
        return Identity(
            identity.email,
            identity.org_id,
            identity.role,
            identity.permissions,
            "token",
            token.token_id,
            identity.super_admin,
            token.expires_at,
        )


def switch_check(store: DuckDBStore, email: str, org_id: str) -> None:
    """A valid credential naming (``X-Dagy-Org``) an org its user is not a member of: 403, the
    caller is known but not allowed there (the overview's RBAC), not 401."""
    if sql.get_membership(store, org_id, email) is None:
        raise PermissionDeniedError(
            f"Not a member of organization {org_id}", {"org_id": "not a member"}
        )


def member_identity(store: DuckDBStore, email: str, org_id: str, *, kind: str) -> Identity:
    membership = sql.get_membership(store, org_id, email)
    if membership is None:
        # A token for an org the user has left, or an X-Dagy-Org they don't belong to.
        raise AuthenticationError("Not a member of this organization")
    user = sql.get_user(store, email)
    return Identity(
        email,
        org_id,
        membership.role,
        rbac.permissions_for(membership.role),
        kind,
        super_admin=bool(user and user.super_admin),
    )


def _identify_key(store: DuckDBStore, digest: str, now: _dt.datetime) -> Identity:
    key = sql.api_key_by_hash(store, digest)
    if key is None:
        raise AuthenticationError("Invalid API key")
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationError("API key expired")
    membership = sql.get_membership(store, key.org_id, key.created_by)
    if membership is None:
        raise AuthenticationError("API key owner is no longer a member of this organization")
    allowed = rbac.permissions_for(membership.role) & frozenset(key.scope_list)
    if key.last_used_at is None or now - key.last_used_at >= KEY_TOUCH_INTERVAL:
        sql.touch_api_keys(store, {key.key_id: now})
    return Identity(
        key.created_by,
        key.org_id,
        membership.role,
        allowed,
        "api_key",
        key.key_id,
        expires_at=key.expires_at,
    )


def jwt_identity(store: DuckDBStore, claims: dict[str, Any]) -> Identity:
    """A verified JWT's identity: its ``email`` (or e-mail-shaped ``sub``) must be a member."""
    raw = claims.get("email") or claims.get("sub")
    if not isinstance(raw, str) or not _EMAIL.match(raw):
        raise AuthenticationError("Token has no email claim")
    email = raw.lower()
    with store.connection():
        org_id = claims.get("org_id")
        if not isinstance(org_id, str):
            user = sql.get_user(store, email)
            membership = _default_membership(store, user) if user else None
            if membership is None:
                raise AuthenticationError("Not a member of any organization")
            org_id = membership.org_id
        identity = member_identity(store, email, org_id, kind="jwt")
    exp = claims.get("exp")
    expires = (
        _dt.datetime.fromtimestamp(exp, _dt.timezone.utc).replace(tzinfo=None)
        if isinstance(exp, (int, float))
        else None
    )
    return Identity(
        identity.email,
        identity.org_id,
        identity.role,
        identity.permissions,
        "jwt",
        None,
        identity.super_admin,
        expires,
    )
