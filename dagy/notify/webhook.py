"""A custom webhook: the notification as JSON, signed so the receiver can tell it came from Dagy.

``X-Dagy-Timestamp`` is the Unix time of the attempt; ``X-Dagy-Signature`` is ``sha256=`` and the
hex HMAC-SHA256, under the channel's ``secret``, of ``<timestamp>.`` followed by the exact body
bytes. Signing the timestamp lets a receiver refuse replays of old deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from dagy.notify import _http as http
from dagy.notify.base import Context, Field, Outcome

FIELDS = (
    Field("url", "url", required=True),
    Field("secret", "text", required=True, secret=True),
)
SIGNATURE_HEADER = "X-Dagy-Signature"
TIMESTAMP_HEADER = "X-Dagy-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send(config: dict[str, Any], notification: dict[str, Any], context: Context) -> Outcome:
    data = json.dumps(notification, sort_keys=True).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Dagy-Event": str(notification.get("event", "")),
        "X-Dagy-Delivery": context.delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(config["secret"], stamp, data),
    }
    return http.post(config["url"], data, headers, context.timeout)
