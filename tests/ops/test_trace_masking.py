"""What a trace never holds: each kind of secret text dagy/services/traces.py masks."""

from __future__ import annotations

import pytest

from dagy.engine import _capture
from dagy.services import traces


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer dat_0123456789abcdef", "dat_0123456789abcdef"),
        ("key dagy_live_0123456789abcdef was refused", "dagy_live_0123456789abcdef"),
        ("stripe sk_live_0123456789abcdef", "sk_live_0123456789abcdef"),
        ("signing whsec_0123456789abcdef", "whsec_0123456789abcdef"),
        ("aws AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "eyJzdWIiOiJ4In0"),
        ("postgres://app:pa55word@db:5432/x", "pa55word"),
        ("password=hunter2hunter2", "hunter2hunter2"),
        ('{"api_key": "k-123456789"}', "k-123456789"),
        ("POST /v1/webhooks/whk_0123456789", "whk_0123456789"),
    ],
)
def test_credential_shaped_text_is_masked(text, secret):
    masked = traces.mask(text)
    assert secret not in masked and "****" in masked


def test_values_registered_by_dagy_secret_and_env_credentials_are_masked(monkeypatch):
    _capture.register_secret("registered-value-42")
    monkeypatch.setenv("PARTNER_API_TOKEN", "partner-credential-7")
    monkeypatch.setenv("DAGY_TOKEN_TTL_SECONDS", "43200")  # a number: not a credential
    masked = traces.mask("registered-value-42 partner-credential-7 ttl 43200")
    assert masked == "**** **** ttl 43200"


def test_a_trace_masks_its_message_stack_and_path():
    try:
        raise RuntimeError("boom with the-callers-token-xyz")
    except RuntimeError as exc:
        trace = traces.build(
            "server",
            traces.Where(method="GET", path="/v1/runs"),
            exc=exc,
            secrets=["the-callers-token-xyz"],
        )
    assert trace["exception"] == {"type": "RuntimeError", "message": "boom with ****"}
    assert "the-callers-token-xyz" not in trace["stack"] and "RuntimeError" in trace["stack"]
    assert traces.check_key(trace["key"]) == trace["key"]
