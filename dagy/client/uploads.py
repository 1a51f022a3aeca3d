"""Multipart artifact upload through the API: initiate, PUT each part to its URL, complete.

The part URLs are presigned (S3's, or `dagy serve`'s own for the local store), so parts carry no
bearer token. Standard library only, like the rest of dagy.client.
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagy.client.http import USER_AGENT, DagyClient, _error_message
from dagy.errors import APIError

PART_TIMEOUT = 300.0
PART_ATTEMPTS = 3
_RETRY_STATUSES = {429, 500, 502, 503, 504}


def upload_artifact(
    client: DagyClient,
    artifact: Path,
    initiate: dict[str, Any],
    complete: dict[str, Any],
    *,
    on_part: Callable[[int, int], None] | None = None,
) -> Any:
    """Upload ``artifact`` and return ``POST /artifacts/complete``'s body.

    ``initiate`` and ``complete`` are the two request bodies without what the upload itself fills
    in (file_size; upload_id, artifact_key, parts). Any failure after initiate aborts the upload.
    """
    size = artifact.stat().st_size
    started = client.post("/artifacts/initiate", {**initiate, "file_size": size})
    upload = {"upload_id": started["upload_id"], "artifact_key": started["artifact_key"]}
    try:
        etags = []
        offset = 0
        with open(artifact, "rb") as src:
            for part in started["parts"]:
                src.seek(offset)
                data = src.read(int(part["size"]))
                etags.append(
                    {"part_number": part["part_number"], "etag": put_part(part["url"], data)}
                )
                offset += len(data)
                if on_part is not None:
                    on_part(int(part["part_number"]), len(started["parts"]))
        return client.post("/artifacts/complete", {**complete, **upload, "parts": etags})
    except BaseException:
        with contextlib.suppress(APIError):
            client.post("/artifacts/abort", upload)
        raise


def put_part(url: str, data: bytes, *, timeout: float = PART_TIMEOUT) -> str:
    """PUT one part to its presigned URL; its ETag. Retries rate limits and transient failures."""
    for attempt in range(1, PART_ATTEMPTS + 1):
        req = urllib.request.Request(
            url,
            data=data,
            method="PUT",
            headers={"Content-Type": "application/octet-stream", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) URLs
                etag = resp.headers.get("ETag")
            if not etag:
                raise APIError(0, f"Part upload to {_where(url)} returned no ETag")
            return str(etag)
        except urllib.error.HTTPError as exc:
            if exc.code not in _RETRY_STATUSES or attempt == PART_ATTEMPTS:
                raise APIError(exc.code, _error_message(exc)) from None
            time.sleep(_retry_after(exc.headers.get("Retry-After"), attempt))
        except OSError:  # refused, reset, timed out
            if attempt == PART_ATTEMPTS:
                raise APIError(0, f"Unable to upload a part to {_where(url)}.") from None
            time.sleep(_retry_after(None, attempt))
    raise AssertionError("unreachable")


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(30.0, max(0.0, float(header))) if header else 0.5 * 2**attempt
    except ValueError:
        return 0.5 * 2**attempt


def _where(url: str) -> str:
    """The URL without its query: a presigned URL's signature is a credential."""
    return url.split("?", 1)[0]
