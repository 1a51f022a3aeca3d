"""A run's stored files: each task run's ``result.json`` and the files the task wrote itself.

They live under ``artifacts/<run_id>/<task_run_id>/`` (dagy.engine.artifacts; ``ctx.artifact_dir``).
A task that returned nothing and wrote nothing may have no folder at all: it simply lists no file.
Only regular files directly in a task's folder are listed or served (no subfolders such as a
dataframe node's spill folder, no symbolic links), and every id and name goes through
``check_path_id``, so nothing outside the run's artifact folder can be named.

Used by GET /runs/{run_id}/artifacts[/{task_run_id}/{name}] and `dagy runs artifacts`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import mimetypes
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths, check_path_id
from dagy.errors import InvalidInputError, NotFoundError

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_TYPES = {
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".log": "text/plain",
}


@dataclass(frozen=True)
class ArtifactFile:
    task_run_id: str
    task_name: str
    name: str
    size: int
    content_type: str
    created_at: str  # ISO 8601, UTC, with Z
    kind: str  # "result" (the task's return value) or "file"

    def to_json(self) -> dict[str, Any]:
        return {
            "task_run_id": self.task_run_id,
            "task_name": self.task_name,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "created_at": self.created_at,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactFile:
        return cls(
            str(data.get("task_run_id") or ""),
            str(data.get("task_name") or ""),
            str(data.get("name") or ""),
            int(data.get("size") or 0),
            str(data.get("content_type") or "application/octet-stream"),
            str(data.get("created_at") or ""),
            str(data.get("kind") or "file"),
        )


@dataclass(frozen=True)
class ArtifactPage:
    items: list[ArtifactFile]
    next_token: str | None


def content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _token(index: int, name: str) -> str:
    raw = json.dumps([index, name], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        index, name = json.loads(raw)
        if isinstance(index, int) and index >= 0 and isinstance(name, str):
            return index, name
    except (binascii.Error, ValueError, TypeError):
        pass
    raise InvalidInputError("Invalid next_token", {"next_token": "not a token this route gave"})


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}", {"limit": f"1..{MAX_LIMIT}"}
        )
    return limit


def _run_tasks(store: Any, org_id: str, run_id: str) -> list[Any]:
    """The run's task runs (store order); 404 for a run that is not the org's."""
    check_path_id(run_id, "run_id")
    with store.connection():
        run = store.get_run(run_id, org_id=org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        return list(store.task_runs(run_id))


def _files(folder: Path) -> list[os.DirEntry[str]]:
    """Regular files (not links, not folders) directly in ``folder``; none when it is missing."""
    try:
        with os.scandir(folder) as it:
            found = [e for e in it if e.is_file(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda e: e.name)


def _stamp(seconds: float) -> str:
    moment = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def list_page(
    store: Any,
    paths: DagyPaths,
    org_id: str,
    run_id: str,
    *,
    limit: int | None = None,
    next_token: str | None = None,
) -> ArtifactPage:
    """The run's files in task order, then by name; ``limit`` per page (at most 500)."""
    wanted = check_limit(limit)
    start_index, after = _untoken(next_token) if next_token else (0, "")
    tasks = _run_tasks(store, org_id, run_id)
    root = paths.artifacts / run_id
    try:
        with os.scandir(root) as it:
            present = {e.name for e in it if e.is_dir(follow_symlinks=False)}
    except (FileNotFoundError, NotADirectoryError):
        present = set()
    items: list[ArtifactFile] = []
    last_index = start_index
    for index in range(start_index, len(tasks)):
        task = tasks[index]
        if task.task_run_id not in present:
            continue
        result = Path(task.artifact_path).name if task.artifact_path else None
        for entry in _files(root / task.task_run_id):
            if index == start_index and after and entry.name <= after:
                continue
            if len(items) == wanted:
                last = items[-1]
                return ArtifactPage(items, _token(last_index, last.name))
            info = entry.stat(follow_symlinks=False)
            items.append(
                ArtifactFile(
                    task.task_run_id,
                    task.task_name,
                    entry.name,
                    info.st_size,
                    content_type(entry.name),
                    _stamp(info.st_mtime),
                    "result" if entry.name == result else "file",
                )
            )
            last_index = index
    return ArtifactPage(items, None)


def open_file(
    store: Any, paths: DagyPaths, org_id: str, run_id: str, task_run_id: str, name: str
) -> tuple[Path, str, int]:
    """The file's path, content type and size, for a download; 404 when it is not a listed file."""
    check_path_id(task_run_id)
    check_path_id(name, "name")
    tasks = _run_tasks(store, org_id, run_id)
    if not any(t.task_run_id == task_run_id for t in tasks):
        raise NotFoundError(
            f"Task run not found: {task_run_id}", {"task_run_id": task_run_id, "run_id": run_id}
        )
    path = paths.artifact_dir(run_id, task_run_id) / name
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise NotFoundError(
            f"Artifact not found: {task_run_id}/{name}", {"task_run_id": task_run_id, "name": name}
        )
    return path, content_type(name), info.st_size
