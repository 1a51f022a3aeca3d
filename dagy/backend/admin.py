"""Super admin through the backend: customer orgs, their suspension and credits, and the
platform-level super-admin flag.

On the store file the services run as this machine's user (who owns the file); through an API
(this home's live server with its local token, or a remote one with a super admin's login) the
``/admin/*`` routes answer, and refuse anyone else with 403 ``Super admin access required``.
The super-admin flag is set only where the store is: the file, or the live server's private
``/_local`` route; a remote API has no route that grants it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import iso, parse_time, seconds
from dagy.errors import InvalidInputError

REMOTE_SUPER_ADMIN = (
    "The super-admin flag is set on the server's machine (`dagy users set-super-admin` in its "
    "home, on its store file or through its live server); a remote API cannot grant it"
)


@dataclass(frozen=True)
class CustomerRow:
    org_id: str
    org_name: str
    owner_email: str | None
    plan: str
    status: str
    member_count: int
    created_at: _dt.datetime | None
    updated_at: _dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "org_name": self.org_name,
            "owner_email": self.owner_email,
            "plan": self.plan,
            "status": self.status,
            "member_count": self.member_count,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class CustomerPage:
    items: list[CustomerRow]
    total: int
    next_token: str | None


def _row(item: dict[str, Any]) -> CustomerRow:
    return CustomerRow(
        str(item["org_id"]),
        str(item["org_name"]),
        item.get("owner_email"),
        str(item.get("plan") or "free"),
        str(item.get("status") or "active"),
        int(item.get("member_count") or 0),
        seconds(parse_time(item.get("created_at"))),
        seconds(parse_time(item.get("updated_at"))),
    )


def _page(body: dict[str, Any]) -> CustomerPage:
    return CustomerPage(
        [_row(i) for i in body["items"]], int(body["total"]), body.get("next_token")
    )


class AdminBackend(Protocol):
    def customers(
        self,
        *,
        status: str | None = None,
        plan: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> CustomerPage:
        """One page of customer orgs (oldest first) and how many match in all."""

    def suspend(self, org_id: str) -> str:
        """Suspend the org; its status after ("suspended")."""

    def activate(self, org_id: str) -> str:
        """Activate the org; its status after ("active")."""

    def credits(self, org_id: str, amount: float, note: str | None = None) -> float:
        """Change the org's credits by ``amount`` (either sign); the balance after."""

    def set_super_admin(self, email: str, on: bool) -> bool:
        """Grant or withdraw the platform-level flag (not against a remote API)."""

    # -- exception traces (dagy/services/traces.py) --

    def exceptions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` exception traces, newest first (summaries, as the API lists)."""

    def exception(self, key: str) -> dict[str, Any]:
        """The whole trace at ``key``."""

    def delete_exceptions(self, keys: list[str]) -> int:
        """Delete the traces at ``keys``; how many there were."""


class LocalAdmin:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def customers(
        self,
        *,
        status: str | None = None,
        plan: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> CustomerPage:
        from dagy.services.admin import customers

        body = customers.list_customers(
            self.ctx.store(),
            status=status,
            plan=plan,
            search=search,
            limit=limit,
            next_token=next_token,
        )
        return _page(body)

    def _status(self, org_id: str, status: str) -> str:
        from dagy.services.admin import customers

        return str(
            customers.set_status(self.ctx.store(), self.ctx.actor(), org_id, status)["status"]
        )

    def suspend(self, org_id: str) -> str:
        return self._status(org_id, "suspended")

    def activate(self, org_id: str) -> str:
        return self._status(org_id, "active")

    def credits(self, org_id: str, amount: float, note: str | None = None) -> float:
        from dagy.services.admin import customers

        body: dict[str, Any] = {"amount": amount}
        if note is not None:
            body["note"] = note
        answer = customers.adjust_credits(self.ctx.store(), self.ctx.actor(), org_id, body)
        return float(answer["credits_balance"])

    def set_super_admin(self, email: str, on: bool) -> bool:
        from dagy.services.admin import super_admins

        answer = super_admins.set_super_admin(self.ctx.store(), self.ctx.actor(), email, on)
        return bool(answer["super_admin"])

    def exceptions(self, limit: int = 100) -> list[dict[str, Any]]:
        from dagy.services import traces

        return list(traces.list_traces(self.ctx.paths, limit)["items"])

    def exception(self, key: str) -> dict[str, Any]:
        from dagy.services import traces

        return traces.content(self.ctx.paths, key)

    def delete_exceptions(self, keys: list[str]) -> int:
        from dagy.services import traces

        return traces.delete(self.ctx.paths, keys, self.ctx.store(), self.ctx.actor())


class HttpAdmin:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _customer(self, org_id: str) -> str:
        return f"/admin/customers/{quote(org_id, safe='')}"

    def customers(
        self,
        *,
        status: str | None = None,
        plan: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> CustomerPage:
        params = {
            k: v
            for k, v in {
                "status": status,
                "plan": plan,
                "search": search,
                "limit": limit,
                "next_token": next_token,
            }.items()
            if v is not None
        }
        with as_service_errors():
            return _page(self.ctx.client.get("/admin/customers", **params))

    def suspend(self, org_id: str) -> str:
        with as_service_errors():
            return str(self.ctx.client.post(f"{self._customer(org_id)}/suspend")["status"])

    def activate(self, org_id: str) -> str:
        with as_service_errors():
            return str(self.ctx.client.post(f"{self._customer(org_id)}/activate")["status"])

    def credits(self, org_id: str, amount: float, note: str | None = None) -> float:
        body: dict[str, Any] = {"amount": amount}
        if note is not None:
            body["note"] = note
        with as_service_errors():
            answer = self.ctx.client.post(f"{self._customer(org_id)}/credits", body)
        return float(answer["credits_balance"])

    def set_super_admin(self, email: str, on: bool) -> bool:
        if self.ctx.live is None:
            raise InvalidInputError(REMOTE_SUPER_ADMIN)
        path = f"/_local/users/{quote(email.strip().lower(), safe='')}/super-admin"
        with as_service_errors():
            answer = self.ctx.client.put(path, {"super_admin": on})
        return bool(answer["super_admin"])

    def exceptions(self, limit: int = 100) -> list[dict[str, Any]]:
        with as_service_errors():
            return list(self.ctx.client.get("/admin/exceptions", limit=limit)["items"])

    def exception(self, key: str) -> dict[str, Any]:
        with as_service_errors():
            answer: dict[str, Any] = self.ctx.client.get("/admin/exceptions/content", key=key)
        return answer

    def delete_exceptions(self, keys: list[str]) -> int:
        with as_service_errors():
            answer = self.ctx.client.request(
                "DELETE", "/admin/exceptions", json_body={"keys": list(keys)}
            )
        return int(answer["deleted"])
