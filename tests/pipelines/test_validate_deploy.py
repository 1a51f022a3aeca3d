"""`dagy validate`, `dagy deploy pipeline.yaml` in the three modes of the backend (store file, this
home's live server, a remote API) with runs of the deployment, register_pipeline, and
POST /flows/validate with a pipeline's YAML — through the real command and a real `dagy serve`."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd
from tests.server.flows_support import Api, login, start
from tests.server.runs_support import wait_status

PIPELINE = """
name: greeter_pipe
version: 1.0.0
params: {who: world, n: 2}
steps:
  - id: greet
    python: code.py:greet
    with: {who: "${params.who}"}
  - id: twice
    python: "helpers:repeat"
    with: {text: "${greet}", n: "${params.n}"}
  - id: shout
    command: echo "shouted ${params.who}"
    depends: [greet]
"""
CODE = """
def greet(who):
    return f"hello {who}"
"""
HELPERS = """
def repeat(text, n):
    return [text] * n
"""


def write_pipeline(folder: Path, text: str = PIPELINE, name: str = "greeter.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "code.py").write_text(textwrap.dedent(CODE), encoding="utf-8")
    (folder / "helpers.py").write_text(textwrap.dedent(HELPERS), encoding="utf-8")
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def dagy(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dagy_cmd(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        env={**os.environ, "DAGY_LOCAL_DIR": str(home), **(env or {})},
    )


def stored_zip(home: Path, name: str = "greeter_pipe", version: str = "1.0.0") -> Path:
    return home / "artifact-store" / "dagy" / "flows" / "personal" / name / version / "artifact.zip"


# -- dagy validate ---------------------------------------------------------------------------------


def test_validate_says_ok_in_one_line(run_dagy, tmp_path):
    path = write_pipeline(tmp_path)
    done = run_dagy("validate", str(path))
    assert (done.returncode, done.stdout, done.stderr) == (
        0, "OK: greeter_pipe:1.0.0 (3 steps)\n", "",
    )  # fmt: skip
    example = run_dagy("validate", str(REPO / "examples" / "pipelines" / "orders_etl.yaml"))
    assert (example.returncode, example.stdout) == (0, "OK: orders_etl:1.0.0 (7 steps)\n")


def test_validate_prints_one_line_per_problem_and_exits_2(run_dagy, tmp_path):
    path = write_pipeline(
        tmp_path,
        """
        name: broken
        steps:
          - {id: fetch, node: http_fetch, config: {timeout_seconds: fast}}
          - {id: use, python: "m:f", with: {rows: "${fetch}", day: "${params.day}"}}
          - {id: ai, node: llm_prompt, config: {prompt: hi}}
          - {id: gate, python: "m:f", when: "${use}"}
        """,
    )
    done = run_dagy("validate", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "steps[0].config.url: required field 'url' is missing",
        "steps[0].config.timeout_seconds: must be a number, got 'fast'",
        "steps[1].with.day: unknown parameter 'day'",
        "steps[2].node: node type llm_prompt is not executable here: no LLM provider is configured",
        "steps[3].when: 'use' is a python step, not a condition step",
    ]
    shape = write_pipeline(
        tmp_path, "name: x\nsteps:\n  - {id: a, python: 'm:f', retries: -1}\n", "s.yaml"
    )
    done = run_dagy("validate", str(shape))
    assert (done.returncode, done.stderr) == (
        2, "steps[0].retries: must be a non-negative integer, got -1\n",
    )  # fmt: skip
    syntax = write_pipeline(tmp_path, "name: x\nsteps: [\n", "bad.yaml")
    done = run_dagy("validate", str(syntax))
    assert done.returncode == 2
    assert done.stderr.startswith("line 3: YAML syntax error: ")


def test_validate_of_a_missing_or_non_yaml_file(run_dagy, tmp_path):
    done = run_dagy("validate", str(tmp_path / "none.yaml"))
    assert (done.returncode, done.stderr) == (
        3, f"FileNotFoundError: Pipeline file not found: {tmp_path / 'none.yaml'}\n",
    )  # fmt: skip
    done = run_dagy("validate", str(tmp_path / "flow.py"))
    assert (done.returncode, done.stderr) == (
        2, f"ValueError: Not a YAML pipeline (.yaml or .yml): {tmp_path / 'flow.py'}\n",
    )  # fmt: skip
    helped = run_dagy("validate", "--help")
    assert (
        helped.returncode == 0 and "Usage: dagy validate [OPTIONS] PIPELINE.YAML" in helped.stdout
    )
    assert "validate" in run_dagy("--help").stdout


# -- dagy deploy: the store file -----------------------------------------------------------------


def test_deploy_into_the_store_file_then_run_the_deployment_here(run_dagy, dagy_home, tmp_path):
    path = write_pipeline(tmp_path / "code")
    done = run_dagy("deploy", str(path))
    zipped = stored_zip(dagy_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Deployed to {zipped.as_uri()} and registered as greeter_pipe:1.0.0\n"
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == [
            "code.py", "flow_spec.json", "greeter.yaml", "helpers.py", "manifest.json",
            "metadata.json",
        ]  # fmt: skip
        assert zf.read("greeter.yaml").decode() == path.read_text()
        metadata = json.loads(zf.read("metadata.json"))
        spec = json.loads(zf.read("flow_spec.json"))
    assert metadata["entrypoint"] == "greeter.yaml:greeter_pipe"
    assert spec["entrypoint"] == "greeter.yaml:greeter_pipe"
    assert [t["task_run_id"] for t in spec["task_runs"]] == ["greet", "twice", "shout"]

    again = run_dagy("deploy", str(path))  # same code: skipped
    assert again.returncode == 0 and again.stdout.startswith("No code changes detected")

    shown = run_dagy("deployments", "show", "greeter_pipe")
    assert shown.returncode == 0, shown.stderr
    # the code folder is gone: the run comes from the artifact
    for f in (tmp_path / "code").iterdir():
        f.unlink()
    ran = run_dagy("run", "greeter_pipe", "--param", "who=store")
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.split()[2]
    run = json.loads(run_dagy("runs", "show", run_id, "--json").stdout)
    assert run["status"] == "SUCCEEDED" and run["deployment_name"] == "greeter_pipe"
    assert run["output"] == {"twice": ["hello store", "hello store"], "shout": "shouted store"}


def test_deploy_names_and_refusals(run_dagy, dagy_home, tmp_path):
    path = write_pipeline(tmp_path)
    done = run_dagy("deploy", str(path), "--deployment", "greet-prod")
    assert done.returncode == 0, done.stderr
    assert run_dagy("deployments", "show", "greet-prod").returncode == 0
    done = run_dagy("deploy", str(path), "--flow-name", "other")
    assert (done.returncode, done.stderr) == (
        2, "ValueError: --flow-name other is not the pipeline's name greeter_pipe\n",
    )  # fmt: skip
    broken = write_pipeline(tmp_path, "name: broken\nsteps:\n  - {id: a, node: nope}\n", "b.yaml")
    done = run_dagy("deploy", str(broken))
    assert (done.returncode, done.stderr) == (
        2, "Error: Pipeline is invalid: steps[0].node: unknown node type 'nope'\n",
    )  # fmt: skip
    assert not stored_zip(dagy_home, "broken").exists()
    outside = write_pipeline(
        tmp_path / "sub",
        "name: outside\nsteps:\n  - {id: a, python: '../code.py:greet'}\n",
        "o.yaml",
    )
    done = run_dagy("deploy", str(outside))
    assert done.returncode == 2
    assert done.stderr == (
        "Error: Pipeline is invalid: steps[0].python: ../code.py is outside the pipeline's "
        "folder; a deployed pipeline carries only files beside it\n"
    )
    done = run_dagy("deploy", str(tmp_path / "artifact.zip"))
    assert done.returncode == 2
    assert done.stderr.endswith("\nError: Missing option '--deployment'.\n")


# -- a real server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("pipelines") / "home")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Api:
    return Api(srv, srv.login("owner@example.com"))


def run_deployment(owner: Api, deployment: str, **params: Any) -> dict[str, Any]:
    run = owner.ok("POST", "/runs", {"deployment": deployment, "parameters": params}, status=202)
    return wait_status(owner.server, run["run_id"], "completed", "failed", timeout=90)


def test_deploy_through_the_homes_live_server_and_run_it_there(srv, owner, tmp_path):
    path = write_pipeline(tmp_path, PIPELINE.replace("greeter_pipe", "live_pipe"))
    done = dagy("deploy", str(path), home=srv.home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(" and registered as live_pipe:1.0.0\n")
    run = run_deployment(owner, "live_pipe", who="server", n="3")
    assert run["status"] == "completed", run
    assert run["output"] == {"twice": ["hello server"] * 3, "shout": "shouted server"}
    status, bad = owner.call("POST", "/runs", {"deployment": "live_pipe", "parameters": {"n": "x"}})
    assert status == 400 and "Parameter 'n' expects int, got 'x'" in bad["message"], bad


def test_deploy_through_a_remote_api_and_run_it(srv, tmp_path):
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths

    api = login(srv, "deployer@example.com", "developer")
    client = tmp_path / "client"
    env = {"DAGY_KEYRING": "0", "DAGY_API_URL": srv.api_url}
    credentials.save(
        DagyPaths(client),
        credentials.Credentials(access_token=api.token, api_url=srv.api_url),
        environ={**env, "DAGY_LOCAL_DIR": str(client)},
    )
    path = write_pipeline(tmp_path / "code", PIPELINE.replace("greeter_pipe", "remote_pipe"))
    done = dagy("deploy", str(path), "--deployment", "remote", home=client, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(" and registered as remote_pipe:1.0.0\n")
    run = run_deployment(api, "remote", who="api")
    assert run["status"] == "completed", run
    assert run["output"] == {"twice": ["hello api", "hello api"], "shout": "shouted api"}


def test_flows_validate_accepts_a_pipeline(owner):
    good = owner.ok("POST", "/flows/validate", {"pipeline_yaml": textwrap.dedent(PIPELINE)})
    assert good == {
        "valid": True,
        "errors": [],
        "problems": [],
        "flow": {
            "flow_name": "greeter_pipe",
            "flow_version": "1.0.0",
            "tasks": 3,
            "task_runs": 3,
            "parameters": ["n", "who"],
        },
    }
    bad = owner.ok(
        "POST",
        "/flows/validate",
        {
            "pipeline_yaml": "name: b\nsteps:\n  - {id: get, node: http_fetch}\n  - {id: x, node: nope}\n"
        },
    )
    assert bad == {
        "valid": False,
        "errors": [
            "steps[0].config.url: required field 'url' is missing",
            "steps[1].node: unknown node type 'nope'",
        ],
        "problems": [
            {"path": "steps[0].config.url", "message": "required field 'url' is missing",
             "node": "get", "field": "url"},
            {"path": "steps[1].node", "message": "unknown node type 'nope'", "node": "x",
             "field": "node"},
        ],
    }  # fmt: skip
    syntax = owner.ok("POST", "/flows/validate", {"pipeline_yaml": "name: [\n"})
    assert syntax["valid"] is False and syntax["errors"][0].startswith("line 2: YAML syntax error")
    for body, message in (
        ({"pipeline_yaml": 3}, "pipeline_yaml must be a string (the YAML text)"),
        ({"pipeline_yaml": "x", "flow_spec": {}}, "give flow_spec or pipeline_yaml, not both"),
    ):
        answer = owner.ok("POST", "/flows/validate", body)
        assert answer["valid"] is False and answer["errors"] == [message]
    assert owner.call("GET", "/flows/greeter_pipe/latest")[0] == 404  # never registered


# -- register_pipeline (POST /dag-drafts/{id}/deploy calls it) ----------------------------------------


def test_register_pipeline_writes_a_version_a_server_runs(
    paths, dagy_home, server_factory, tmp_path
):
    from dagy.auth.identity import Identity
    from dagy.pipelines.loader import read_pipeline
    from dagy.pipelines.problems import PipelineError
    from dagy.pipelines.yaml_format import parse_pipeline
    from dagy.services.accounts.audit import Actor
    from dagy.services.catalog.pipelines import register_pipeline
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(paths)
    actor = Actor(Identity("drafts@example.com", "personal", "owner", frozenset(), "token"))
    from_file = read_pipeline(
        write_pipeline(tmp_path, PIPELINE.replace("greeter_pipe", "reg_pipe"))
    )
    done = register_pipeline(store, paths, "personal", actor, from_file, deployment_name="reg")
    assert (done.flow_name, done.flow_version, done.deployment_name) == ("reg_pipe", "1.0.0", "reg")
    # a drawn pipeline has no folder: its YAML is dumped into the zip
    drawn = parse_pipeline("name: drawn\nsteps:\n  - {id: say, command: echo drawn}\n")
    register_pipeline(store, paths, "personal", actor, drawn)
    with zipfile.ZipFile(stored_zip(dagy_home, "drawn")) as zf:
        assert "drawn.yaml" in zf.namelist()
    with pytest.raises(PipelineError):
        register_pipeline(store, paths, "personal", actor, parse_pipeline(
            "name: nope\nsteps:\n  - {id: a, node: nope}\n"
        ))  # fmt: skip
    assert not stored_zip(dagy_home, "nope").exists()
    import duckdb

    with duckdb.connect(str(dagy_home / "dagy.duckdb"), read_only=True) as con:
        audit = con.execute("SELECT action, resource_type, resource_id FROM audit_log").fetchall()
    assert ("create", "flow", "reg_pipe:1.0.0") in audit and (
        "create",
        "deployment",
        "reg",
    ) in audit

    server = server_factory()
    server.create_user("owner@example.com", "owner")
    api = Api(server, server.login("owner@example.com"))
    for deployment, output in (("reg", {"twice": ["hello world"] * 2, "shout": "shouted world"}),
                               ("drawn", {"say": "drawn"})):  # fmt: skip
        run = run_deployment(api, deployment)
        assert run["status"] == "completed" and run["output"] == output, run


def test_build_a_pipeline_then_deploy_the_zip(run_dagy, dagy_home, tmp_path):
    path = write_pipeline(tmp_path / "code")
    built = run_dagy("build", str(path), "--output-dir", str(tmp_path / "dist"))
    assert built.returncode == 0, built.stderr
    artifact = Path(built.stdout.strip().removeprefix("Artifact: "))
    assert artifact.parent.parent == tmp_path / "dist" / "greeter_pipe"
    with zipfile.ZipFile(artifact) as zf:
        assert {"greeter.yaml", "code.py", "helpers.py"} <= set(zf.namelist())
    done = run_dagy("deploy", str(artifact), "--deployment", "built", "--flow-name", "greeter_pipe")
    assert done.returncode == 0, done.stderr
    ran = run_dagy("run", "built", "--param", "n=1")
    assert ran.returncode == 0 and ran.stdout.endswith(" status=SUCCEEDED\n"), ran.stderr
