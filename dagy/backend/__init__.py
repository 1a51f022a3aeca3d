"""The one seam between the front ends (CLI, TUI) and Dagy's data.

``open_backend(paths, profile)`` decides, here and nowhere else, where a command's data lives:

- ``api``: the Dagy API that ``DAGY_API_URL`` or the profile's ``api_url`` names (HTTP backend,
  over ``DagyClient``, with ``DAGY_API_KEY``/``DAGY_TOKEN`` or the stored login);
- ``server``: this home's live ``dagy serve``, which holds the store file (HTTP backend, with the
  local token of ``server.json``);
- ``store``: the store file itself (local backend: the services over DuckDB).

Front ends import this package, never ``dagy.store``, ``dagy.config.server_file`` or
``dagy.client`` (tests/test_layers.py checks the import graph). Importing it is cheap: the
store, the services and the HTTP client are imported by the methods that use them.
"""

from __future__ import annotations

from dagy.backend.base import Backend
from dagy.backend.choose import open_backend

__all__ = ["Backend", "open_backend"]
