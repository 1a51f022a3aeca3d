"""`dagy secrets`, `dagy environments` and `dagy users` in the three modes: the store file, a
live `dagy serve` of the same home, and a remote CLI (its own DAGY_LOCAL_DIR, DAGY_API_URL, a
token in its credentials file). Same scenario, same lines, same exit codes; audit rows written
by the change itself; bad input stores nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server

MODES = ["store", "server", "api"]


@dataclass
class Mode:
    name: str
    env: dict[str, str]
    home: Path  # the home whose store holds the data
    server: ServerProcess | None
    run: Callable[..., subprocess.CompletedProcess[str]]

    def dagy(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(*args, input=input, env=self.env)

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self.dagy(*args, input=input)
        assert done.returncode == 0, (self.name, args, done.stdout, done.stderr)
        assert done.stderr == "", done.stderr
        return done.stdout

    def fails(self, code: int, *args: str, input: str | None = None) -> str:
        done = self.dagy(*args, input=input)
        assert (done.returncode, done.stdout) == (code, ""), (self.name, args, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stderr

    def audit(self, resource_type: str) -> list[tuple[str, str | None]]:
        """(action, resource_name) of the audit rows of ``resource_type``, oldest first."""
        if self.server is None:
            from dagy.config.paths import DagyPaths
            from dagy.services.accounts import audit
            from dagy.services.accounts.users import local_identity
            from dagy.store.duckdb_store import DuckDBStore

            store = DuckDBStore(DagyPaths(self.home))
            with store.connection():
                body = audit.query(store, local_identity(), resource_type=resource_type, limit=100)
        else:
            status, _, body = self.server.request(
                "GET",
                f"/audit-logs?resource_type={resource_type}&limit=100",
                token=self.server.local_token,
            )
            assert status == 200, body
        assert isinstance(body, dict)
        return [(i["action"], i["resource_name"]) for i in reversed(body["items"])]


@pytest.fixture(params=MODES)
def mode(request, tmp_path: Path, run_dagy, dagy_home: Path) -> Iterator[Mode]:
    env = {"DAGY_KEYRING": "0", "DAGY_LOCAL_DIR": str(dagy_home)}
    if request.param == "store":
        yield Mode("store", env, dagy_home, None, run_dagy)
        return
    server = start_server(dagy_home, env={"DAGY_KEYRING": "0"})
    try:
        if request.param == "server":
            yield Mode("server", env, dagy_home, server, run_dagy)
            return
        from dagy.config import credentials
        from dagy.config.paths import DagyPaths

        server.create_user("owner@example.com", "owner")
        token = server.login("owner@example.com")
        client = tmp_path / "client"
        remote = {
            "DAGY_LOCAL_DIR": str(client),
            "DAGY_KEYRING": "0",
            "DAGY_API_URL": server.api_url,
        }
        credentials.save(
            DagyPaths(client),
            credentials.Credentials(access_token=token, api_url=server.api_url),
            environ=remote,
        )
        yield Mode("api", remote, dagy_home, server, run_dagy)
    finally:
        server.stop()


def _json(text: str) -> Any:
    return json.loads(text)


# -- secrets ----------------------------------------------------------------------------------------


def test_secrets_scenario_is_the_same_in_every_mode(mode: Mode):
    assert mode.ok("secrets", "list") == "No secrets.\n"
    assert mode.ok("secrets", "set", "db", "--value-stdin", input="first-value-1\n") == (
        "Secret created: db\n"
    )
    assert mode.ok("secrets", "set", "db", "--value-stdin", input="second-value-2") == (
        "Secret updated: db\n"
    )
    out = mode.ok("secrets", "set", "db", "--env", "staging", "--value-stdin", input="stage-v-3")
    assert out == "Secret created: db (environment staging)\n"

    listed = _json(mode.ok("secrets", "list", "--json"))
    assert [(s["secret_name"], s["environment"]) for s in listed] == [
        ("db", None),
        ("db", "staging"),
    ]
    assert set(listed[0]) == {"secret_id", "secret_name", "environment", "created_at", "updated_at"}
    only = _json(mode.ok("secrets", "list", "--env", "staging", "--json"))
    assert [s["environment"] for s in only] == ["staging"]
    table = mode.ok("secrets", "list")
    assert "db" in table and "staging" in table and "(all)" in table

    shown = mode.ok("secrets", "show", "db", "--env", "staging").splitlines()
    assert shown[:2] == ["secret_name: db", "environment: staging"]
    assert mode.fails(2, "secrets", "show", "db") == (
        "Error: Secret db exists in several environments: (none), staging\n"
    )
    assert mode.fails(3, "secrets", "show", "nope") == "Error: Secret not found: nope\n"
    assert mode.fails(3, "secrets", "delete", "nope") == "Error: Secret not found: nope\n"

    # bad input: exit 2, nothing stored
    assert mode.fails(2, "secrets", "set", "bad name", "--value-stdin", input="x-value") == (
        "Error: Invalid secret name\n"
    )
    assert mode.fails(2, "secrets", "set", "empty", "--value-stdin", input="") == (
        "Error: Invalid secret value\n"
    )
    assert len(_json(mode.ok("secrets", "list", "--json"))) == 2

    assert mode.ok("secrets", "delete", "db", "--env", "staging") == (
        "Secret deleted: db (environment staging)\n"
    )
    assert mode.ok("secrets", "delete", "db") == "Secret deleted: db\n"
    assert mode.ok("secrets", "list") == "No secrets.\n"

    if mode.name == "api":  # the remote CLI kept no store of its own
        assert not (Path(mode.env["DAGY_LOCAL_DIR"]) / "dagy.duckdb").exists()
    # the change wrote its own audit rows (no value in them), and no read was audited
    assert mode.audit("secret") == [
        ("create", "db"),
        ("update", "db"),
        ("create", "db"),
        ("delete", "db"),
        ("delete", "db"),
    ]


def test_no_secret_value_is_ever_printed(mode: Mode):
    value = "sk_live_never_printed_0042"
    mode.ok("secrets", "set", "token", "--value-stdin", input=value)
    for args in (("list",), ("list", "--json"), ("show", "token"), ("show", "token", "--json")):
        done = mode.dagy("secrets", *args)
        assert done.returncode == 0 and value not in done.stdout + done.stderr


def test_a_task_reads_a_secret_through_the_backend(mode: Mode, tmp_path: Path):
    flow = tmp_path / "secret_flow.py"
    flow.write_text(
        "from dagy import flow, task, secret\n\n"
        "@task\ndef read() -> int:\n    return len(secret('token'))\n\n"
        "@flow\ndef reads():\n    return read()\n",
        encoding="utf-8",
    )
    mode.ok("secrets", "set", "token", "--value-stdin", input="twelve-chars")
    mode.ok("secrets", "set", "token", "--env", "prod", "--value-stdin", input="prod-only")
    done = mode.dagy("run", f"{flow}:reads", "--env", "prod")
    assert done.returncode == 3 and "Environment not found: prod" in done.stderr
    mode.ok("environments", "create", "prod")
    out = mode.ok("run", f"{flow}:reads", "--env", "prod")
    assert "status=SUCCEEDED" in out
    reads = [a for a in mode.audit("secret") if a[0] == "read"]
    assert reads == [("read", "token")]


def test_rotate_master_key_where_the_key_lives(mode: Mode):
    mode.ok("secrets", "set", "a", "--value-stdin", input="value-a-1234")
    if mode.name == "api":
        message = mode.fails(2, "secrets", "rotate-master-key")
        assert message.startswith("Error: The master key lives with the server")
        assert mode.audit("master_key") == []
        return
    out = mode.ok("secrets", "rotate-master-key")
    assert out.startswith("Master key rotated: 1 secret(s) re-encrypted with mk_")
    assert out.rstrip().endswith("kept in master.key")
    assert [a[0] for a in mode.audit("master_key")] == ["update"]
    assert mode.fails(2, "secrets", "rotate-master-key", "--new-key-stdin", input="short\n")


# -- environments -----------------------------------------------------------------------------------


def test_environments_scenario_is_the_same_in_every_mode(mode: Mode):
    assert mode.ok("environments", "list") == "No environments.\n"
    assert mode.ok("environments", "create", "staging", "--executor", "local") == (
        "Environment created: staging\n"
    )
    assert mode.fails(2, "environments", "create", "staging") == (
        "Error: Environment already exists: staging\n"
    )
    assert mode.fails(2, "environments", "create", "bad name") == (
        "Error: Invalid environment name: 'bad name'\n"
    )
    assert mode.fails(2, "environments", "create", "x", "--config", "[1]") == (
        "Error: --config must be a JSON object\n"
    )
    out = mode.ok("environments", "create", "production", "--protected")
    assert out == "Environment created: production\n"
    names = [e["env_name"] for e in _json(mode.ok("environments", "list", "--json"))]
    assert names == ["staging", "production"]
    assert mode.ok("environments", "reorder", "production") == (
        "Promotion order: production, staging\n"
    )
    assert mode.fails(2, "environments", "reorder", "nope") == (
        "Error: Environment not found: nope\n"
    )
    names = [e["env_name"] for e in _json(mode.ok("environments", "list", "--json"))]
    assert names == ["production", "staging"]

    assert mode.ok("environments", "set-var", "staging", "A=1", "B=two=2") == (
        "Variables set on staging: A, B\n"
    )
    assert mode.fails(2, "environments", "set-var", "staging", "1X=2") == (
        "Error: Invalid variable name: '1X'\n"
    )
    assert mode.fails(2, "environments", "set-var", "staging", "DAGY_HOME=2") == (
        "Error: Invalid variable name: 'DAGY_HOME'\n"
    )
    assert mode.fails(2, "environments", "set-var", "staging", "novalue") == (
        "Error: expected KEY=VALUE, got 'novalue'\n"
    )
    shown = _json(mode.ok("environments", "show", "staging", "--json"))
    assert shown["variables"] == {"A": "1", "B": "two=2"}
    assert (shown["default_executor"], shown["is_protected"]) == ("local", False)
    text = mode.ok("environments", "show", "staging")
    assert text.startswith("env_name: staging\ndefault_executor: local\nis_protected: no\n")

    assert mode.ok("environments", "unset-var", "staging", "A") == (
        "Variable removed from staging: A\n"
    )
    assert mode.fails(3, "environments", "unset-var", "staging", "A") == (
        "Error: Variable not found: A\n"
    )
    assert mode.fails(3, "environments", "show", "nope") == "Error: Environment not found: nope\n"
    assert mode.fails(3, "environments", "set-var", "nope", "A=1") == (
        "Error: Environment not found: nope\n"
    )
    assert mode.fails(3, "environments", "delete", "production") == (
        "Error: Cannot delete protected environment 'production'\n"
    )
    assert mode.ok("environments", "diff", "staging", "production") == (
        "No differences between staging and production.\n"
    )
    assert mode.fails(3, "environments", "diff", "staging", "nope") == (
        "Error: Environment not found: nope\n"
    )
    assert mode.ok("environments", "delete", "staging") == "Environment deleted: staging\n"
    names = [e["env_name"] for e in _json(mode.ok("environments", "list", "--json"))]
    assert names == ["production"]

    assert mode.audit("environment") == [
        ("create", "staging"),
        ("create", "production"),
        ("update", None),  # the promotion order
        ("update", "staging"),
        ("update", "staging"),
        ("delete", "staging"),
    ]


# -- users ------------------------------------------------------------------------------------------


def test_users_scenario_is_the_same_in_every_mode(mode: Mode):
    if mode.name == "api":
        message = mode.fails(
            2, "users", "create", "--email", "a@example.com", "--password-stdin", input="pw-12345\n"
        )
        assert message.startswith("Error: A password account is created on the server's machine")
    else:
        out = mode.ok(
            "users", "create", "--email", "A@Example.com", "--password-stdin", input="pw-12345\n"
        )
        assert out == "Created a@example.com (developer of personal)\n"
        assert mode.fails(
            2, "users", "create", "--email", "a@example.com", "--password-stdin", input="pw-12345\n"
        ) == ("Error: User already exists: a@example.com\n")
    assert mode.ok("users", "invite", "c@example.com", "--role", "viewer") == (
        "Added c@example.com (viewer of personal, invited)\n"
    )
    assert mode.fails(2, "users", "invite", "not-an-email") == "Error: Invalid email format\n"
    assert mode.fails(2, "users", "invite", "c@example.com") == (
        "Error: Member already exists: c@example.com\n"
    )
    assert mode.ok("users", "set-role", "c@example.com", "admin") == (
        "c@example.com is now admin of personal\n"
    )
    assert mode.fails(3, "users", "set-role", "nobody@example.com", "admin") == (
        "Error: Member not found: nobody@example.com\n"
    )
    members = {m["email"]: m for m in _json(mode.ok("users", "list", "--json"))}
    assert (members["c@example.com"]["role"], members["c@example.com"]["status"]) == (
        "admin",
        "invited",
    )
    assert "not-an-email" not in members
    assert "c@example.com" in mode.ok("users", "list")
    changes = [(a, n) for a, n in mode.audit("member")]
    assert changes == [("create", "c@example.com"), ("update", "c@example.com")]
    made = [a for a in mode.audit("user") if a[1] == "a@example.com"]
    assert made == ([] if mode.name == "api" else [("create", "a@example.com")])
