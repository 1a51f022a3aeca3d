"""Which credential a request to the API carries, and where it came from (docs/auth.md).

Order: an explicit token (the caller's: e.g. this home's live server's local token), then
``DAGY_TOKEN``, then ``DAGY_API_KEY``, then the stored login, only when it was made for this API URL
(a login to one server is never sent to another). The environment wins over the stored login so
CI, or one command, can act as someone else without touching ``dagy login``'s state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dagy.config import settings
from dagy.config.paths import DagyPaths

Source = Literal["argument", "DAGY_TOKEN", "DAGY_API_KEY", "keyring", "file"]


@dataclass(frozen=True)
class Credential:
    """A token and its source; ``repr`` never shows the token."""

    token: str
    source: Source
    credentials_file: Path | None = None

    def __repr__(self) -> str:
        return f"Credential(source={self.source!r})"

    def describe(self) -> str:
        """What `dagy auth status` prints after ``Credential:``, never the secret itself."""
        if self.source in ("DAGY_TOKEN", "DAGY_API_KEY"):
            return f"{self.source} (environment)"
        if self.source == "keyring":
            return "stored login (OS keyring)"
        if self.source == "file":
            return f"stored login ({_tilde(self.credentials_file)})"
        return "given by the caller"


def from_environment(environ: Mapping[str, str] | None = None) -> Credential | None:
    """``DAGY_TOKEN``, else ``DAGY_API_KEY``, else None."""
    for setting in (settings.TOKEN, settings.API_KEY):
        value = setting.get(environ)
        if value:
            source: Source = "DAGY_TOKEN" if setting is settings.TOKEN else "DAGY_API_KEY"
            return Credential(value, source)
    return None


def stored(paths: DagyPaths, base_url: str | None = None) -> Credential | None:
    """The stored login's token (keyring, then the file), if it was made for ``base_url``."""
    from dagy.config import credentials  # keyring itself is imported only if the file points to it

    login = credentials.load(paths)
    if login is None or not login.access_token:
        return None
    if base_url and login.api_url and login.api_url.rstrip("/") != base_url.rstrip("/"):
        return None
    source: Source = "keyring" if login.storage == "keyring" else "file"
    return Credential(login.access_token, source, paths.credentials)


def resolve(
    base_url: str,
    token: str | None = None,
    *,
    paths: DagyPaths | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credential | None:
    """The credential for a request to ``base_url``, in the module docstring's order; None: none.

    An explicit ``token`` of "" means "send none" (a login's code exchange), not "look further".
    """
    if token is not None:
        return Credential(token, "argument") if token else None
    found = from_environment(environ)
    if found is not None:
        return found
    return stored(paths or DagyPaths.from_env(environ), base_url)


def _tilde(path: Path | None) -> str:
    if path is None:
        return "~/.dagy/credentials"
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


__all__ = ["Credential", "from_environment", "resolve", "stored"]
