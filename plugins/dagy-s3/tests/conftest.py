"""moto's S3 server on 127.0.0.1 (a real HTTP endpoint, in its own process), reached with boto3
through AWS_ENDPOINT_URL; and the core's fixtures for a temporary Dagy home and the real command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("dagy_s3", reason="the dagy-s3 plugin is not installed")
pytest.importorskip("moto", reason="moto is not installed (pip install -e '.[dev]')")

from tests.conftest import dagy_home, run_dagy, write_flow  # noqa: E402, F401 - fixtures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("moto's server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
}


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This test's AWS environment (also for the `dagy` processes it starts)."""
    env = {**AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}
    for name in ("AWS_PROFILE", "DAGY_ARTIFACT_BUCKET", "DAGY_ARTIFACT_STORE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3(aws: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"dagy-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata look-ups
