"""Build a deployment artifact: a flow's FlowSpec, metadata, manifest and source in one zip."""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import secrets
import sys
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.sdk.loader import load_flow, split_target

ARTIFACT_NAME = "artifact.zip"
FLOW_SPEC_FILE = "flow_spec.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "manifest.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: the zip's absolute path and the metadata written into it."""

    artifact_path: Path
    flow_name: str
    flow_version: str
    code_hash: str
    metadata: dict[str, Any]


def build_artifact(
    target: str,
    params: dict[str, str] | None,
    output_dir: Path | None,
    paths: DagyPaths,
) -> BuildResult:
    """Load ``<path>:<flow_fn>``, build its FlowSpec and write ``artifact.zip``.

    Written under ``<output_dir or paths.builds>/<flow_name>/<flow_name>-<stamp>-<hex>/``; nothing is
    created on disk until the flow has loaded and built.
    """
    raw_params = dict(params or {})
    flow = load_flow(target)
    path, flow_fn = split_target(target)
    source = Path(path).expanduser().resolve()  # the same file the loader imported
    spec = flow.build(**raw_params)
    code = source.read_bytes()
    code_hash = hashlib.sha256(code).hexdigest()
    entrypoint = f"{source.name}:{flow_fn}"
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)

    metadata: dict[str, Any] = {
        "name": spec.flow_name,
        "version": spec.flow_version,
        "entrypoint": entrypoint,
        "build_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python_version": platform.python_version(),
        "dagy_version": _dagy_version(),
        "dependencies": detect_dependencies(code),
        "code_hash": code_hash,
        "parameters": raw_params,
    }
    # The artifact is self-contained: its entrypoint names the copy of the source inside the zip.
    spec_json = replace(spec, entrypoint=entrypoint).to_json(indent=2)
    files = {
        FLOW_SPEC_FILE: spec_json.encode("utf-8"),
        METADATA_FILE: _json_bytes(metadata),
        source.name: code,
    }
    entries = [(name, files[name]) for name in sorted(files)]
    entries.append((MANIFEST_FILE, _json_bytes(manifest_for(entries))))

    root = Path(output_dir).expanduser().resolve() if output_dir is not None else paths.builds
    safe_name = _path_component(spec.flow_name)
    build_id = f"{safe_name}-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    artifact = root / safe_name / build_id / ARTIFACT_NAME
    try:
        _write_zip_atomically(artifact, entries, now)
    except OSError as exc:  # any of them (not found, permission, a file in the way): exit 74
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise OSError(f"Cannot write the artifact under {root}: {reason}") from None
    return BuildResult(
        artifact_path=artifact,
        flow_name=spec.flow_name,
        flow_version=spec.flow_version,
        code_hash=code_hash,
        metadata=metadata,
    )


def manifest_for(entries: list[tuple[str, bytes]]) -> dict[str, Any]:
    """``{"files": [{"path", "size", "sha256"}, ...]}`` for the given zip entries, in their order."""
    return {
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in entries
        ]
    }


def detect_dependencies(source: str | bytes) -> list[dict[str, str]]:
    """Installed third-party distributions the source imports (stdlib, dagy and local modules skipped).

    Every absolute import counts, including ones inside function bodies: a task that imports lazily
    still needs its package wherever the artifact runs.
    """
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.partition(".")[0])
    modules -= set(sys.stdlib_module_names)
    modules.discard("dagy")
    if not modules:  # only the stdlib and dagy: no need to map every installed distribution
        return []
    import importlib.metadata as md  # here: it imports email, ~5 ms

    by_module = md.packages_distributions()  # reads every installed distribution: ~50-90 ms
    names = {dist for module in modules for dist in by_module.get(module, [])}
    found: dict[str, dict[str, str]] = {}
    for name in sorted(names, key=str.lower):
        key = _canonical(name)
        if key == "dagy" or key in found:
            continue
        try:
            found[key] = {"name": name, "version": md.version(name)}
        except md.PackageNotFoundError:  # listed by a stale .dist-info; nothing to pin
            continue
    return list(found.values())


def _dagy_version() -> str:
    from dagy import __version__

    return __version__


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _path_component(name: str) -> str:
    """A flow name made safe as one directory name (no separators, never '.' or '..')."""
    return _UNSAFE.sub("_", name).strip(".") or "flow"


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode("utf-8")


def _write_zip_atomically(dest: Path, entries: list[tuple[str, bytes]], when: _dt.datetime) -> None:
    """Write to a temporary name beside ``dest`` and rename, so a failure leaves no partial zip."""
    build_dir = dest.parent
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = build_dir / f".{dest.name}.{secrets.token_hex(4)}.part"
    stamp = when.timetuple()[:6]
    try:
        with open(tmp, "xb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in entries:
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # unique to this build; rmdir only succeeds when empty
            build_dir.rmdir()
        raise
