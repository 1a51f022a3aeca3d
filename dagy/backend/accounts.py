"""Users through the backend: the members of an org, creating accounts, inviting, roles.

A password account is created where the store is (the file, or its live server's private
``/_local/users`` route): a remote API has no route that sets someone's password. Remotely an
admin invites instead (``POST /orgs/{org_id}/members``); the invited person signs in to
activate the membership.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import iso, parse_time, seconds
from dagy.errors import InvalidInputError

if TYPE_CHECKING:
    from dagy.services.accounts.audit import Actor
    from dagy.store.accounts import Membership

REMOTE_PASSWORD = (
    "A password account is created on the server's machine (`dagy users create` in its home); "
    "against a remote API use `dagy users invite EMAIL --role ROLE`"
)


@dataclass(frozen=True)
class Member:
    email: str
    role: str
    status: str  # active, or invited until the person has a password
    org_id: str
    member_id: str | None = None
    joined_at: _dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "email": self.email,
            "role": self.role,
            "status": self.status,
            "org_id": self.org_id,
            "joined_at": iso(self.joined_at),
        }


class UsersBackend(Protocol):
    @property
    def sets_passwords(self) -> bool:
        """Whether ``create`` can give an account its password here (not against a remote API)."""

    def create(self, email: str, password: str, *, role: str, org_id: str | None) -> Member:
        """An account with a password and its membership (or the password of an invited one)."""

    def invite(self, email: str, *, role: str, org_id: str | None) -> Member:
        """A membership for someone who signs in later (active at once if they already can)."""

    def list(self, org_id: str | None = None) -> list[Member]:
        """The org's members (the caller's org by default), in the order they were added."""

    def set_role(self, email: str, role: str, org_id: str | None = None) -> Member: ...


def _from_membership(m: Membership) -> Member:
    return Member(m.email, m.role, m.status, m.org_id, m.member_id, seconds(m.joined_at))


class LocalUsers:
    sets_passwords = True

    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def _actor(self, org_id: str) -> Actor:
        """The machine's user, as owner of ``org_id`` (the store file is theirs)."""
        actor = self.ctx.actor()
        if actor.identity is None or actor.identity.org_id == org_id:
            return actor
        return dataclasses.replace(
            actor, identity=dataclasses.replace(actor.identity, org_id=org_id)
        )

    def create(self, email: str, password: str, *, role: str, org_id: str | None) -> Member:
        from dagy.services.accounts import users

        org = org_id or self.ctx.org_id
        _, membership = users.create_user(
            self.ctx.store(), email, password, role=role, org_id=org, actor=self._actor(org)
        )
        return _from_membership(membership)

    def invite(self, email: str, *, role: str, org_id: str | None) -> Member:
        from dagy.services.accounts import orgs

        org = org_id or self.ctx.org_id
        return _from_membership(
            orgs.add_member(self.ctx.store(), self._actor(org), org, email, role)
        )

    def list(self, org_id: str | None = None) -> list[Member]:
        from dagy.services.accounts import orgs

        org, store, found = org_id or self.ctx.org_id, self.ctx.store(), []
        identity = self._actor(org).identity
        assert identity is not None
        after: tuple[str, str] | None = None
        with store.connection():
            while True:
                rows = orgs.list_members(store, identity, org, after=after, limit=500)
                found += [_from_membership(m) for m in rows]
                if len(rows) < 500:
                    return found
                after = (rows[-1].added_at.isoformat(), rows[-1].member_id)

    def set_role(self, email: str, role: str, org_id: str | None = None) -> Member:
        from dagy.services.accounts import orgs

        org = org_id or self.ctx.org_id
        membership, _ = orgs.change_role(self.ctx.store(), self._actor(org), org, email, role)
        return _from_membership(membership)


class HttpUsers:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
        self._org: str | None = None

    @property
    def sets_passwords(self) -> bool:
        return self.ctx.live is not None

    def _org_of(self, org_id: str | None) -> str:
        """The given org, else the caller's (``GET /me``)."""
        if org_id:
            return org_id
        if self._org is None:
            with as_service_errors():
                self._org = str(self.ctx.client.get("/me")["org_id"])
        return self._org

    def _members(self, org_id: str) -> str:
        return f"/orgs/{quote(org_id, safe='')}/members"

    def create(self, email: str, password: str, *, role: str, org_id: str | None) -> Member:
        if self.ctx.live is None:
            raise InvalidInputError(REMOTE_PASSWORD)
        org = self._org_of(org_id)
        body = {"email": email, "password": password, "role": role, "org_id": org}
        with as_service_errors():
            made = self.ctx.client.post("/_local/users", body)
        return Member(
            str(made["email"]),
            str(made["role"]),
            str(made.get("status") or "active"),
            str(made["org_id"]),
            made.get("member_id"),
            seconds(parse_time(made.get("joined_at"))),
        )

    def invite(self, email: str, *, role: str, org_id: str | None) -> Member:
        org = self._org_of(org_id)
        with as_service_errors():
            body = self.ctx.client.post(self._members(org), {"email": email, "role": role})
        return Member(
            str(body["email"]),
            str(body["role"]),
            str(body["status"]),
            org,
            body.get("member_id"),
            seconds(parse_time(body.get("joined_at"))) if body.get("status") == "active" else None,
        )

    def list(self, org_id: str | None = None) -> list[Member]:
        org = self._org_of(org_id)
        with as_service_errors():
            items = list(self.ctx.client.paginate(self._members(org)))
        return [
            Member(
                str(i["email"]),
                str(i["role"]),
                str(i["status"]),
                org,
                i.get("member_id"),
                seconds(parse_time(i.get("joined_at"))),
            )
            for i in items
        ]

    def set_role(self, email: str, role: str, org_id: str | None = None) -> Member:
        org = self._org_of(org_id)
        path = f"{self._members(org)}/{quote(email.strip().lower(), safe='')}/role"
        with as_service_errors():
            self.ctx.client.patch(path, {"role": role})
        return self._find(org, email)

    def _find(self, org: str, email: str) -> Member:
        wanted = email.strip().lower()
        for member in self.list(org):
            if member.email == wanted:
                return member
        from dagy.errors import NotFoundError

        raise NotFoundError(f"Member not found: {wanted}")
