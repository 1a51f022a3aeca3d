"""Accounts: users, logins and tokens, orgs and members, API keys; who a bearer token is.

Rules that live here (not in the HTTP layer, so the CLI's `dagy users create` obeys them too):
- emails are case-insensitive and stored lower-cased;
- tokens and keys are stored only as SHA-256 hashes, passwords only as scrypt hashes;
- an API key never carries a scope its creator lacks, and loses any scope the creator loses later;
- an org always keeps at least one owner, and only an owner can make or unmake owners.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from dagy.auth import rbac
from dagy.auth import secrets as hashing
from dagy.auth.identity import LOCAL_EMAIL, Identity
from dagy.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dagy.store import accounts as sql
from dagy.store.accounts import AccessToken, ApiKey, Membership, Org, User
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

PERSONAL_ORG = "personal"
PLANS = ("free", "professional", "enterprise")
DEFAULT_TOKEN_TTL = 12 * 3600
# last_used_at is written at most this often per key: a write per request would dominate GET /me.
KEY_TOUCH_INTERVAL = _dt.timedelta(seconds=60)
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def token_ttl() -> int:
    try:
        return max(1, int(os.environ.get("DAGY_TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL)))
    except ValueError:
        return DEFAULT_TOKEN_TTL


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
) -> tuple[User, Membership]:
    """Create an account and its membership; an invited account gets its password and activates."""
    email = normalize_email(email)
    check_role(role)
    if password is not None and len(password) < 8:
        raise InvalidInputError("Password must be at least 8 characters", {"password": "too short"})
    now = utcnow()
    with store.connection():
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
    user_agent: str | None = None,
) -> IssuedToken:
    """Check the credentials and issue an access token bound to one org."""
    with store.connection():
        membership = authenticate(store, email, password, passwordless=passwordless, org_id=org_id)
        return issue_token(store, membership.email, membership.org_id, user_agent=user_agent)


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


def logout(store: DuckDBStore, identity: Identity) -> None:
    if identity.kind == "token" and identity.credential_id:
        sql.revoke_token(store, identity.credential_id, utcnow())


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


def local_identity() -> Identity:
    """The server's own token (server.json): the machine's user, owner of the personal org."""
    return Identity(
        LOCAL_EMAIL,
        PERSONAL_ORG,
        "owner",
        rbac.permissions_for("owner") | {rbac.LOCAL},
        "local",
    )


# -- orgs and members -------------------------------------------------------------------------------


def create_org(store: DuckDBStore, identity: Identity, name: Any, plan: Any) -> Org:
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name.strip()) > 100
        or _CONTROL.search(name)
    ):
        raise InvalidInputError(
            "Invalid org name", {"org_name": "1 to 100 characters, no control characters"}
        )
    plan = plan or "free"
    if plan not in PLANS:
        raise InvalidInputError(f"Invalid plan: {plan!r}", {"plan": f"one of {', '.join(PLANS)}"})
    if identity.kind == "local":
        raise PermissionDeniedError("The local token cannot create organizations")
    now = utcnow()
    with store.connection() as con:
        con.execute("BEGIN")
        try:
            if sql.org_name_taken(store, name.strip()):
                raise ConflictError(f"Organization name already exists: {name.strip()}")
            org = Org(hashing.new_id("org"), name.strip(), now, plan, identity.email)
            sql.insert_org(store, org)
            sql.insert_membership(
                store,
                Membership(
                    hashing.new_id("member"),
                    org.org_id,
                    identity.email,
                    "owner",
                    "active",
                    now,
                    now,
                    None,
                ),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return org


def own_org(store: DuckDBStore, identity: Identity, org_id: str) -> Org:
    """The caller's org by id; any other org is 404, whether or not it exists."""
    org = sql.get_org(store, org_id) if org_id == identity.org_id else None
    if org is None:
        raise NotFoundError(f"Organization not found: {org_id}")
    return org


