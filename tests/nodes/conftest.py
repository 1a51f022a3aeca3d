"""Node implementations called directly inside a bound TaskContext (artifact folder in tmp_path),
against real parts: moto's S3 server on 127.0.0.1 through boto3, HTTP servers in the test process."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dagy.engine.context import TaskContext, bound
from tests.conftest import dagy_home  # noqa: F401 - fixture

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def ctx(tmp_path: Path, dagy_home: Path) -> Iterator[TaskContext]:  # noqa: F811 - fixture
    """A task context for run r1 / task run t1, as the pipeline file tmp_path/pipeline.yaml has."""
    context = TaskContext(
        run_id="r1",
        task_run_id="t1",
        attempt=1,
        artifact_dir=tmp_path / "artifacts" / "r1" / "t1",
        task_dir=tmp_path / "runs" / "r1" / "t1",
        entrypoint=f"{tmp_path / 'pipeline.yaml'}:p",
    )
    with bound(context):
        yield context


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """``python -m moto.server`` on a free loopback port, one per test module."""
    pytest.importorskip("moto", reason="moto is not installed (pip install -e '.[dev]')")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
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


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"nodes-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


class Site:
    """A small HTTP server: JSON, text, a slow answer, a large one, an error status."""

    ORDERS = [{"order_id": i, "total": i * 10} for i in range(1, 4)]

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path == "/orders":
                    self._send(200, json.dumps(Site.ORDERS).encode(), "application/json")
                elif path == "/text":
                    self._send(200, b"hello", "text/plain; charset=utf-8")
                elif path == "/slow":
                    time.sleep(3)
                    self._send(200, b"late", "text/plain")
                elif path == "/big":
                    self._send(200, b"x" * 5000, "text/plain")
                elif path == "/big-unsized":  # no Content-Length: the reader must stop itself
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"y" * 5000)
                else:
                    self._send(500, b"boom", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up (timeout)
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    found = Site()
    yield found
    found.server.shutdown()
    found.server.server_close()
