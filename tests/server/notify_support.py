"""Receivers the notification tests deliver to: an HTTP server and an SMTP server (aiosmtpd), both
on 127.0.0.1 in threads of the test process, and a port nothing listens on."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.server.runs_support import wait_until


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP receiver: records every POST, answers with ``statuses`` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    port: int = 0  # 0: any free port

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner._lock:
                    owner.requests.append(Received(self.path, headers, body))
                    status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def about(self, run_id: str) -> list[Received]:
        """What was received about one run (a shared server's other runs may reach it too)."""
        with self._lock:
            return [r for r in self.requests if run_id.encode() in r.body]

    def wait_for(self, run_id: str, count: int = 1, timeout: float = 20) -> list[Received]:
        return wait_until(  # type: ignore[no-any-return]
            lambda: (got := self.about(run_id)) and len(got) >= count and got,
            timeout,
            f"{count} request(s) about {run_id}",
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Mailbox:
    """An SMTP server (aiosmtpd) that accepts one login and keeps every message."""

    login: str = "alerts"
    password: str = "smtp-pass-123"
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        owner = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                owner.messages.append(
                    (list(envelope.rcpt_tos), message_from_bytes(envelope.content))
                )
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == owner.login
                and data.password.decode() == owner.password
            )
            if ok:
                owner.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)  # a failure: aiosmtpd answers 535

        self.port = free_port()
        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
        )
        self._controller.start()

    def wait_for(self, text: str, timeout: float = 20) -> Message:
        def find() -> Message | None:
            for _, msg in self.messages:
                if text in msg.get_payload():
                    return msg
            return None

        return wait_until(find, timeout, f"a message with {text}")  # type: ignore[no-any-return]

    def close(self) -> None:
        self._controller.stop()


def free_port() -> int:
    """A port nothing listens on (bound and closed at once: a connection to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
