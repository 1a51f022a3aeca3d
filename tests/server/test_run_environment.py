"""A run `dagy serve` executes gets its deployment's environment: the variables and
DAGY_ENVIRONMENT in its process environment, its secrets through a private DAGY_SECRETS_FILE
that is gone once the run ends; a run of no environment gets neither variables nor its secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.server.flows_support import Api
from tests.server.runs_support import wait_until
from tests.server.sensors_support import start, wait_done

NAMES = ["API_BASE", "FEATURE_FLAG", "DAGY_ENVIRONMENT"]


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("runenv")
    server: ServerProcess = start(tmp / "home", tmp, {"FEATURE_FLAG": "from-the-server"})
    api = Api(server, server.login("owner@example.com", "password-123"))
    api.ok("POST", "/environments", {"env_name": "staging"}, status=201)
    api.ok(
        "PUT",
        "/environments/staging/variables",
        {"variables": {"API_BASE": "https://staging.example.com", "FEATURE_FLAG": "on"}},
    )
    for name, value, environment in (
        ("db_password", "staging-secret-value", "staging"),
        ("db_password", "global-secret-value", None),
    ):
        body = {"secret_name": name, "value": value}
        if environment:
            body["environment"] = environment
        api.ok("POST", "/secrets", body, status=201)
    for name, environment in (("envy-staging", "staging"), ("envy-plain", None)):
        api.ok(
            "POST",
            "/deployments",
            {
                "name": name,
                "flow_name": "envy",
                "flow_version": "1.0.0",
                "environment": environment,
            },
            status=201,
        )
    yield api
    server.stop()


def run(api: Api, deployment: str) -> dict:
    body = api.ok(
        "POST",
        "/runs",
        {"deployment": deployment, "parameters": {"names": NAMES, "secret_name": "db_password"}},
        status=202,
    )
    done = wait_done(api, body["run_id"])
    assert done["status"] == "completed", done["error"]
    return done["output"]


def test_a_deployment_in_an_environment_runs_with_its_variables_and_secrets(owner):
    output = run(owner, "envy-staging")
    assert output["API_BASE"] == "https://staging.example.com"
    assert output["FEATURE_FLAG"] == "on"  # the environment's value wins over the server's
    assert output["DAGY_ENVIRONMENT"] == "staging"
    assert output["secret"] == "staging-secret-value"  # its own secret over the global one
    secrets_file = Path(output["secrets_file"])
    assert not secrets_file.is_relative_to(owner.server.home)  # never under the Dagy home
    # removed once the run's child has exited (a moment after the run is final)
    wait_until(lambda: not secrets_file.parent.exists(), what="the secrets folder to go")


def test_a_deployment_without_environment_gets_no_variables_and_the_global_secrets(owner):
    output = run(owner, "envy-plain")
    assert output["API_BASE"] is None and output["DAGY_ENVIRONMENT"] is None
    assert output["FEATURE_FLAG"] == "from-the-server"
    assert output["secret"] == "global-secret-value"
