"""The built-in artifact store: files under ``<home>/artifact-store/<key>``, URIs ``file:///...``.

Multipart uploads imitate S3's presigned URLs with `dagy serve` as the S3: each part URL is
``<api_url>/artifacts/uploads/<upload_id>/parts/<n>?expires=<unix>&signature=<hex>``, the signature
an HMAC-SHA256 of ``upload_id|n|expires`` under a secret kept 0600 in the home (so URLs outlive a
server restart until they expire). Parts wait in ``<home>/uploads/<upload_id>/`` until completed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from dagy.artifacts.base import (
    ArtifactCheck,
    ArtifactStoreNotConfigured,
    Part,
    Upload,
    check_key,
    plan_parts,
    unquote_etag,
)
from dagy.config.paths import DagyPaths
from dagy.errors import ConfigError, InvalidInputError, NotFoundError, PermissionDeniedError

SIGNING_KEY_FILE = "artifact-signing.key"
RECORD = "upload.json"
STALE_AFTER = 24 * 3600  # an upload left this long after its URLs expired is swept
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UploadRecord:
    """What ``upload.json`` remembers about an upload in progress."""

    upload_id: str
    key: str
    file_size: int
    part_sizes: list[int]  # part n is part_sizes[n - 1] bytes
    expires: int  # unix time the part URLs stop working

    def to_json(self) -> str:
        return json.dumps(
            {
                "upload_id": self.upload_id,
                "key": self.key,
                "file_size": self.file_size,
                "part_sizes": self.part_sizes,
                "expires": self.expires,
            }
        )


class LocalArtifactStore:
    """Artifacts as plain files in the Dagy home; parts uploaded through `dagy serve`."""

    name = "local"
    schemes = ("file",)

    def __init__(
        self,
        paths: DagyPaths | None = None,
        *,
        api_url: str | None = None,
        root: Path | None = None,  # another folder than the home's (an s3 sensor's "bucket")
        **future_kwargs: Any,  # bucket, ...: meaningful to other stores only
    ) -> None:
        self.paths = paths or DagyPaths.from_env()
        self.root = Path(root) if root is not None else self.paths.home / "artifact-store"
        self.uploads = self.paths.home / "uploads"
        self.api_url = (api_url or "").rstrip("/")

    # -- whole files ------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()

    def put_file(self, key: str, path: Path) -> str:
        target = self.path(key)
        with _staged(target) as (tmp, out), open(path, "rb") as src:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        return target.as_uri()

    def fetch(self, uri: str, dest_dir: Path) -> Path:
        source = self._path_of(uri)
        if not source.is_file():
            raise NotFoundError(f"Artifact not found: {uri}")
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(source, dest / source.name))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str = "") -> list[str]:
        """Files under the root as keys; names starting with '.' (files being written) are not."""
        if not self.root.is_dir():
            return []
        keys = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).parts
            if path.is_file() and not any(part.startswith(".") for part in rel):
                key = "/".join(rel)
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def _path_of(self, uri: str) -> Path:
        """The file a ``file://`` URI names, which must be inside this store."""
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise InvalidInputError(f"Not a local artifact URI: {uri}", {"uri": "file:///..."})
        path = Path(urllib.request.url2pathname(parts.path)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidInputError(
                f"Artifact URI is outside the artifact store {self.root}: {uri}", {"uri": "outside"}
            )
        return path

    # -- multipart uploads ------------------------------------------------------------------------

    def initiate(self, key: str, file_size: int, part_size: int, expires_in: int) -> Upload:
        check_key(key)
        plan = plan_parts(file_size, part_size)
        if not self.api_url:
            raise ArtifactStoreNotConfigured(
                "Artifact storage not configured: the local store needs the server's API URL"
            )
        self.sweep()
        record = UploadRecord(
            upload_id=secrets.token_hex(16),
            key=key,
            file_size=file_size,
            part_sizes=[size for _, size in plan],
            expires=int(time.time()) + max(1, int(expires_in)),
        )
        folder = self.uploads / record.upload_id
        self.paths.ensure_home()
        folder.mkdir(mode=0o700, parents=True)
        (folder / RECORD).write_text(record.to_json(), encoding="utf-8")
        return Upload(
            upload_id=record.upload_id,
            parts=[Part(n, self.part_url(record.upload_id, n, record.expires), s) for n, s in plan],
            expires_at=_dt.datetime.fromtimestamp(record.expires, _dt.timezone.utc).replace(
                tzinfo=None
            ),
        )

    def part_url(self, upload_id: str, part_number: int, expires: int) -> str:
        query = urllib.parse.urlencode(
            {"expires": expires, "signature": self.signature(upload_id, part_number, expires)}
        )
        return f"{self.api_url}/artifacts/uploads/{upload_id}/parts/{part_number}?{query}"

    def complete(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        check: ArtifactCheck | None = None,
    ) -> str:
        record = self.record(upload_id, key)
        numbers = [n for n, _ in parts]
        expected = list(range(1, len(record.part_sizes) + 1))
        if numbers != expected:
            raise InvalidInputError(
                f"parts must list every part, 1 to {len(expected)}, in order",
                {"parts": f"part numbers 1..{len(expected)}"},
            )
        folder = self.uploads / upload_id
        target = self.path(key)
        with _staged(target) as (tmp, out):
            for (number, etag), size in zip(parts, record.part_sizes, strict=True):
                digest = _append_part(folder / _part_name(number), number, size, out)
                if digest != unquote_etag(etag):
                    raise InvalidInputError(
                        f'ETag mismatch for part {number}: expected "{digest}", got {etag}',
                        {"parts": f"part {number}: wrong etag"},
                    )
            out.flush()
            os.fsync(out.fileno())
            if out.tell() != record.file_size:  # cannot differ when every part has its size
                raise InvalidInputError(
                    f"Artifact is {out.tell()} bytes, expected {record.file_size}",
                    {"file_size": "mismatch"},
                )
            out.close()
            if check is not None:
                check(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        return target.as_uri()

    def abort(self, key: str, upload_id: str) -> None:
        self.record(upload_id, key)
        shutil.rmtree(self.uploads / upload_id, ignore_errors=True)

    def record(self, upload_id: str, key: str | None = None) -> UploadRecord:
        """The upload in progress (for ``key``, when given); NotFoundError otherwise."""
        missing = NotFoundError(f"Upload not found: {upload_id}")
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise missing
        try:
            data = json.loads((self.uploads / upload_id / RECORD).read_text(encoding="utf-8"))
            record = UploadRecord(**data)
        except (OSError, ValueError, TypeError):
            raise missing from None
        if key is not None and record.key != key:
            raise missing
        return record

    def sweep(self, now: float | None = None) -> None:
        """Remove uploads abandoned long ago (their URLs expired more than STALE_AFTER ago)."""
        now = time.time() if now is None else now
        with contextlib.suppress(FileNotFoundError):
            for folder in self.uploads.iterdir():
                try:
                    expires = self.record(folder.name).expires
                except NotFoundError:
                    expires = int(folder.stat().st_mtime)
                if expires + STALE_AFTER < now:
                    shutil.rmtree(folder, ignore_errors=True)

    # -- the part PUT (served by `dagy serve`) ----------------------------------------------------

    def verify_part_url(
        self, upload_id: str, part_number: int, expires: str, signature: str
    ) -> None:
        """403 unless the query was signed here for this part and has not expired."""
        wanted = self.signature(upload_id, part_number, expires)
        # bytes: compare_digest refuses a str with non-ASCII characters (a 500, not the 403)
        if not hmac.compare_digest(wanted.encode(), str(signature or "").encode()):
            raise PermissionDeniedError("Invalid upload URL signature")
        if not expires.isdigit() or int(expires) < time.time():
            raise PermissionDeniedError("Upload URL expired")

    def signature(self, upload_id: str, part_number: int, expires: int | str) -> str:
        message = f"{upload_id}|{part_number}|{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def part_writer(self, upload_id: str, part_number: int) -> PartWriter:
        record = self.record(upload_id)
        if not 1 <= part_number <= len(record.part_sizes):
            raise NotFoundError(f"Upload {upload_id} has no part {part_number}")
        return PartWriter(self.uploads / upload_id, part_number, record.part_sizes[part_number - 1])

    @cached_property
    def _secret(self) -> bytes:
        return signing_key(self.paths)


class PartWriter:
    """Receives one part: checks its size as bytes arrive, hashes it, and renames it into place."""

    def __init__(self, folder: Path, part_number: int, size: int) -> None:
        self.part_number = part_number
        self.size = size
        self.target = folder / _part_name(part_number)
        self._tmp = folder / f".{self.target.name}.{secrets.token_hex(4)}.tmp"
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._written = 0
        try:
            self._out: IO[bytes] = open(self._tmp, "xb")  # noqa: SIM115 - closed in finish/discard
        except FileNotFoundError:  # the upload was completed or aborted meanwhile
            raise NotFoundError(f"Upload not found: {folder.name}") from None

    def write(self, chunk: bytes) -> None:
        if self._written + len(chunk) > self.size:
            raise self.wrong_size(f"more than {self.size}")
        self._out.write(chunk)
        self._md5.update(chunk)
        self._written += len(chunk)

    def finish(self) -> str:
        """The part's ETag (quoted md5 hex) once all of it arrived; 400 when it is short."""
        if self._written != self.size:
            raise self.wrong_size(str(self._written))
        self._out.close()
        try:
            os.replace(self._tmp, self.target)
        except FileNotFoundError:
            raise NotFoundError(f"Upload not found: {self.target.parent.name}") from None
        return f'"{self._md5.hexdigest()}"'

    def discard(self) -> None:
        self._out.close()
        self._tmp.unlink(missing_ok=True)

    def wrong_size(self, got: str) -> InvalidInputError:
        return InvalidInputError(
            f"Part {self.part_number} must be {self.size} bytes, got {got}",
            {"part": f"{self.size} bytes"},
        )


def signing_key(paths: DagyPaths) -> bytes:
    """The home's URL-signing secret, created once (0600) by whichever process needs it first."""
    path = paths.home / SIGNING_KEY_FILE
    if not path.exists():
        paths.ensure_home()
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # never replaces a key another process created meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ConfigError(f"Artifact signing key {path} is too short; delete it to make a new one")
    return key.encode("ascii")


def _part_name(number: int) -> str:
    return f"part-{number:05d}"


def _append_part(path: Path, number: int, size: int, out: IO[bytes]) -> str:
    """Copy one received part onto ``out``; its md5 hex. 400 when missing or of the wrong size."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as src:
            if os.fstat(src.fileno()).st_size != size:
                raise InvalidInputError(
                    f"Part {number} has the wrong size (expected {size} bytes)",
                    {"parts": f"part {number}: wrong size"},
                )
            while chunk := src.read(_COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except FileNotFoundError:
        raise InvalidInputError(
            f"Part {number} was not uploaded", {"parts": f"part {number}: missing"}
        ) from None
    return digest.hexdigest()


@contextlib.contextmanager
def _staged(target: Path) -> Any:
    """A temp file beside ``target``, renamed over it when the block succeeds, removed otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    out = open(tmp, "xb")  # noqa: SIM115 - closed below
    try:
        yield tmp, out
        out.close()
        os.replace(tmp, target)
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
