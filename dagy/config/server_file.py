"""``server.json``: how a running `dagy serve` tells the CLI on this machine where it is.

Written 0600 by the server at start (it holds the local token), removed at shutdown. A file whose
process is gone (the server was killed) is stale and ignored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from dagy.config.files import write_private
from dagy.config.paths import DagyPaths
from dagy.config.processes import process_alive


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    pid_started: str | None
    url: str  # root, e.g. http://127.0.0.1:8000
    api_url: str  # with the base path, e.g. http://127.0.0.1:8000/v1
    token: str  # the local token: owner of the personal org, plus store access
    started_at: str
    local_mode: bool = False


def write(paths: DagyPaths, info: ServerInfo) -> None:
    paths.ensure_home()
    write_private(paths.server_file, json.dumps(asdict(info), indent=2))


def read(paths: DagyPaths) -> ServerInfo | None:
    """The live server of this home, or None (no file, unreadable, or its process is gone)."""
    try:
        data = json.loads(paths.server_file.read_text(encoding="utf-8"))
        info = ServerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    return info if process_alive(info.pid, info.pid_started) else None


def remove(paths: DagyPaths, *, pid: int | None = None) -> None:
    """Remove server.json (only if it is still ``pid``'s, when given)."""
    if pid is not None:
        try:
            if json.loads(paths.server_file.read_text(encoding="utf-8")).get("pid") != pid:
                return
        except (OSError, ValueError, AttributeError):
            return
    paths.server_file.unlink(missing_ok=True)
