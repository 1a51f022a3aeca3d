"""Billing on a real `dagy serve` whose Python cannot import stripe (a `stripe.py` that raises
ImportError first on PYTHONPATH, as on a server installed with the server extra only): the org's
plan still answers, checkout/portal/webhook are 503 in the spec's shape even with Stripe's keys
set, and the webhook never answers 5xx but 503, whatever it is sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.ops.support import OWNER, ROOT, assert_error, serve

SECRET = "whsec_ops_test_secret"
STRIPE_ENV = {"STRIPE_API_KEY": "sk_test_ops_not_real_123456", "STRIPE_WEBHOOK_SECRET": SECRET}


def without_stripe(folder: Path) -> dict[str, str]:
    """Environment in which `import stripe` fails in the server's process."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stripe.py").write_text("raise ImportError(\"No module named 'stripe'\")\n")
    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def no_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("nostripe")
    srv = serve(tmp / "home", env={**without_stripe(tmp / "shadow"), **STRIPE_ENV})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def with_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("withstripe")
    srv = serve(tmp / "home", env={"STRIPE_WEBHOOK_SECRET": SECRET})
    try:
        yield srv
    finally:
        srv.stop()


def signed(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    ts = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def webhook(srv: ServerProcess, payload: bytes, signature: str | None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    status, _, body = srv.request("POST", "/billing/webhook", raw=payload, headers=headers)
    return status, body


def test_the_subscription_is_the_orgs_local_plan_without_the_sdk(no_sdk):
    token = no_sdk.login(OWNER)
    status, _, body = no_sdk.request("GET", "/billing/subscription", token=token)
    assert status == 200, body
    assert body["plan"] == "free" and body["subscription_id"] is None
    assert body["limits"] == {
        "monthly_runs": 100,
        "monthly_tasks": 1000,
        "concurrent_runs": 2,
        "max_run_duration_seconds": 3600,
    }
    assert body["billing_email"] == ROOT and body["payment_method"] is None


def test_checkout_portal_and_webhook_are_503_without_the_sdk(no_sdk):
    token = no_sdk.login(OWNER)
    for path, body in (
        ("/billing/checkout", {"plan": "professional", "success_url": "https://e.x/s"}),
        ("/billing/portal", {"return_url": "https://example.com/settings"}),
    ):
        status, _, answer = no_sdk.request("POST", path, token=token, body=body)
        assert_error(status, answer, 503, "service_unavailable")
        assert "pip install 'dagy[billing]'" in answer["message"]
    payload = b'{"id": "evt_1", "type": "checkout.session.completed"}'
    status, answer = webhook(no_sdk, payload, signed(payload))
    assert_error(status, answer, 503, "service_unavailable")
    assert no_sdk.request("GET", "/billing/plans")[0] == 200
    log = no_sdk.stderr_path.read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log and STRIPE_ENV["STRIPE_API_KEY"] not in log


BAD_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b'{"id": 5}',
    b'{"id": "evt_x"}',
    b'{"id": "evt_y", "type": "checkout.session.completed", "data": []}',
    b'{"id": "evt_z", "type": "checkout.session.completed", "data": {"object": '
    b'{"client_reference_id": {"a": 1}, "metadata": "m", "customer": [1]}}}',
    b'{"id": "evt_w", "type": "customer.subscription.updated", "data": {"object": {"status": '
    b'"active", "current_period_start": 1e300, "current_period_end": -99999999999999, '
    b'"metadata": {"org_id": "personal"}, "items": {"data": [{"price": 7}]}, '
    b'"default_payment_method": {"card": {"exp_month": 99999999999, "last4": 4}}}}}',
    b'{"id": "evt_v", "type": "invoice.payment_failed", "data": {"object": {"metadata": '
    b'{"org_id": "personal"}}}}',
    b"{" * 5000,
]


@pytest.mark.parametrize("payload", BAD_BODIES)
def test_the_webhook_never_answers_5xx_whatever_it_is_sent(with_sdk, payload):
    for signature in (
        None,
        "",
        "garbage",
        "t=abc,v1=def",
        "t=1,v1=" + "0" * 64,
        signed(payload, "whsec_wrong"),
        signed(payload, at=1),
        signed(payload),
    ):
        status, body = webhook(with_sdk, payload, signature)
        assert status < 500, (payload[:60], signature, body)
        if status != 200:
            assert_error(status, body, status)
    log = with_sdk.stderr_path.read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log, log[-3000:]


def test_a_signed_event_is_applied_without_the_api_key(with_sdk):
    payload = json.dumps(
        {"id": "evt_ok_1", "type": "invoice.created", "data": {"object": {}}}
    ).encode()
    assert webhook(with_sdk, payload, signed(payload)) == (200, {"received": True})
