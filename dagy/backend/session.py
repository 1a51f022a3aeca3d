"""The login session against a Dagy API: who a token is, storing and forgetting a login.

`dagy login`, `logout` and `auth status` talk to the API whatever mode the other commands are in,
so they use this module rather than a Backend; it keeps dagy.client and the credential store out
of dagy/cli (docs/auth.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagy.client.http import DagyClient
from dagy.client.tokens import Credential
from dagy.config import credentials, settings
from dagy.config.credentials import Credentials
from dagy.config.paths import DagyPaths
from dagy.errors import APIError, ConfigError

MISSING_API_URL = "Missing Dagy API URL. Set DAGY_API_URL or run 'dagy config'."


@dataclass(frozen=True)
class Session:
    """The credential a command would send, the API it goes to, and the stored login if any."""

    api_url: str
    credential: Credential
    stored: Credentials | None


def login_urls(
    paths: DagyPaths, profile: str | None, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(app URL, API URL) of a login: docs/auth.md's precedence; an unknown profile is an error."""
    from dagy.config.profiles import load_config, resolve_api_url, resolve_app_url, resolve_profile

    config = load_config(paths)
    chosen = resolve_profile(config, profile, environ)
    api_url = resolve_api_url(config, profile, environ)
    if settings.APP_URL.is_set(environ) or (chosen is not None and chosen.app_url):
        app_url = resolve_app_url(config, profile, environ)
    elif api_url:
        app_url = api_url[: -len("/v1")] if api_url.endswith("/v1") else api_url
    else:
        app_url = resolve_app_url(config, profile, environ)  # the default, https://dagy.io
    app_url = app_url.rstrip("/")
    return app_url, (api_url or f"{app_url}/v1").rstrip("/")


def whoami(api_url: str, token: str) -> dict[str, Any]:
    """``GET /users/me`` with exactly this token (never another one); APIError when refused."""
    me = DagyClient(api_url, token=token).get("/users/me")
    return me if isinstance(me, dict) else {}


def exchange_code(api_url: str, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
    """``POST /auth/token`` (PKCE), sent without any credential; the token response."""
    body = DagyClient(api_url, token="").post(
        "/auth/token", {"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
    )
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise APIError(0, f"No access_token in the token response from {api_url}")
    return body  # type: ignore[no-any-return]


def save_login(
    paths: DagyPaths, api_url: str, token: str, me: Mapping[str, Any], expires_at: str | None
) -> Credentials:
    """Store a login (OS keyring, else the 0600 file) as `dagy login` does, replacing any other."""
    login = Credentials(
        access_token=token,
        api_url=api_url,
        expires_at=expires_at,
        user_email=field(me, "user_email"),
        org_id=field(me, "org_id"),
        org_name=field(me, "org_name"),
        role=field(me, "role"),
    )
    return credentials.save(paths, login)


def current(
    paths: DagyPaths, profile: str | None, environ: Mapping[str, str] | None = None
) -> Session | None:
    """What a command would authenticate with: ``DAGY_TOKEN``/``DAGY_API_KEY`` against the
    resolved API URL (else the stored login's), else the stored login against its own URL."""
    from dagy.client import tokens
    from dagy.config.profiles import load_config, resolve_api_url

    api_url = resolve_api_url(load_config(paths), profile, environ)  # checks --profile too
    stored = credentials.load(paths, environ)
    from_env = tokens.from_environment(environ)
    if from_env is not None:
        url = api_url or (stored.api_url if stored is not None else None)
        if not url:
            raise ConfigError(MISSING_API_URL)
        return Session(url, from_env, stored)
    if stored is None or not stored.access_token or not stored.api_url:
        return None
    found = tokens.stored(paths, stored.api_url)
    return Session(stored.api_url, found, stored) if found is not None else None


def logout(paths: DagyPaths) -> tuple[APIError | None, str | None]:
    """Revoke the stored login's token on its server and forget it locally.

    Returns (the revocation's error other than a 401, the keyring's problem); either may be None.
    """
    stored = credentials.load(paths)
    failed = None
    if stored is not None and stored.access_token and stored.api_url:
        try:
            DagyClient(stored.api_url, token=stored.access_token).post("/auth/logout")
        except APIError as exc:
            if exc.status_code != 401:  # 401: already revoked or expired
                failed = exc
    return failed, credentials.delete(paths)


def field(data: object, key: str) -> str | None:
    """A non-empty scalar of a JSON object as text (an org_id may come as a number)."""
    value = data.get(key) if isinstance(data, Mapping) else None
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, (str, int)) else None


__all__ = [
    "Session",
    "current",
    "exchange_code",
    "field",
    "login_urls",
    "logout",
    "save_login",
    "whoami",
]
