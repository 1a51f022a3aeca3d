"""A real `dagy serve`, its users and orgs, and FlowSpecs built from a flow file: shared by the
tests of the flows and deployments API."""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}

FLOWS = """
    from dagy import flow, task


    @task
    def double(x: int) -> int:
        return x * 2


    @task
    def total(values: list) -> int:
        return sum(values)


    @flow(name="etl", version="1.0.0")
    def etl(n: int = 3):
        return total([double(i) for i in range(n)])


    @flow(name="other", version="1.0.0")
    def other():
        return double(21)
"""


def write_flows(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "api_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


def build_spec(flows_file: Path, fn: str = "etl", **overrides: Any) -> dict[str, Any]:
    """The FlowSpec of ``fn`` as POST /flows takes it, with fields replaced (``flow_name``,
    ``flow_version``, ...) so one flow file gives as many flows and versions as a test needs."""
    from dagy.sdk.loader import load_flow

    return {**load_flow(f"{flows_file}:{fn}").build().to_dict(), **overrides}


def start(home: Path) -> ServerProcess:
    """A multi-user server (limiter off) with owner@example.com, owner of the personal org."""
    server = start_server(home, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    add_user(server, "owner@example.com", "owner")
    return server


def add_user(server: ServerProcess, email: str, role: str, org_id: str = "personal") -> None:
    status, _, body = server.request(
        "POST",
        "/_local/users",
        token=server.local_token,
        body={"email": email, "password": PASSWORD, "role": role, "org_id": org_id},
    )
    assert status == 201, body


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Api:
    """One caller of one server: its token and, for another org, the X-Dagy-Org header."""

    server: ServerProcess
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, answer = self.server.request(
            method, path, token=self.token, body=body, headers=self.headers
        )
        return status, answer

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer = self.call(method, path, body)
        assert got == status, (method, path, got, answer)
        return answer

    def register(self, spec: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self.ok("POST", "/flows", {"flow_spec": spec, **fields}, status=201)  # type: ignore[no-any-return]

    def audit(self, resource_type: str, resource_id: str) -> list[dict[str, Any]]:
        """The audit rows of one resource, newest first."""
        return self.ok("GET", f"/audit-logs/resource/{resource_type}/{resource_id}")["items"]  # type: ignore[no-any-return]


def login(server: ServerProcess, email: str, role: str = "owner") -> Api:
    add_user(server, email, role)
    return Api(server, server.login(email, PASSWORD))


def new_org(server: ServerProcess) -> Api:
    """The owner of a fresh org of its own (nothing registered in it yet)."""
    email = f"{unique('org-owner')}@example.com"
    add_user(server, email, "developer")
    token = server.login(email, PASSWORD)
    status, _, org = server.request("POST", "/orgs", token=token, body={"org_name": unique("Org")})
    assert status == 201, org
    assert isinstance(org, dict)
    return Api(server, token, {"X-Dagy-Org": str(org["org_id"])})


def assert_error(body: Any, status: int, code: int, field: str | None = None) -> dict[str, Any]:
    """The spec's error body, with ``field`` named in its details when given."""
    assert status == code, body
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["detail"] == body["message"]
    if field is not None:
        assert field in body["details"], body
    return body
