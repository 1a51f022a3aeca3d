"""Orgs and their members: create an org, add members (invited until they have a password),
change roles. An org always keeps at least one owner, and only an owner makes or unmakes owners.
Every change writes its audit row as the ``Actor``, in the change's transaction."""

from __future__ import annotations

from typing import Any

from dagy.auth import secrets as hashing
from dagy.auth.identity import Identity
from dagy.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from dagy.names import check_display_name
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.accounts.users import PLANS, check_role, normalize_email
from dagy.store import accounts as sql
from dagy.store.accounts import Membership, Org, User
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow


def identity_of(actor: Actor) -> Identity:
    """Orgs are changed by someone signed in; an actor without an identity cannot."""
    if actor.identity is None:
        raise PermissionDeniedError("Sign in to change organizations")
    return actor.identity


def create_org(store: DuckDBStore, actor: Actor, name: Any, plan: Any) -> Org:
    identity = identity_of(actor)
    name = check_display_name(name, "org_name", max_length=100, message="Invalid org name")
    plan = plan or "free"
    if plan not in PLANS:
        raise InvalidInputError(f"Invalid plan: {plan!r}", {"plan": f"one of {', '.join(PLANS)}"})
    if identity.kind == "local":
        raise PermissionDeniedError("The local token cannot create organizations")
    now = utcnow()
    with store.transaction():
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
        audit.write(
            store,
            actor,
            "create",
            "org",
            org.org_id,
            resource_name=org.name,
            changes={"plan": [None, org.plan]},
            org_id=org.org_id,
        )
    return org


def own_org(store: DuckDBStore, identity: Identity, org_id: str) -> Org:
    """The caller's org by id; any other org is 404, whether or not it exists."""
    org = sql.get_org(store, org_id) if org_id == identity.org_id else None
    if org is None:
        raise NotFoundError(f"Organization not found: {org_id}")
    return org


def add_member(store: DuckDBStore, actor: Actor, org_id: str, email: Any, role: Any) -> Membership:
    identity = identity_of(actor)
    email = normalize_email(email)
    role = check_role(role)
    now = utcnow()
    with store.transaction():
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
        audit.write(
            store,
            actor,
            "create",
            "member",
            membership.member_id,
            resource_name=email,
            changes={"role": [None, role]},
        )
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
    store: DuckDBStore, actor: Actor, org_id: str, email: str, role: Any
) -> tuple[Membership, str]:
    """Returns the updated membership and the role it had before."""
    identity = identity_of(actor)
    role = check_role(role)
    email = email.strip().lower()
    with store.transaction():
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
        audit.write(
            store,
            actor,
            "update",
            "member",
            membership.member_id,
            resource_name=email,
            changes={"role": [before, role]},
        )
    return membership, before


def list_orgs(store: DuckDBStore, identity: Identity) -> list[tuple[Org, str]]:
    if identity.kind in ("local", "api_key"):
        # A key or the local token belongs to exactly one org.
        org = sql.get_org(store, identity.org_id)
        return [(org, identity.role)] if org else []
    return sql.orgs_of(store, identity.email)
