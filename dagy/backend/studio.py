"""The AI studio through the backend: one turn (a session made for it unless one is named), and
saving a session's workflow as a DAG draft (deployed on request). ``Local*`` runs the services on
the store file; ``Http*`` calls /ai-studio/* on this home's live server or a remote API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors, call
from dagy.backend.context import HttpContext, LocalContext
from dagy.errors import APIError


@dataclass(frozen=True)
class StudioTurn:
    """A finished turn: 200 (advisory, or a workflow that validated) or 422 (it did not)."""

    session_id: str
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code == 200

    @property
    def response(self) -> str:
        return str(self.body.get("response") or "")

    @property
    def validation(self) -> dict[str, Any]:
        found = self.body.get("validation")
        return found if isinstance(found, dict) else {"valid": self.ok, "errors": []}

    @property
    def pipeline_yaml(self) -> str | None:
        return self.body.get("pipeline_yaml")

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status_code": self.status_code, **self.body}


class StudioBackend(Protocol):
    def turn(
        self,
        message: str,
        *,
        intent: str = "auto",
        session_id: str | None = None,
        tier: str | None = None,
        turn_id: str | None = None,
    ) -> StudioTurn:
        """One turn; a new session (titled after the message) unless ``session_id`` names one."""

    def save(self, session_id: str, flow_name: str, *, deploy: bool = False) -> dict[str, Any]:
        """Bind the session to ``flow_name`` and save its workflow as a draft (bind-flow)."""


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= 80 else line[:77] + "..."


class LocalStudio:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def turn(
        self,
        message: str,
        *,
        intent: str = "auto",
        session_id: str | None = None,
        tier: str | None = None,
        turn_id: str | None = None,
    ) -> StudioTurn:
        from dagy.services.studio import sessions, turns
        from dagy.services.studio.errors import TurnInvalidError

        store, actor = self.ctx.store(), self.ctx.actor()
        if session_id is None:
            body: dict[str, Any] = {"title": _title(message)}
            if tier:
                body["tier"] = tier
            session_id = sessions.create(store, actor, body).session_id
        request: dict[str, Any] = {"message": message, "intent": intent}
        if turn_id:
            request["turn_id"] = turn_id
        try:
            result = turns.run_turn(store, actor, session_id, request)
        except TurnInvalidError as exc:
            return StudioTurn(session_id, 422, dict(exc.fields))
        return StudioTurn(session_id, 200, result)

    def save(self, session_id: str, flow_name: str, *, deploy: bool = False) -> dict[str, Any]:
        from dagy.services.studio import sessions

        body = {"flow_name": flow_name, "save": True, "deploy": deploy}
        return sessions.bind_flow(
            self.ctx.store(), self.ctx.paths, self.ctx.actor(), session_id, body
        )


class HttpStudio:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _post_turn(self, session_id: str, body: dict[str, Any]) -> StudioTurn:
        """POST .../messages, keeping a 422's body (the client's errors keep only the message)."""
        client = self.ctx.client
        url = f"{client.base_url}/ai-studio/sessions/{quote(session_id, safe='')}/messages"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if client.token:
            headers["Authorization"] = f"Bearer {client.token}"
        req = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=client.timeout) as resp:  # noqa: S310
                return StudioTurn(session_id, 200, json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            if exc.code == 422 and isinstance(data, dict):
                return StudioTurn(session_id, 422, data)
            message = data.get("message") if isinstance(data, dict) else None
            with as_service_errors():
                raise APIError(exc.code, str(message or exc.reason)) from None
            raise  # pragma: no cover - as_service_errors always raises
        except OSError:
            raise APIError(0, f"Unable to reach Dagy API at {client.base_url}.") from None

    def turn(
        self,
        message: str,
        *,
        intent: str = "auto",
        session_id: str | None = None,
        tier: str | None = None,
        turn_id: str | None = None,
    ) -> StudioTurn:
        if session_id is None:
            body: dict[str, Any] = {"title": _title(message)}
            if tier:
                body["tier"] = tier
            created = call(self.ctx.client, "POST", "/ai-studio/sessions", body)
            session_id = str(created["session_id"])
        request: dict[str, Any] = {"message": message, "intent": intent}
        if turn_id:
            request["turn_id"] = turn_id
        return self._post_turn(session_id, request)

    def save(self, session_id: str, flow_name: str, *, deploy: bool = False) -> dict[str, Any]:
        path = f"/ai-studio/sessions/{quote(session_id, safe='')}/bind-flow"
        body = {"flow_name": flow_name, "save": True, "deploy": deploy}
        return dict(call(self.ctx.client, "POST", path, body))
