"""Test seams: moto's S3 (and STS, Lambda, IAM) server on 127.0.0.1 in a process of its own, for
tests that reach it with boto3 over HTTP through AWS_ENDPOINT_URL; and pytest fixtures on it
(a conftest imports ``moto_endpoint, aws, s3, bucket`` from here)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(timeout: float = 30) -> Iterator[str]:
    """Start ``python -m moto.server`` on a free loopback port; yields its endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


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
