"""The ArtifactStore contract on S3 (dagy/artifacts/base.py), through boto3.

- Multipart uploads use S3's own: ``initiate`` creates the upload and presigns one ``upload_part``
  URL per part, so clients send the bytes straight to S3 and the server never carries them.
- The upload goes to a staging key (``<key>.incoming/<token>``) and becomes visible at ``key`` only
  after ``complete`` has checked it (a server-side copy): a refused artifact never replaces the one
  there. The token travels in the ``upload_id`` handed to the client: ``<token>.<S3 upload id>``.
- The endpoint comes from boto3's own configuration (``AWS_ENDPOINT_URL``, profiles), so moto or
  MinIO on loopback work like AWS.
"""

from __future__ import annotations

import secrets
import tempfile
import urllib.parse
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dagy.artifacts.base import ArtifactCheck, Part, Upload, check_key, plan_parts, unquote_etag
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, RequestError
from dagy_s3.bucket import resolve_bucket

STAGING = ".incoming/"


class S3Unavailable(RequestError):
    """S3 refused or could not be reached (a bucket that does not exist, no credentials)."""

    status, error = 502, "artifact_store_unavailable"


def _client_error(exc: Exception) -> RequestError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    if code in ("NoSuchUpload", "NoSuchKey", "404"):
        return NotFoundError(f"Not found in S3: {code}")
    if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
        return InvalidInputError(f"S3 refused the parts: {code}", {"parts": code})
    return S3Unavailable(f"S3 error: {code}: {exc}")


class S3ArtifactStore:
    """Artifacts as S3 objects, ``s3://<bucket>/<key>``."""

    name = "s3"
    schemes = ("s3",)

    def __init__(
        self,
        paths: DagyPaths | None = None,
        *,
        bucket: str | None = None,
        **future_kwargs: Any,  # api_url, ...: meaningful to other stores only
    ) -> None:
        self.paths = paths or DagyPaths.from_env()
        self._bucket = bucket
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.session.Session().client("s3")
        return self._client

    @property
    def bucket(self) -> str:
        """Resolved on first use: fetching by URI never needs STS."""
        if self._bucket is None:
            self._bucket = resolve_bucket(None)
        return self._bucket

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            raise _client_error(exc) from None
        except BotoCoreError as exc:
            raise S3Unavailable(f"S3 is unreachable: {exc}") from None

    # -- whole objects ----------------------------------------------------------------------------

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{check_key(key)}"

    def put_file(self, key: str, path: Path) -> str:
        from boto3.exceptions import S3UploadFailedError

        try:  # boto3's managed transfer: multipart above 8 MB, parts in parallel
            self.client.upload_file(str(path), self.bucket, check_key(key))
        except S3UploadFailedError as exc:
            raise S3Unavailable(f"S3 upload failed: {exc}") from None
        return self.uri(key)

    def fetch(self, uri: str, dest_dir: Path) -> Path:
        bucket, key = _split(uri)
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / key.rsplit("/", 1)[-1]
        body = self._call("get_object", Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as out:
            for chunk in body.iter_chunks(1024 * 1024):
                out.write(chunk)
        return target

    def read(self, uri: str) -> bytes:
        """The bytes of a small object (task inputs and results of remote executors)."""
        bucket, key = _split(uri)
        return bytes(self._call("get_object", Bucket=bucket, Key=key)["Body"].read())

    def write(self, uri: str, data: bytes) -> str:
        bucket, key = _split(uri)
        self._call("put_object", Bucket=bucket, Key=key, Body=data)
        return uri

    def download_url(self, key: str, expires_in: int) -> str:
        """A presigned GET of the object at ``key``, valid ``expires_in`` seconds (exception
        traces' downloads: the bytes go from S3 to the client, not through the server)."""
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        return str(
            self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        )

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=check_key(key))
        except NotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=check_key(key))

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (staging objects of unfinished uploads left out)."""
        keys: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            keys += [o["Key"] for o in page.get("Contents", []) if STAGING not in o["Key"]]
        return keys

    # -- multipart uploads ------------------------------------------------------------------------

    def initiate(self, key: str, file_size: int, part_size: int, expires_in: int) -> Upload:
        check_key(key)
        plan = plan_parts(file_size, part_size)
        token = secrets.token_hex(8)
        staging = _staging(key, token)
        created = self._call(
            "create_multipart_upload",
            Bucket=self.bucket,
            Key=staging,
            ContentType="application/zip",
        )
        upload_id = created["UploadId"]
        parts = [
            Part(
                number,
                self.client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self.bucket,
                        "Key": staging,
                        "UploadId": upload_id,
                        "PartNumber": number,
                    },
                    ExpiresIn=expires_in,
                ),
                size,
            )
            for number, size in plan
        ]
        expires = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=expires_in)
        return Upload(f"{token}.{upload_id}", parts, expires)

    def complete(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        check: ArtifactCheck | None = None,
    ) -> str:
        token, s3_id = _upload(upload_id)
        staging = _staging(check_key(key), token)
        ordered = sorted(parts)
        if [n for n, _ in ordered] != list(range(1, len(ordered) + 1)):
            raise InvalidInputError(
                "Parts must be numbered 1..n without gaps", {"parts": "missing part"}
            )
        self._call(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=staging,
            UploadId=s3_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": f'"{unquote_etag(e)}"'} for n, e in ordered]
            },
        )
        try:
            if check is not None:
                with tempfile.TemporaryDirectory(prefix="dagy-s3-") as scratch:
                    check(self.fetch(f"s3://{self.bucket}/{staging}", Path(scratch)))
            self._call(
                "copy_object",
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": staging},
            )
        finally:
            self._call("delete_object", Bucket=self.bucket, Key=staging)
        return self.uri(key)

    def abort(self, key: str, upload_id: str) -> None:
        token, s3_id = _upload(upload_id)
        staging = _staging(check_key(key), token)
        self._call("abort_multipart_upload", Bucket=self.bucket, Key=staging, UploadId=s3_id)


def _staging(key: str, token: str) -> str:
    return f"{key}{STAGING}{token}"


def _upload(upload_id: str) -> tuple[str, str]:
    token, sep, s3_id = str(upload_id).partition(".")
    if not sep or not token or not s3_id:
        raise NotFoundError(f"Upload not found: {upload_id}", {"upload_id": upload_id})
    return token, s3_id


def _split(uri: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise InvalidInputError(f"Not an S3 URI: {uri}", {"uri": "s3://<bucket>/<key>"})
    return parts.netloc, key
