"""``DagyClient``: a small JSON-over-HTTP client for the Dagy API, on the standard library.

No httpx or requests: the CLI imports this on start-up paths, and urllib costs nothing to import.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from dagy import __version__
from dagy.client import tokens
from dagy.config.paths import DagyPaths
from dagy.errors import APIError

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
        req = urllib.request.Request(
            self._url(path, params), data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) only
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise APIError(exc.code, _error_message(exc)) from None
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


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The API's error text: ``message`` or ``detail`` of a JSON body, else the body or reason."""
    try:
        raw = exc.read()
    except OSError:
        raw = b""
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
    return text[:500] or str(exc.reason or "") or f"HTTP {exc.code}"


__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "DagyClient", "stored_token"]
