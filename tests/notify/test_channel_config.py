"""A channel's config checked per type, split into shown and sealed fields, and masked."""

from __future__ import annotations

import pytest

from dagy.errors import InvalidInputError
from dagy.notify import TYPES, config


def check(channel_type: str, raw: object) -> tuple[dict, dict]:
    return config.check(TYPES[channel_type].FIELDS, raw)


def test_secret_fields_are_split_from_the_shown_ones_and_defaults_filled():
    public, secret = check("pagerduty", {"routing_key": "abcdefghijklmnop1234"})
    assert secret == {"routing_key": "abcdefghijklmnop1234"}
    assert public == {
        "severity": "error",
        "source": "dagy",
        "events_url": "https://events.pagerduty.com/v2/enqueue",
    }
    public, secret = check("webhook", {"url": "https://example.com/in", "secret": "s" * 20})
    assert public == {"url": "https://example.com/in"} and secret == {"secret": "s" * 20}


@pytest.mark.parametrize(
    ("channel_type", "raw", "field"),
    [
        ("slack", {"webhook_url": "not a url"}, "config_json.webhook_url"),
        ("slack", {"webhook_url": "https://"}, "config_json.webhook_url"),
        ("slack", {"webhook_url": "https://h/x", "channel": ""}, "config_json.channel"),
        ("webhook", {"url": "https://h/x", "secret": 42}, "config_json.secret"),
        ("email", {"smtp_host": "h", "from_address": "a@b", "to_addresses": ["x"]}, "config_json.to_addresses"),
        ("email", {"smtp_host": "h", "smtp_port": True, "from_address": "a@b", "to_addresses": ["a@b"]}, "config_json.smtp_port"),
        ("email", {"smtp_host": "h", "starttls": "yes", "from_address": "a@b", "to_addresses": ["a@b"]}, "config_json.starttls"),
        ("email", {"smtp_host": "h", "from_address": "a@b", "to_addresses": ["a@b"], "password_secret": "bad name"}, "config_json.password_secret"),
        ("pagerduty", {"routing_key": "k", "nope": 1}, "config_json.nope"),
        ("pagerduty", [], "config_json"),
    ],
)  # fmt: skip
def test_bad_config_names_its_field_and_never_quotes_the_value(channel_type, raw, field):
    with pytest.raises(InvalidInputError) as caught:
        check(channel_type, raw)
    assert field in caught.value.details
    assert "not a url" not in caught.value.message


def test_masks_keep_only_the_last_four_characters_of_long_secrets():
    assert config.mask("abcdefghijklmnopWXYZ") == "****WXYZ"
    assert config.mask("short") == "****"  # a short secret shows nothing
    url = "https://hooks.slack.com/services/T0/B0/tokenABCD"
    assert config.mask(url, "url") == "https://hooks.slack.com/****ABCD"


def test_scrub_masks_any_secret_quoted_in_an_error():
    secret = {"webhook_url": "https://hooks.slack.com/services/T0/B0/tokenABCD"}
    text = "cannot reach https://hooks.slack.com/services/T0/B0/tokenABCD: refused"
    assert config.scrub(text, secret) == "cannot reach ****ABCD: refused"
    assert config.scrub(None, secret) is None
