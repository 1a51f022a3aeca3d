"""DagyClient asks a plain ``http://`` API over a socket (no urllib.request at start-up): the
answers, errors and redirects a command sees are the same as through urllib."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dagy.client.http import DagyClient
from dagy.errors import APIError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if "/v1/echo" in self.path:  # an absolute URL when asked as a proxy
            seen = {
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "agent": self.headers.get("User-Agent"),
            }
            self._send(200, json.dumps(seen).encode())
        elif self.path == "/v1/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"items": ', b"[1, 2, 3]", b"}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/v1/moved":
            self._send(307, b"", {"Location": "/v1/echo?moved=1"})
        elif self.path == "/v1/empty":
            self._send(204, b"")
        else:
            self._send(404, b'{"detail": "Run not found: nope"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/teapot":
            self._send(418, b"short and stout")
        else:
            self._send(201, json.dumps({"got": json.loads(body)}).encode())


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_answers_queries_and_headers(api: str) -> None:
    client = DagyClient(api, "tok")
    seen = client.get("/echo", status="FAILED", limit=5, skip=None)
    assert seen == {
        "path": "/v1/echo?status=FAILED&limit=5",
        "auth": "Bearer tok",
        "agent": "dagy-sdk/0.1.0",
    }
    assert client.post("/things", {"name": "é"}) == {"got": {"name": "é"}}
    assert client.get("/chunked") == {"items": [1, 2, 3]}
    assert client.get("/empty") is None


def test_errors_are_api_errors_with_the_servers_message(api: str) -> None:
    client = DagyClient(api, "tok")
    with pytest.raises(APIError) as found:
        client.get("/runs/nope")
    assert (found.value.status_code, str(found.value)) == (404, "404: Run not found: nope")
    with pytest.raises(APIError) as found:
        client.post("/teapot")
    assert (found.value.status_code, str(found.value)) == (418, "418: short and stout")


def test_a_redirect_is_followed_as_urllib_follows_it(api: str) -> None:
    assert DagyClient(api, "tok").get("/moved")["path"] == "/v1/echo?moved=1"


def test_a_closed_port_is_unable_to_reach() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(APIError) as found:
        DagyClient(f"http://127.0.0.1:{port}/v1", "tok").get("/runs")
    assert found.value.status_code == 0
    assert str(found.value).startswith(
        f"0: Unable to reach Dagy API at http://127.0.0.1:{port}/v1."
    )


def test_a_proxy_in_the_environment_is_used_as_urllib_uses_it(api: str) -> None:
    """A fresh process (urllib reads the proxy settings once): the request goes to the proxy."""
    proxy = api.removesuffix("/v1")
    code = (
        "from dagy.client.http import DagyClient\n"
        "print(DagyClient('http://dagy.invalid:9/v1', 'tok').get('/echo')['path'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "http_proxy": proxy},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://dagy.invalid:9/v1/echo"


def test_only_loopback_http_takes_the_socket_path() -> None:
    from dagy.client.http import _loopback_http

    assert _loopback_http("http://127.0.0.1:8080/v1")
    assert _loopback_http("http://localhost:8080/v1")
    assert _loopback_http("http://[::1]:8080/v1")
    assert not _loopback_http("https://127.0.0.1:8080/v1")
    assert not _loopback_http("http://dagy.example.com/v1")
    assert not _loopback_http("http://10.0.0.5:8080/v1")
