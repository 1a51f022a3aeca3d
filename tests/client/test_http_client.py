"""DagyClient against a real HTTP server on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dagy import APIError
from dagy.client.http import DagyClient
from dagy.config.paths import DagyPaths

seen: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: object, raw: bool = False) -> None:
        data = body if raw else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.path.startswith("/v1/items"):
            token = "p2" if "next_token=p2" not in self.path else None
            items = [1, 2] if token else [3]
            self._send(200, {"items": items, "next_token": token})
        elif self.path == "/v1/missing":
            self._send(
                404, {"error": "not_found", "message": "Run not found", "detail": "Run not found"}
            )
        elif self.path == "/v1/detail":
            self._send(403, {"detail": "Permission denied"})
        elif self.path == "/v1/text":
            self._send(500, b"upstream exploded", raw=True)
        else:
            self._send(200, {"ok": True})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        seen.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self._send(202, {"run_id": "abc-123", "status": "PENDING"})


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_sends_token_user_agent_and_json(server: str):
    client = DagyClient(server, token="tok-1")
    assert client.post("/runs", {"deployment_name": "etl"}) == {
        "run_id": "abc-123",
        "status": "PENDING",
    }
    assert seen[-1]["body"] == {"deployment_name": "etl"}
    client.get("/me")
    headers = {k.lower(): v for k, v in seen[-1]["headers"].items()}
    assert headers["authorization"] == "Bearer tok-1"
    assert headers["user-agent"] == "dagy-sdk/0.1.0"


def test_token_falls_back_to_the_credentials_file(server: str, paths: DagyPaths):
    assert DagyClient(server, paths=paths).token is None
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.credentials.write_text(json.dumps({"access_token": "from-file"}))
    assert DagyClient(server, paths=paths).token == "from-file"
    assert DagyClient(server, token="explicit", paths=paths).token == "explicit"


def test_paginate_follows_next_token(server: str):
    assert list(DagyClient(server, token="t").paginate("/items", limit=2)) == [1, 2, 3]
    assert "limit=2" in seen[0]["path"] and "next_token=p2" in seen[1]["path"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/missing", 404, "Run not found"),
        ("/detail", 403, "Permission denied"),
        ("/text", 500, "upstream exploded"),
    ],
)
def test_http_errors_become_api_errors(server: str, path: str, status: int, message: str):
    with pytest.raises(APIError) as info:
        DagyClient(server, token="t").get(path)
    assert (info.value.status_code, info.value.message) == (status, message)


def test_unreachable_api_is_status_0_with_the_spec_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(APIError) as info:
        DagyClient(url, token="t", timeout=2).get("/health")
    assert info.value.status_code == 0
    assert info.value.message == (
        f"Unable to reach Dagy API at {url}. Check DAGY_API_URL/profile and network connectivity."
    )


def test_a_stored_login_is_only_sent_to_the_api_it_came_from(
    paths: DagyPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagy.config import credentials

    monkeypatch.setenv("DAGY_KEYRING", "0")
    credentials.save(
        paths, credentials.Credentials(access_token="tok-a", api_url="http://127.0.0.1:1/v1")
    )
    assert DagyClient("http://127.0.0.1:1/v1/", paths=paths).token == "tok-a"
    assert DagyClient("http://other.example/v1", paths=paths).token is None
    assert DagyClient("http://other.example/v1", "explicit", paths=paths).token == "explicit"
