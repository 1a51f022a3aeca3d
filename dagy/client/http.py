"""``DagyClient``: a small JSON-over-HTTP client for the Dagy API, on the standard library.

No httpx or requests: the CLI imports this on start-up paths. A plain ``http://`` URL on loopback
with no proxy in the environment (this home's live ``dagy serve``) is asked over a socket, one
request per connection: ``urllib.request`` pulls in ``http.client``, ``email`` and ``ssl``, ~20 ms
of every short command's start. Anything else (``https``, another host, a proxy, a redirect) goes
through ``urllib.request``.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dagy import __version__
from dagy.client import tokens
from dagy.config.paths import DagyPaths
from dagy.errors import APIError

if TYPE_CHECKING:
    import urllib.error

DEFAULT_TIMEOUT = 10.0
USER_AGENT = f"dagy-sdk/{__version__}"


def stored_token(paths: DagyPaths | None = None, base_url: str | None = None) -> str | None:
    """The stored login's token: the OS keyring first, then ``~/.dagy/credentials``; else None.

    With ``base_url``, a token obtained from another API is not used: a login to one server is
    never sent to a different one.
    """
    found = tokens.stored(paths or DagyPaths.from_env(), base_url)
    return found.token if found is not None else None


class DagyClient:
    """Calls ``<base_url><path>`` with a bearer token; every failure is an APIError.

    Token resolution (dagy.client.tokens): the ``token`` argument, then ``DAGY_TOKEN``, then
    ``DAGY_API_KEY``, then the stored login (keyring, then the credentials file) when it was made
    for this API URL, then none (unauthenticated). ``credential`` says which one was taken.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        paths: DagyPaths | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = tokens.resolve(self.base_url, token, paths=paths, environ=environ)
        self.token = self.credential.token if self.credential is not None else None
        self.timeout = timeout

    def _url(self, path: str, params: dict[str, Any] | None) -> str:
        url = self.base_url + "/" + path.lstrip("/")
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON body (None for an empty one)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self._url(path, params)
        try:
            body = None
            if _loopback_http(url) and not _proxied():
                status, reason, raw = _plain_request(url, method, data, headers, self.timeout)
                if status >= 400:
                    raise APIError(status, _message(raw, reason, status))
                if status < 300:
                    body = raw
            if body is None:  # https, a proxy, or a redirect to follow
                body = _urllib_request(url, method, data, headers, self.timeout)
        except OSError:  # URLError, timeouts, refused and reset connections
            raise APIError(
                0,
                f"Unable to reach Dagy API at {self.base_url}. "
                "Check DAGY_API_URL/profile and network connectivity.",
            ) from None
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise APIError(0, f"Invalid JSON in the response from {self.base_url}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json_body=body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json_body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json_body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def paginate(self, path: str, *, limit: int = 100, **params: Any) -> Iterator[Any]:
        """Every item of a cursor-paginated list (``items`` + ``next_token``), page by page."""
        token: str | None = None
        while True:
            page = self.get(path, limit=limit, next_token=token, **params) or {}
            yield from page.get("items") or []
            token = page.get("next_token")
            if not token:
                return


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})


def _loopback_http(url: str) -> bool:
    """True for ``http://`` to this machine's loopback (a live ``dagy serve``): only there is the
    one-request socket path used; any other server gets urllib's full HTTP handling."""
    if not url.startswith("http://"):
        return False
    return (urllib.parse.urlsplit(url).hostname or "") in _LOOPBACK_NAMES


def _proxied() -> bool:
    """True when the environment names a proxy (urllib's ``*_proxy`` variables): urllib applies it."""
    return any(key.lower().endswith("_proxy") and value for key, value in os.environ.items())


def _urllib_request(
    url: str, method: str, data: bytes | None, headers: dict[str, str], timeout: float
) -> bytes:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        raise APIError(exc.code, _error_message(exc)) from None


def _plain_request(
    url: str, method: str, data: bytes | None, headers: dict[str, str], timeout: float
) -> tuple[int, str, bytes]:
    """(status, reason, body) of one HTTP/1.1 request over a socket, ``Connection: close``.

    The headers are those urllib sends. A reply that is not HTTP raises OSError (the caller's
    "Unable to reach"), as a reset connection would.
    """
    import socket

    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]
    lines = [f"{method} {target} HTTP/1.1", "Accept-Encoding: identity", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if data is not None:
        lines.append(f"Content-Length: {len(data)}")
    lines.append("Connection: close")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (data or b"")
    chunks = []
    name = parts.hostname or ""
    # An ASCII name as bytes, as getaddrinfo takes it: a str goes through the idna codec (~1 ms).
    address: Any = name.encode("ascii") if name.isascii() else name
    with socket.create_connection((address, parts.port or 80), timeout) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not sep or not version.startswith("HTTP/1.") or not code.isdigit():
        raise OSError(f"not an HTTP response from {parts.netloc}")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = _unchunk(body)
    elif fields.get("content-length", "").isdigit():
        length = int(fields["content-length"])
        if len(body) < length:
            raise OSError(f"incomplete response from {parts.netloc}")
        body = body[:length]
    return int(code), reason, body


def _unchunk(body: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, sep, body = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip(), 16) if sep else -1
        except ValueError:
            size = -1
        if size < 0 or len(body) < size:
            raise OSError("incomplete chunked response")
        if size == 0:
            return b"".join(out)
        out.append(body[:size])
        body = body[size + 2 :]


def _error_message(exc: urllib.error.HTTPError) -> str:
    """``_message`` of an HTTPError (dagy.client.uploads)."""
    try:
        raw = exc.read()
    except OSError:
        raw = b""
    return _message(raw, exc.reason, exc.code)


def _message(raw: bytes, reason: object, code: int) -> str:
    """The API's error text: ``message`` or ``detail`` of a JSON body, else the body or reason."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "detail", "error"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    text = raw.decode("utf-8", "replace").strip()
    return text[:500] or str(reason or "") or f"HTTP {code}"


__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "DagyClient", "stored_token"]
