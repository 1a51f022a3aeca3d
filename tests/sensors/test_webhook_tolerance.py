"""The 5-minute tolerance of a signed webhook delivery, at its edges, on a fixed clock (the
server test, tests/server/test_api_sensors.py, sends deliveries 10 minutes off: a real clock and
a loaded machine cannot test a 1-second edge)."""

from __future__ import annotations

import pytest

from dagy.errors import AuthenticationError
from dagy.sensors.webhook import TOLERANCE_SECONDS, sign, verify

SECRET = "a-secret-0123456789"
BODY = b'{"event": "push"}'
NOW = 1_800_000_000.0


def headers(stamp: int, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-dagy-timestamp": str(stamp),
        "x-dagy-signature": sign(secret, str(stamp), BODY),
    }


@pytest.mark.parametrize("offset", [0, -TOLERANCE_SECONDS, TOLERANCE_SECONDS])
def test_a_delivery_up_to_5_minutes_off_is_accepted(offset: int):
    verify(SECRET, headers(int(NOW) + offset), BODY, now=NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1])
def test_a_delivery_more_than_5_minutes_off_is_refused(offset: int):
    with pytest.raises(AuthenticationError, match="Stale or future X-Dagy-Timestamp"):
        verify(SECRET, headers(int(NOW) + offset), BODY, now=NOW)


def test_the_tolerance_is_5_minutes():
    assert TOLERANCE_SECONDS == 300
