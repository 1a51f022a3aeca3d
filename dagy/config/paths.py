"""Where Dagy keeps its local state: ``DAGY_LOCAL_DIR`` or ``~/.dagy``."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagy.config import settings
from dagy.errors import InvalidInputError

DEFAULT_ARTIFACT_MAX_BYTES = settings.LOCAL_ARTIFACT_MAX_BYTES.default
DEFAULT_KEEP_RUNS = settings.LOCAL_KEEP_RUNS.default
MAX_ID_LENGTH = 200


def check_path_id(value: str, field: str = "task_run_id") -> str:
    """``value`` if it can name one folder under the home (a run id, a task run id); else
    InvalidInputError (400 / exit 2) naming ``field``. Every path made from an id goes through here,
    so ``../../outside`` never leaves the run's folder, whichever door (CLI, API, TUI) it came in by."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_ID_LENGTH
        or value in (".", "..")
        or any(c in value for c in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        shown = value[:MAX_ID_LENGTH] if isinstance(value, str) else value
        raise InvalidInputError(f"Invalid {field.replace('_', ' ')}: {shown!r}", {"field": field})
    return value


@dataclass(frozen=True)
class DagyPaths:
    """Every path under the Dagy home directory, resolved once."""

    home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DagyPaths:
        return cls(settings.local_dir(environ))

    @property
    def db(self) -> Path:
        return self.home / "dagy.duckdb"

    @property
    def config_file(self) -> Path:
        return self.home / "config.yaml"

    @property
    def credentials(self) -> Path:
        return self.home / "credentials"

    @property
    def server_file(self) -> Path:
        """``server.json``: written by a running `dagy serve` (pid, url, local token; 0600)."""
        return self.home / "server.json"

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def builds(self) -> Path:
        return self.home / "builds"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / check_path_id(run_id, "run_id")

    def run_log(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "run.log"

    def task_run_dir(self, run_id: str, task_run_id: str) -> Path:
        return self.run_dir(run_id) / "task_runs" / check_path_id(task_run_id)

    def task_log(self, run_id: str, task_run_id: str) -> Path:
        return self.task_run_dir(run_id, task_run_id) / "task.log"

    def artifact_dir(self, run_id: str, task_run_id: str) -> Path:
        return self.artifacts / check_path_id(run_id, "run_id") / check_path_id(task_run_id)

    def ensure_home(self) -> None:
        """Create the home folder private to its owner (0700): it holds run history and credentials.

        An existing home open to group or others (made by an older Dagy, or by hand under umask
        022) loses those bits, and so do Dagy's own files at its top, with one notice on stderr."""
        if not self.home.is_dir():
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            return
        _tighten(self.home)


_tightened: set[Path] = set()


_OWN_FILES = (
    "dagy.duckdb",
    "dagy.duckdb.wal",
    "server.json",
    "credentials",
    "master.key",
    "config.yaml",
)


def _tighten(home: Path) -> None:
    """Once per process and home: a home open to others loses its group/other bits (one notice line
    on stderr), and so do Dagy's own files at its top (the store, its .wal, server.json, ...).
    A folder that is not ours, or a shared sticky one like /tmp, is left alone."""
    if home in _tightened:
        return
    _tightened.add(home)
    try:
        st = home.stat()
        if st.st_uid != os.getuid() or st.st_mode & stat.S_ISVTX:
            return
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            os.chmod(home, mode & ~0o077)
        for name in _OWN_FILES:
            path = home / name
            with contextlib.suppress(FileNotFoundError):
                file_mode = stat.S_IMODE(path.lstat().st_mode)
                if file_mode & 0o077 and path.is_file() and not path.is_symlink():
                    os.chmod(path, file_mode & ~0o077)
    except OSError:  # not ours to change: leave it, the store's own errors will tell
        return
    if mode & 0o077:
        sys.stderr.write(
            f"Notice: {home} was mode {mode:o}; tightened to {mode & ~0o077:o} (owner only)\n"
        )
