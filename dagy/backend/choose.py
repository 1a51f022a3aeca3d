"""``open_backend``: the one place that decides between a remote API, this home's live server and
the store file (docs/cli.md, "Where a command looks").

Precedence, as docs/cli.md documents it: ``--profile`` (or ``DAGY_PROFILE``) must name a profile
(``ConfigError: Profile not found: <name>``, exit 4, for every command); then ``DAGY_API_URL``,
then the profile's ``api_url`` → the ``api`` mode; else a live ``dagy serve`` of this home →
``server``; else the store file → ``store``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagy.backend.base import Backend
from dagy.backend.context import HttpContext, LocalContext
from dagy.config.paths import DagyPaths


def open_backend(
    paths: DagyPaths | None = None,
    profile: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    lock_timeout: float | None = None,
    timeout: float | None = None,
) -> Backend:
    """The backend a command (or the TUI) should use; see the module docstring for the order."""
    from dagy.config.profiles import (
        load_config,
        resolve_api_url,
        resolve_profile_name,
        resolve_table_format,
    )

    env = os.environ if environ is None else environ
    paths = paths or DagyPaths.from_env()
    config = load_config(paths)
    name = resolve_profile_name(config, profile, env)  # an unknown profile raises ConfigError
    table_format = resolve_table_format(config, profile)
    api_url = resolve_api_url(config, profile, env)
    if api_url is not None:
        from dagy.client.http import DEFAULT_TIMEOUT, DagyClient

        client = DagyClient(
            api_url, paths=paths, timeout=timeout or DEFAULT_TIMEOUT, environ=environ
        )
        label = f"profile {name or '-'} · API {api_url}"
        return Backend.over_http(HttpContext(client, paths), "api", label, name, table_format)
    from dagy.config import server_file

    live = server_file.read(paths)
    if live is not None:
        from dagy.client.http import DEFAULT_TIMEOUT, DagyClient

        client = DagyClient(live.api_url, live.token, timeout=timeout or DEFAULT_TIMEOUT)
        label = f"local {paths.home} · server {live.api_url}"
        return Backend.over_http(
            HttpContext(client, paths, live), "server", label, name, table_format
        )
    context = LocalContext(paths, lock_timeout=lock_timeout)
    label = f"local {paths.home} · store {paths.db}"
    return Backend.over_store(context, label, name, table_format)
