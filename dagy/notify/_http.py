"""One JSON POST with the standard library (httpx would cost the server nothing, but the senders
need nothing it adds): a 2xx is a success, anything else an outcome that says why."""

from __future__ import annotations

import urllib.error
import urllib.request

from dagy import egress
from dagy.notify.base import Outcome

USER_AGENT = "dagy-notify/1"


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with egress.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return Outcome(200 <= response.status < 300, response.status)
    except urllib.error.HTTPError as exc:
        return Outcome(False, exc.code, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return Outcome(False, None, f"cannot connect: {exc.reason}")
    except (OSError, ValueError) as exc:  # a timeout while reading, a reset connection
        return Outcome(False, None, f"{type(exc).__name__}: {exc}")
