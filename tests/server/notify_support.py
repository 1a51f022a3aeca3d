"""Receivers the notification tests deliver to: an HTTP server and an SMTP server (aiosmtpd), both
on 127.0.0.1 in threads of the test process, and a port nothing listens on."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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

    def wait_for(self, run_id: str, count: int = 1, timeout: float = 60) -> list[Received]:
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
    tls: tuple[Path, Path] | None = None  # (cert, key): offer STARTTLS and require it

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

        extra: dict[str, Any] = {}
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            extra = {"tls_context": context, "require_starttls": True}
        self.port = free_port()
        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=self.tls is not None,
            **extra,
        )
        self._controller.start()

    def wait_for(self, text: str, timeout: float = 60) -> Message:
        def find() -> Message | None:
            for _, msg in self.messages:
                if text in msg.get_payload():
                    return msg
            return None

        return wait_until(find, timeout, f"a message with {text}")  # type: ignore[no-any-return]

    def close(self) -> None:
        self._controller.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files): the test's own CA of one."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    """A port nothing listens on (bound and closed at once: a connection to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
