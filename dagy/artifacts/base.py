"""The artifact-store interface: where deployment artifacts (``dagy build`` zips) live.

A store keeps whole files under keys (``dagy/flows/<org>/<flow>/<version>/artifact.zip``) and names
each with a URI (``file:///...`` for the built-in local store, ``s3://bucket/key`` for the S3
plugin). Large artifacts arrive by multipart upload: ``initiate`` hands out one presigned URL per
part, the client PUTs each part there, and ``complete`` reassembles them — S3's protocol, which the
local store reproduces with URLs that point at `dagy serve` itself.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dagy.errors import InvalidInputError, RequestError

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB  # S3's maximum
MAX_PARTS = 10_000
DEFAULT_URL_TTL = 3600  # seconds a part URL stays valid


class ArtifactStoreNotConfigured(RequestError):
    """``DAGY_ARTIFACT_STORE`` names no installed store (the spec's 500 for initiate)."""

    status, error = 500, "artifact_store_not_configured"


@dataclass(frozen=True)
class Part:
    """One part of a multipart upload: PUT exactly ``size`` bytes to ``url``."""

    part_number: int
    url: str
    size: int


@dataclass(frozen=True)
class Upload:
    """An initiated multipart upload; part URLs stop working at ``expires_at`` (UTC, naive)."""

    upload_id: str
    parts: list[Part]
    expires_at: _dt.datetime


# Called by ``complete`` with a local copy of the reassembled artifact before it becomes visible at
# its key; raising refuses it (the previous object at the key, if any, stays).
ArtifactCheck = Callable[[Path], None]


@runtime_checkable
class ArtifactStore(Protocol):
    """What every artifact store implements (built in: ``local``; plugins: ``s3``, ...).

    Stores are constructed as ``cls(paths=..., api_url=..., bucket=..., **future_kwargs)``: accept
    and ignore keywords you do not use, so new ones can be added without breaking plugins.
    """

    name: str
    schemes: tuple[str, ...]  # the URI schemes this store fetches (``file``, ``s3``)

    def uri(self, key: str) -> str:
        """The URI the object at ``key`` has (or will have)."""
        ...

    def put_file(self, key: str, path: Path) -> str:
        """Store the file at ``path`` under ``key`` in one go; returns its URI."""
        ...

    def fetch(self, uri: str, dest_dir: Path) -> Path:
        """Download the object at ``uri`` into ``dest_dir`` (created if missing); the local file."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> list[str]:
        """The keys of the objects whose key starts with ``prefix`` ("" for all), sorted: what an
        s3 sensor watches (the S3 plugin's implementation came first; this is its signature)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object at ``key``; a missing object is not an error."""
        ...

    def initiate(self, key: str, file_size: int, part_size: int, expires_in: int) -> Upload:
        """Start a multipart upload of ``file_size`` bytes to ``key`` in parts of ``part_size``."""
        ...

    def complete(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        check: ArtifactCheck | None = None,
    ) -> str:
        """Reassemble ``parts`` ((part_number, etag), every part in order) at ``key``; its URI.

        An unknown upload is a NotFoundError, a missing part, a wrong ETag or a wrong total size an
        InvalidInputError.
        """
        ...

    def abort(self, key: str, upload_id: str) -> None:
        """Drop an upload and the parts received so far; an unknown upload is a NotFoundError."""
        ...


def plan_parts(file_size: int, part_size: int | None) -> list[tuple[int, int]]:
    """``[(part_number, size), ...]`` for a file; 400 when the sizes cannot make a valid upload."""
    size = DEFAULT_PART_SIZE if part_size is None else part_size
    if isinstance(file_size, bool) or not isinstance(file_size, int) or file_size <= 0:
        raise InvalidInputError(
            "file_size must be a positive number of bytes", {"file_size": "must be > 0"}
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_PART_SIZE:
        raise InvalidInputError(
            f"part_size must be at least {MIN_PART_SIZE} bytes (5 MB)",
            {"part_size": f"at least {MIN_PART_SIZE}"},
        )
    if size > MAX_PART_SIZE:
        raise InvalidInputError(
            f"part_size must be at most {MAX_PART_SIZE} bytes (5 GB)",
            {"part_size": f"at most {MAX_PART_SIZE}"},
        )
    count = -(-file_size // size)
    if count > MAX_PARTS:
        raise InvalidInputError(
            f"Too many parts: {count} (at most {MAX_PARTS}); use a larger part_size",
            {"part_size": f"file_size / part_size must be at most {MAX_PARTS}"},
        )
    return [(n, min(size, file_size - (n - 1) * size)) for n in range(1, count + 1)]


def check_key(key: str) -> str:
    """A key is relative '/'-separated segments, none empty, '.' or '..' (it becomes a path)."""
    parts = key.split("/") if isinstance(key, str) else []
    if not parts or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise InvalidInputError(f"Invalid artifact key: {key!r}", {"artifact_key": "invalid"})
    return key


def quote_etag(md5_hex: str) -> str:
    return f'"{md5_hex}"'


def unquote_etag(etag: str) -> str:
    """S3 and HTTP quote ETags; clients pass them back either way."""
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"').lower()
