"""Node implementations called directly inside a bound TaskContext (artifact folder in tmp_path),
against real parts: moto's S3 server on 127.0.0.1 through boto3, HTTP servers in the test process."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dagy.engine.context import TaskContext, bound
from tests.conftest import dagy_home  # noqa: F401 - fixture
from tests.moto_support import AWS_ENV, moto_server


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


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server, one per test module."""
    with moto_server() as url:
        yield url


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
