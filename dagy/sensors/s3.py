"""s3 sensors: new keys under ``bucket``/``prefix``, listed through the artifact-store interface.

The store is ``DAGY_SENSOR_STORE`` (else ``DAGY_ARTIFACT_STORE``, else ``local``). For the
built-in local store a bucket is a folder: ``<DAGY_SENSOR_BUCKETS_ROOT>/<bucket>`` (default
``<home>/buckets/<bucket>``), its files' relative paths the keys. Other stores (the S3 plugin) get
the bucket as their ``bucket`` option. Only new keys are seen: ``events`` is accepted for the
spec's ``s3:ObjectCreated:*`` and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

from dagy.artifacts.base import ArtifactStore
from dagy.config.paths import DagyPaths
from dagy.sensors import _config

KEYS = frozenset({"bucket", "prefix", "events", "interval_seconds"})
# S3's bucket names (also safe as one folder name for the local store).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEYS_PER_CHECK = 100  # new keys fired per look; the rest wait for the next one


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    _config.known_keys(config, KEYS)
    _config.payload_param(config)
    _config.interval(config)
    bucket = _config.string(config, "bucket", required=True)
    if not _BUCKET.match(bucket or "") or ".." in (bucket or ""):
        raise _config.invalid("bucket", "must be an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    prefix = config.get("prefix", "")
    if not isinstance(prefix, str) or len(prefix) > 1024 or prefix.startswith("/"):
        raise _config.invalid("prefix", "must be a key prefix (a string not starting with '/')")
    events = config.get("events", ["s3:ObjectCreated:*"])
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e.startswith("s3:ObjectCreated:") for e in events)
    ):
        raise _config.invalid("events", "must list s3:ObjectCreated:* events (the ones seen)")
    return config


def bucket_store(paths: DagyPaths, bucket: str) -> ArtifactStore:
    from dagy.artifacts import get_store
    from dagy.artifacts.local import LocalArtifactStore
    from dagy.config import settings

    name = settings.SENSOR_STORE.get() or settings.ARTIFACT_STORE.get()
    if name == "local":
        root = settings.SENSOR_BUCKETS_ROOT.get()
        folder = Path(root) if root else paths.home / "buckets"
        return cast(ArtifactStore, LocalArtifactStore(paths, root=folder / bucket))
    return get_store(name, paths=paths, bucket=bucket)


class ListError(Exception):
    """The bucket could not be listed (missing, unreachable, no permission)."""


def list_keys(paths: DagyPaths, config: dict[str, Any]) -> list[str]:
    """The keys under the sensor's prefix, sorted; ListError when the store cannot say."""
    try:
        store = bucket_store(paths, str(config["bucket"]))
        return sorted(store.list_keys(str(config.get("prefix", ""))))
    except Exception as exc:  # a plugin's own errors (botocore's, ...) end here, named
        message = getattr(exc, "message", None) or str(exc)
        raise ListError(
            f"bucket {config['bucket']} cannot be listed: {type(exc).__name__}: {message}"
        ) from None
