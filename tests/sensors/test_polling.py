"""The pure parts of polling sensors: config checks, what counts as an observation, fingerprints,
and a module:function check called in a child process."""

from __future__ import annotations

import pytest

from dagy.errors import InvalidInputError
from dagy.sensors import polling, webhook


def test_fingerprints_are_stable_across_key_order_and_tell_values_apart():
    assert polling.fingerprint({"a": 1, "b": 2}) == polling.fingerprint({"b": 2, "a": 1})
    assert polling.fingerprint(1) != polling.fingerprint("1")


@pytest.mark.parametrize(
    ("returns", "observed"),
    [
        ("None", None),
        ("False", None),
        ("0", None),
        ("''", None),
        ("[]", None),
        ("{'v': 2}", {"v": 2}),
    ],
)
def test_a_check_observes_only_truthy_values(tmp_path, returns, observed):
    check = tmp_path / f"check_{abs(hash(returns))}.py"
    check.write_text(f"def f():\n    print('ignored')\n    return {returns}\n")
    assert polling.call_check(f"{check}:f", timeout=30) == observed


def test_a_check_that_raises_or_hangs_is_a_check_error(tmp_path):
    check = tmp_path / "bad.py"
    check.write_text(
        "import time\ndef boom():\n    raise ValueError('nope')\ndef hang():\n    time.sleep(30)\n"
    )
    with pytest.raises(polling.CheckError, match="ValueError: nope"):
        polling.call_check(f"{check}:boom", timeout=30)
    with pytest.raises(polling.CheckError, match="longer than 0.5s"):
        polling.call_check(f"{check}:hang", timeout=0.5)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "config_json.url"),
        ({"url": "http://x", "json_field": "a..b"}, "config_json.json_field"),
        ({"url": "http://x", "expect_status": 99}, "config_json.expect_status"),
        ({"check": "m:f", "expect_status": 200}, "config_json.expect_status"),
        ({"url": "http://x", "timeout_seconds": 0}, "config_json.timeout_seconds"),
        ({"url": "http://x", "payload_param": "not an identifier"}, "config_json.payload_param"),
    ],
)
def test_bad_polling_configs_name_the_field(config, field):
    with pytest.raises(InvalidInputError) as caught:
        polling.check_config(config)
    assert field in caught.value.details


def test_a_webhook_token_is_long_random_and_its_hint_does_not_reveal_it():
    token = webhook.new_token()
    assert token.startswith("wh_") and len(token) == 46 and token != webhook.new_token()
    hint = webhook.hint(token)
    assert hint == token[:7] + "***" and token[7:] not in hint
    assert webhook.hash_token(token) != token and len(webhook.hash_token(token)) == 64
