"""The one-shot loopback server that receives the browser's callback during `dagy login`.

It listens on 127.0.0.1 only (never 0.0.0.0), takes the first /callback that carries a state and a
code or an error, and holds the browser's page until the login has finished so the page can say how
it went.
"""

from __future__ import annotations

import html
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEE_TERMINAL = "Return to the terminal for details."


@dataclass(frozen=True)
class Callback:
    """What the browser brought to /callback."""

    state: str
    code: str | None
    error: str | None
    error_description: str | None


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 (never 0.0.0.0) for the browser's redirect.

    The first /callback carrying a state and a code or an error is the answer; the browser's page
    waits until the login has finished so it can say how it went.
    """

    def __init__(self) -> None:
        self._received = threading.Event()
        self._answered = threading.Event()
        self._responded = threading.Event()
        self._lock = threading.Lock()
        self.callback: Callback | None = None
        self._page = ("Login failed", SEE_TERMINAL)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"

    def __enter__(self) -> CallbackServer:
        threading.Thread(target=self._httpd.serve_forever, name="dagy-login", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.answer(ok=False, text=SEE_TERMINAL)  # no-op when answered already
        if self.callback is not None:
            self._responded.wait(5)  # let the browser get its page before the process exits
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self, timeout: float) -> Callback | None:
        """The callback, or None after ``timeout`` seconds; short waits keep Ctrl+C responsive."""
        deadline = time.monotonic() + timeout
        while not self._received.wait(0.1):
            if time.monotonic() >= deadline:
                return None
        return self.callback

    def answer(self, *, ok: bool, text: str) -> None:
        """Release the browser's page: success, or failure with ``text``."""
        with self._lock:
            if not self._answered.is_set():
                self._page = ("Login successful" if ok else "Login failed", text)
                self._answered.set()

    def _accept(self, query: dict[str, list[str]]) -> bool:
        """Record the first valid callback; False for any later one."""
        first = {key: values[0] for key, values in query.items() if values}
        with self._lock:
            if self.callback is not None:
                return False
            self.callback = Callback(
                state=first.get("state", ""),
                code=first.get("code"),
                error=first.get("error"),
                error_description=first.get("error_description"),
            )
        self._received.set()
        return True


def _handler_for(server: CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path != "/callback":
                self._page(404, "Not found", "")
            elif not query.get("state") or not (query.get("code") or query.get("error")):
                self._page(400, "Invalid callback", "It needs a state and a code or an error.")
            elif not server._accept(query):
                self._page(409, "Login already handled", "Return to the terminal.")
            else:
                server._answered.wait(60)
                self._page(200, *server._page)
                server._responded.set()

        def _page(self, code: int, title: str, text: str) -> None:
            body = (
                "<!doctype html><html><head><meta charset='utf-8'>"
                f"<title>Dagy: {html.escape(title)}</title></head>"
                f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
            ).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler
