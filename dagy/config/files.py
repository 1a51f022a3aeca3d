"""Private files: config.yaml, credentials and server.json are written 0600, atomically."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077  # folders 0700, files 0600


def private_umask() -> None:
    """Make every file and folder this process (and its children) creates private to its owner.

    Called once at start-up by `dagy` (so also `dagy serve`) and by the run and task child entry
    points: the store, its .wal, run logs, artifacts and server.json are then 0600 without each
    writer having to remember it."""
    os.umask(PRIVATE_UMASK)


def write_private(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` with mode 0600: a 0600 temp file in the same folder, fsync'd,
    then renamed over the target, so a reader never sees half a file and never a wider mode."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # the mode os.open got may have been narrowed by umask, never widened
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
