"""A real multi-user `dagy serve` with a super admin (made by `dagy users create --super-admin`
through the live server), customer orgs of their own, and the flows their runs use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, dagy_cmd, start_server
from tests.server.flows_support import PASSWORD, Api, add_user, build_spec, unique, write_flows

SUPER = "root@platform.example.com"
SUPER_REQUIRED = {
    "error": "forbidden",
    "message": "Super admin access required",
    "details": {"super_admin": "required"},
    "detail": "Super admin access required",
}
SERVER_ENV = {
    "DAGY_RATE_LIMIT_PER_MINUTE": "0",
    "DAGY_SERVER_WORKERS": "2",
    "DAGY_LOCAL_KEEP_RUNS": "0",
    "DAGY_SENSOR_TICK_SECONDS": "0.1",
    "DAGY_KEYRING": "0",
    "DAGY_MASTER_KEY": "",
}


def dagy(home: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    """The real `dagy` command on ``home`` (its store file, or its live server)."""
    return subprocess.run(
        [*dagy_cmd(), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DAGY_LOCAL_DIR": str(home), **(env or {})},
    )


def start(tmp: Path) -> tuple[ServerProcess, Api, Path]:
    """The server, its super admin's Api (no org header: their personal org), and a flows file."""
    server = start_server(tmp / "home", env=SERVER_ENV)
    made = dagy(
        server.home,
        "users", "create", "--email", SUPER, "--role", "developer", "--super-admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "super admin" in made.stdout
    return server, Api(server, server.login(SUPER, PASSWORD)), write_flows(tmp / "code")


def customer(server: ServerProcess, name: str | None = None) -> tuple[Api, str, str]:
    """A fresh org made by its owner: (the owner's Api in it, org_id, owner email)."""
    email = f"{unique('owner')}@example.com"
    add_user(server, email, "developer")
    token = server.login(email, PASSWORD)
    status, _, org = server.request(
        "POST", "/orgs", token=token, body={"org_name": name or unique("Acme")}
    )
    assert status == 201, org
    assert isinstance(org, dict)
    org_id = str(org["org_id"])
    return Api(server, token, {"X-Dagy-Org": org_id}), org_id, email


def member(server: ServerProcess, owner: Api, role: str = "developer") -> tuple[Api, str]:
    """A member of the owner's org, logged in to it: (their Api, email)."""
    email = f"{unique('member')}@example.com"
    add_user(server, email, "developer")  # an account of its own (personal org)
    org_id = owner.headers["X-Dagy-Org"]
    owner.ok("POST", f"/orgs/{org_id}/members", {"email": email, "role": role}, 201)
    status, _, body = server.request(
        "POST", "/auth/login", body={"email": email, "password": PASSWORD, "org_id": org_id}
    )
    assert status == 200, body
    assert isinstance(body, dict)
    return Api(server, str(body["access_token"])), email


def register_flow(api: Api, flows_file: Path, name: str = "etl") -> None:
    api.register(build_spec(flows_file, name))


def impersonating(admin: Api, org_id: str) -> Api:
    """The super admin acting in ``org_id``: the impersonation started (POST, answered 200, or
    404 for an unknown org), then the header on every request."""
    admin.call("POST", f"/admin/impersonate/{org_id}")
    return Api(admin.server, admin.token, {"X-Impersonate-Org": org_id})


def error_of(body: Any) -> str:
    assert isinstance(body, dict), body
    return str(body.get("error"))