def add_member(
    store: DuckDBStore, identity: Identity, org_id: str, email: Any, role: Any
) -> Membership:
    email = normalize_email(email)
    role = check_role(role)
    now = utcnow()
    with store.connection():
        own_org(store, identity, org_id)
        if role == "owner" and identity.role != "owner":
            raise PermissionDeniedError("Only an owner can add an owner")
        if sql.get_membership(store, org_id, email) is not None:
            raise ConflictError(f"Member already exists: {email}")
        user = sql.get_user(store, email)
        if user is None:
            sql.insert_user(store, User(email, None, False, org_id, now))
        status = "active" if user is not None and user.password_hash else "invited"
        membership = Membership(
            hashing.new_id("member"),
            org_id,
            email,
            role,
            status,
            now,
            now if status == "active" else None,
            None,
        )
        sql.insert_membership(store, membership)
    return membership


def list_members(
    store: DuckDBStore,
    identity: Identity,
    org_id: str,
    *,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Membership]:
    with store.connection():
        own_org(store, identity, org_id)
        return sql.list_members(store, org_id, after=after, limit=limit)


def change_role(
    store: DuckDBStore, identity: Identity, org_id: str, email: str, role: Any
) -> tuple[Membership, str]:
    """Returns the updated membership and the role it had before."""
    role = check_role(role)
    email = email.strip().lower()
    with store.connection():
        own_org(store, identity, org_id)
        membership = sql.get_membership(store, org_id, email)
        if membership is None:
            raise NotFoundError(f"Member not found: {email}")
        before = membership.role
        if "owner" in (role, before) and identity.role != "owner":
            raise PermissionDeniedError("Only an owner can grant or remove the owner role")
        if before == "owner" and role != "owner" and sql.count_owners(store, org_id) <= 1:
            raise InvalidInputError(
                "An organization needs at least one owner", {"role": "last owner"}
            )
        now = utcnow()
        sql.update_membership(store, membership.member_id, role=role, updated_at=now)
        membership.role, membership.updated_at = role, now
    return membership, before


def list_orgs(store: DuckDBStore, identity: Identity) -> list[tuple[Org, str]]:
    if identity.kind in ("local", "api_key"):
        # A key or the local token belongs to exactly one org.
        org = sql.get_org(store, identity.org_id)
        return [(org, identity.role)] if org else []
    return sql.orgs_of(store, identity.email)


# -- API keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedKey:
    key: str
    record: ApiKey


def create_api_key(
    store: DuckDBStore,
    identity: Identity,
    name: Any,
    scopes: Any,
    *,
    expires_in_days: Any = None,
) -> CreatedKey:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInputError("Invalid key name", {"name": "1 to 200 characters"})
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise InvalidInputError("Invalid scopes", {"scopes": "a non-empty list of permissions"})
    unknown = sorted(set(scopes) - rbac.ALL_PERMISSIONS)
    if unknown:
        raise InvalidInputError(
            f"Invalid scopes: unknown {', '.join(unknown)}", {"scopes": {"unknown": unknown}}
        )
    beyond = sorted(set(scopes) - identity.permissions)
    if beyond:
        raise InvalidInputError(
            f"Invalid scopes: you do not hold {', '.join(beyond)}",
            {"scopes": {"not_held": beyond}},
        )
    expires = None
    if expires_in_days is not None:
        if (
            not isinstance(expires_in_days, int)
            or isinstance(expires_in_days, bool)
            or not 1 <= expires_in_days <= 3650
        ):
            raise InvalidInputError(
                "Invalid expires_in_days", {"expires_in_days": "an integer from 1 to 3650"}
            )
        expires = utcnow() + _dt.timedelta(days=expires_in_days)
    key = hashing.new_api_key()
    record = ApiKey(
        hashing.new_id("key"),
        identity.org_id,
        identity.email,
        name.strip(),
        hashing.token_hash(key),
        hashing.key_prefix(key),
        json.dumps(sorted(set(scopes), key=scopes.index)),
        utcnow(),
        expires,
        None,
        None,
    )
    sql.insert_api_key(store, record)
    return CreatedKey(key, record)


def list_api_keys(
    store: DuckDBStore, identity: Identity, *, after: tuple[str, str] | None, limit: int
) -> list[ApiKey]:
    return sql.list_api_keys(store, identity.org_id, after=after, limit=limit)


def delete_api_key(store: DuckDBStore, identity: Identity, key_id: str) -> ApiKey:
    with store.connection():
        key = sql.get_api_key(store, identity.org_id, key_id)
        if key is None:
            raise NotFoundError(f"API key not found: {key_id}")
        sql.delete_api_key(store, key_id, utcnow())
    return key
