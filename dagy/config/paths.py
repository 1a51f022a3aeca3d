"""Where Dagy keeps its local state: ``DAGY_LOCAL_DIR`` or ``~/.dagy``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagy.config import settings

DEFAULT_ARTIFACT_MAX_BYTES = settings.LOCAL_ARTIFACT_MAX_BYTES.default
DEFAULT_KEEP_RUNS = settings.LOCAL_KEEP_RUNS.default


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
        return self.runs / run_id

    def run_log(self, run_id: str) -> Path:
        return self.runs / run_id / "run.log"

    def task_run_dir(self, run_id: str, task_run_id: str) -> Path:
        return self.runs / run_id / "task_runs" / task_run_id

    def task_log(self, run_id: str, task_run_id: str) -> Path:
        return self.task_run_dir(run_id, task_run_id) / "task.log"

    def artifact_dir(self, run_id: str, task_run_id: str) -> Path:
        return self.artifacts / run_id / task_run_id

    def ensure_home(self) -> None:
        """Create the home folder private to its owner (0700): it holds run history and credentials."""
        if not self.home.is_dir():
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
