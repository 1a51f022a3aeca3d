"""Helpers of the S3 plugin's tests."""

from __future__ import annotations

import urllib.request
from typing import Any


def multipart_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def put_part(url: str, data: bytes) -> str:
    """What `dagy deploy` does with a part URL: PUT the bytes, keep the ETag."""
    req = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return str(resp.headers["ETag"])
