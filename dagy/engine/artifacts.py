"""Task results as JSON artifacts under ``artifacts/<run_id>/<task_run_id>/result.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dagy.config import settings
from dagy.errors import ArtifactSerializationError
from dagy.sdk import _codec

RESULT_FILE = "result.json"
# _codec.dumps's settings in one encoder made once: json.dumps builds a new one per call when it
# is given any option (~10 us a result on a worker thread).
_ENCODER = json.JSONEncoder(default=_codec._default, allow_nan=False, separators=(",", ":"))


def max_bytes() -> int:
    return settings.LOCAL_ARTIFACT_MAX_BYTES.get()


def serialize(task_name: str, value: Any, limit: int) -> bytes:
    """The JSON bytes of a result; ArtifactSerializationError (naming the task) if impossible or too big."""
    try:
        data = _ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ArtifactSerializationError(
            f"Task '{task_name}' returned a value that cannot be stored as a JSON artifact: {exc}"
        ) from None
    if limit and len(data) > limit:
        raise ArtifactSerializationError(
            f"Task '{task_name}' returned {len(data)} bytes, more than the artifact limit of "
            f"{limit} bytes (DAGY_LOCAL_ARTIFACT_MAX_BYTES)"
        )
    return data


def make_dir(path: Path) -> None:
    """mkdir for a folder whose parent the engine created at run start (makedirs stats each level)."""
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)


def write(directory: Path, data: bytes) -> Path:
    make_dir(directory)
    path = directory / RESULT_FILE
    # No temp-file dance: a task run is SUCCEEDED (and its artifact read) only after this returns.
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def read(path: str | Path) -> Any:
    with open(path, "rb") as fh:
        return _codec.loads(fh.read())
