"""Artifact stores: where deployment artifacts live, found by entry point ``dagy.artifact_stores``.

``get_store()`` builds the configured one (``DAGY_ARTIFACT_STORE``, default ``local``);
``fetch(uri, dest_dir)`` downloads an artifact with whichever store handles the URI's scheme.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagy.artifacts.base import (
    DEFAULT_PART_SIZE,
    DEFAULT_URL_TTL,
    MAX_PARTS,
    MIN_PART_SIZE,
    ArtifactStore,
    ArtifactStoreNotConfigured,
    Part,
    Upload,
)
from dagy.config.paths import DagyPaths

GROUP = "dagy.artifact_stores"
DEFAULT_STORE = "local"


def _builtin() -> dict[str, type]:
    from dagy.artifacts.local import LocalArtifactStore

    return {"local": LocalArtifactStore}


def store_classes() -> dict[str, type]:
    """Every installed store by name: the built-in ones, then ``dagy.artifact_stores`` plugins."""
    from importlib.metadata import entry_points

    found = _builtin()
    for ep in entry_points(group=GROUP):
        if ep.name not in found:
            try:
                found[ep.name] = ep.load()
            except Exception:  # a broken plugin: left out here, named by `dagy plugins list`
                continue
    return found


def store_class(name: str) -> type:
    builtin = _builtin()
    if name in builtin:  # no entry-point scan for the common case
        return builtin[name]
    classes = store_classes()
    if name not in classes:
        raise ArtifactStoreNotConfigured(
            f"Artifact storage not configured: unknown artifact store '{name}' "
            f"(installed: {', '.join(sorted(classes))})",
            {"DAGY_ARTIFACT_STORE": name},
        )
    return classes[name]


def get_store(
    name: str | None = None,
    *,
    paths: DagyPaths | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> ArtifactStore:
    """The store named ``name`` or by ``DAGY_ARTIFACT_STORE`` (default ``local``).

    ``options`` (``api_url``, ``bucket``, ...) go to the store's constructor; ``bucket`` falls back
    to ``DAGY_ARTIFACT_BUCKET``.
    """
    from dagy.config import settings

    chosen = name or settings.ARTIFACT_STORE.get(environ) or DEFAULT_STORE
    if options.get("bucket") is None and settings.ARTIFACT_BUCKET.is_set(environ):
        options["bucket"] = settings.ARTIFACT_BUCKET.get(environ)
    store: ArtifactStore = store_class(chosen)(paths=paths or DagyPaths.from_env(), **options)
    return store


def fetch(uri: str, dest_dir: Path, *, paths: DagyPaths | None = None) -> Path:
    """Download the artifact at ``uri`` into ``dest_dir``; the local file's path.

    The store is the one whose ``schemes`` include the URI's (``file`` → local, ``s3`` → the S3
    plugin), whatever ``DAGY_ARTIFACT_STORE`` says: a flow version keeps the URI it was deployed to.
    """
    scheme = urllib.parse.urlsplit(uri).scheme
    classes = store_classes()
    for cls in classes.values():
        if scheme in getattr(cls, "schemes", ()):
            store: ArtifactStore = cls(paths=paths or DagyPaths.from_env())
            return store.fetch(uri, Path(dest_dir))
    raise ArtifactStoreNotConfigured(
        f"No artifact store installed for {scheme or 'a scheme-less'} URI: {uri} "
        f"(installed: {', '.join(sorted(classes))})",
        {"uri": uri},
    )


__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_STORE",
    "DEFAULT_URL_TTL",
    "GROUP",
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "ArtifactStore",
    "ArtifactStoreNotConfigured",
    "Part",
    "Upload",
    "fetch",
    "get_store",
    "store_class",
    "store_classes",
]
