"""Where a queued run's code comes from: the flow file on this machine, or its artifact unpacked.

An artifact (the zip `dagy build` writes) is fetched once per flow version into
``<home>/code/<org>/<flow>/<version>/``, every file checked against the zip's ``manifest.json``
(size and sha256; nothing outside it, no path leaving the folder). The folder records the
``code_hash`` it holds, so a version re-registered with new code is unpacked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from dagy.config.paths import DagyPaths

MANIFEST = "manifest.json"
_MARKER = ".dagy-code"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class NoRunnableCode(ValueError):
    """Neither the entrypoint's file nor an artifact is there to run."""


def code_dir(paths: DagyPaths, org_id: str, flow_name: str, flow_version: str) -> Path:
    parts = [_UNSAFE.sub("_", p).strip(".") or "_" for p in (org_id, flow_name, flow_version)]
    return paths.home.joinpath("code", *parts)


def target_for(
    paths: DagyPaths, org_id: str, flow_name: str, flow_version: str, code: dict[str, Any]
) -> str:
    """The ``<file>:<fn>`` to load: the entrypoint when its file is here, else the artifact's."""
    entrypoint = str(code.get("entrypoint") or "")
    file, _, fn = entrypoint.rpartition(":")
    if not file or not fn:
        raise NoRunnableCode(f"Flow version has no runnable code: entrypoint {entrypoint!r}")
    if Path(file).is_absolute() and Path(file).is_file():
        return entrypoint
    uri = code.get("artifact_uri")
    if not uri:
        raise NoRunnableCode(f"Flow version has no runnable code: {file} is not a file here")
    folder = unpack(
        code_dir(paths, org_id, flow_name, flow_version), str(uri), code.get("code_hash")
    )
    relative = PurePosixPath(Path(file).name if Path(file).is_absolute() else file)
    return f"{folder / relative}:{fn}"


def unpack(folder: Path, uri: str, code_hash: str | None) -> Path:
    """``folder`` holding the artifact's files, fetched and checked unless it already does."""
    wanted = code_hash or hashlib.sha256(uri.encode()).hexdigest()
    if _holds(folder, wanted):
        return folder
    from dagy.artifacts import fetch  # the artifact store's one entry point

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fetch-") as scratch:
        zip_path = Path(fetch(uri, Path(scratch) / "zip"))
        staged = Path(scratch) / "files"
        extract_verified(zip_path, staged)
        (staged / _MARKER).write_text(wanted, encoding="utf-8")
        if _holds(folder, wanted):  # another child unpacked it meanwhile
            return folder
        old = folder.with_name(f".old-{folder.name}-{secrets.token_hex(3)}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(folder, old)  # stale code of a re-registered version
        try:
            os.rename(staged, folder)
        except OSError:
            if not _holds(folder, wanted):
                raise
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _holds(folder: Path, wanted: str) -> bool:
    try:
        return (folder / _MARKER).read_text(encoding="utf-8") == wanted
    except OSError:
        return False


def extract_verified(zip_path: Path, dest: Path) -> None:
    """Extract the files ``manifest.json`` lists, each checked; anything else in the zip, a
    mismatch or a path leaving ``dest`` is a ValueError and nothing is kept."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        try:
            manifest = json.loads(zf.read(MANIFEST))
            files = {str(f["path"]): f for f in manifest["files"]}
        except (KeyError, ValueError, TypeError):
            raise ValueError(f"Artifact {zip_path} has no valid {MANIFEST}") from None
        extra = set(zf.namelist()) - set(files) - {MANIFEST}
        if extra:
            raise ValueError(
                f"Artifact {zip_path} holds files not in its manifest: {sorted(extra)}"
            )
        for name, entry in files.items():
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or not path.parts:
                raise ValueError(f"Artifact {zip_path} has an unsafe path: {name!r}")
            try:
                data = zf.read(name)
            except KeyError:
                raise ValueError(
                    f"Artifact {zip_path} lacks {name}, listed in its manifest"
                ) from None
            if len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get(
                "sha256"
            ):
                raise ValueError(f"Artifact {zip_path} does not match its manifest: {name}")
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
