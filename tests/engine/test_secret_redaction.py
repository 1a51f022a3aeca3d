"""dagy.secret() inside tasks of a real `dagy run`: the value is right, and what the task prints,
logs or raises shows it as **** in the task log, the run log, the store and the CLI's output."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths
from dagy.engine import _capture

FLOWS = """
    import hashlib
    import logging
    from pathlib import Path

    import dagy
    from dagy import flow, task


    @task
    def leak(mode: str, out: str) -> int:
        value = dagy.secret("api-key")
        if out:  # what the task got, as a digest: the test compares it with the value it stored
            Path(out).write_text(hashlib.sha256(value.encode()).hexdigest())
        print(f"the key is {value}")
        logging.getLogger("user.code").warning("logged %s", value)
        dagy.get_run_logger().info("run logger says %s", value)
        if mode == "raise":
            raise ValueError(f"bad key {value}")
        return len(value)


    @flow(name="leaky", version="1")
    def leaky(mode: str = "ok", out: str = ""):
        return leak(mode, out)
"""


@pytest.fixture
def secret_home(paths: DagyPaths, monkeypatch: pytest.MonkeyPatch) -> DagyPaths:
    monkeypatch.setenv("DAGY_KEYRING", "0")
    monkeypatch.delenv("DAGY_MASTER_KEY", raising=False)
    for name in ("DAGY_SECRETS_FILE", "DAGY_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    return paths


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "leaky_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


def add_secret(paths: DagyPaths, value: str, environment: str | None = None) -> None:
    from dagy.services.accounts.audit import local_actor
    from dagy.services.vault import secrets
    from dagy.store.duckdb_store import DuckDBStore

    secrets.create(
        DuckDBStore(paths),
        local_actor(),
        secret_name="api-key",
        value=value,
        environment=environment,
    )


def everything_written(paths: DagyPaths) -> bytes:
    return b"".join(p.read_bytes() for p in paths.home.rglob("*") if p.is_file())


def logs_of(paths: DagyPaths, run_id: str) -> tuple[str, str]:
    run_dir = paths.run_dir(run_id)
    task_log = next(run_dir.rglob("task.log")).read_text()
    return task_log, (run_dir / "run.log").read_text()


# -- the registry -----------------------------------------------------------------------------------


def test_registered_values_are_masked_by_the_router_and_the_log_handler():
    value = f"sk_{uuid.uuid4().hex}"
    _capture.register_secret(value)
    _capture.register_secret("abc")  # too short to mask: it would mask every "abc"
    out = io.StringIO()
    _capture.install()
    try:
        _capture.bind(out)
        print(f"key={value} abc")
        logging.getLogger("test.redaction").warning("logged %s", value)
    finally:
        _capture.bind(None)
        _capture.uninstall()
    assert value not in out.getvalue()
    assert "key=**** abc" in out.getvalue() and "logged ****" in out.getvalue()


def test_a_multi_line_secret_masks_its_lines_too():
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAS\n-----END KEY-----"
    _capture.register_secret(pem)
    masked = _capture.redact(f"whole: {pem}\nline: MIIEvQIBADANBgkqhkiG9w0BAQEFAAS")
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAAS" not in masked
    assert masked.startswith("whole: ****\n")


# -- a real `dagy run` ------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["local", "process"])
def test_a_printed_logged_or_raised_secret_is_masked_everywhere(
    run_dagy: Callable[..., object], secret_home: DagyPaths, flow_file: Path, executor: str
):
    value = f"sk_live_{uuid.uuid4().hex}"
    add_secret(secret_home, value)
    ok = run_dagy("run", f"{flow_file}:leaky", "--executor", executor)
    assert ok.returncode == 0, ok.stderr  # type: ignore[attr-defined]
    run_id = ok.stdout.split()[2]  # type: ignore[attr-defined]
    task_log, _ = logs_of(secret_home, run_id)
    assert "the key is ****" in task_log
    assert "logged ****" in task_log and "run logger says ****" in task_log

    failed = run_dagy("run", f"{flow_file}:leaky", "--executor", executor, "--param", "mode=raise")
    assert failed.returncode == 1  # type: ignore[attr-defined]
    assert "ValueError: bad key ****" in failed.stderr  # type: ignore[attr-defined]
    bad_id = failed.stdout.split()[2]  # type: ignore[attr-defined]
    task_log, run_log = logs_of(secret_home, bad_id)
    assert "bad key ****" in task_log and "bad key ****" in run_log
    for output in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):  # type: ignore[attr-defined]
        assert value not in output
    assert value.encode() not in everything_written(secret_home)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.mark.parametrize("executor", ["local", "process"])
def test_the_task_gets_the_real_value(
    run_dagy: Callable[..., object],
    secret_home: DagyPaths,
    flow_file: Path,
    tmp_path: Path,
    executor: str,
):
    value = f"sk_{uuid.uuid4().hex}"
    add_secret(secret_home, value)
    out = tmp_path / "got.txt"
    done = run_dagy("run", f"{flow_file}:leaky", "--executor", executor, "--param", f"out={out}")
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    assert out.read_text() == digest(value)


def test_an_injected_secrets_file_is_used_and_its_values_masked(
    run_dagy: Callable[..., object], secret_home: DagyPaths, flow_file: Path, tmp_path: Path
):
    injected, other = f"sk_injected_{uuid.uuid4().hex}", f"sk_other_{uuid.uuid4().hex}"
    add_secret(secret_home, f"sk_store_{uuid.uuid4().hex}")  # not used: the file wins
    secrets_file = tmp_path / "run-secrets.json"
    secrets_file.write_text(
        json.dumps({"environment": None, "secrets": {"api-key": injected, "db": other}})
    )
    os.chmod(secrets_file, 0o600)
    done = run_dagy(
        "run",
        f"{flow_file}:leaky",
        "--executor",
        "process",
        env={"DAGY_SECRETS_FILE": str(secrets_file)},
    )
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    task_log, _ = logs_of(secret_home, done.stdout.split()[2])  # type: ignore[attr-defined]
    assert "the key is ****" in task_log
    assert injected.encode() not in everything_written(secret_home)


def test_an_injected_file_without_the_name_is_a_task_failure(
    run_dagy: Callable[..., object], secret_home: DagyPaths, flow_file: Path, tmp_path: Path
):
    secrets_file = tmp_path / "run-secrets.json"
    secrets_file.write_text(json.dumps({"environment": "staging", "secrets": {}}))
    done = run_dagy("run", f"{flow_file}:leaky", env={"DAGY_SECRETS_FILE": str(secrets_file)})
    assert done.returncode == 1
    assert "Secret not found: api-key" in done.stderr  # type: ignore[attr-defined]


def test_through_a_live_server_the_environments_secret_wins_and_the_read_is_audited(
    run_dagy: Callable[..., object],
    secret_home: DagyPaths,
    flow_file: Path,
    server_factory: Callable[..., object],
    tmp_path: Path,
):
    server = server_factory("--local", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    token = server.local_token  # type: ignore[attr-defined]
    staging, global_value = f"sk_staging_{uuid.uuid4().hex}", f"sk_global_{uuid.uuid4().hex}"
    for environment, value in (("staging", staging), (None, global_value)):
        status, _, body = server.request(  # type: ignore[attr-defined]
            "POST",
            "/secrets",
            token=token,
            body={"secret_name": "api-key", "value": value, "environment": environment},
        )
        assert status == 201, body
    out = tmp_path / "got.txt"
    done = run_dagy(
        "run", f"{flow_file}:leaky", "--param", f"out={out}", env={"DAGY_ENVIRONMENT": "staging"}
    )
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    assert out.read_text() == digest(staging)
    task_log, _ = logs_of(secret_home, done.stdout.split()[2])  # type: ignore[attr-defined]
    assert "the key is ****" in task_log
    out.unlink()
    again = run_dagy("run", f"{flow_file}:leaky", "--param", f"out={out}")
    assert again.returncode == 0, again.stderr  # type: ignore[attr-defined]
    assert out.read_text() == digest(global_value)  # no environment: the secret of none
    audit = server.request(  # type: ignore[attr-defined]
        "GET", "/audit-logs?action=read&resource_type=secret", token=token
    )[2]
    assert [(r["actor_email"], r["resource_name"]) for r in audit["items"]] == [
        ("local", "api-key"),
        ("local", "api-key"),
    ]
    assert staging.encode() not in everything_written(secret_home)
