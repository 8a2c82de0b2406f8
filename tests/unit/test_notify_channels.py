"""Discord webhook URLs (which are accepted, how they are masked), the webhook body, and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ttai.notify.discord import EMBED_DESCRIPTION_MAX, retry_after_seconds, webhook_payload
from ttai.notify.webhooks import MASK, is_masked, mask_webhook_url, parse_webhook_url

ID = "112233445566778899"
TOKEN = "Abc_DEF-ghi" * 6 + "jk"  # 68 characters, as Discord issues them
URL = f"https://discord.com/api/webhooks/{ID}/{TOKEN}"


@pytest.mark.parametrize(
    "url",
    [URL, f"https://discordapp.com/api/webhooks/{ID}/{TOKEN}"],
)
def test_discords_hosts_are_accepted(url: str) -> None:
    origin, webhook_id = parse_webhook_url(url, allow_loopback=False)
    assert (origin, webhook_id) == (url.split("/api/", maxsplit=1)[0], ID)


@pytest.mark.parametrize(
    "url",
    [
        f"http://discord.com/api/webhooks/{ID}/{TOKEN}",  # not TLS
        f"https://discord.com.evil.example/api/webhooks/{ID}/{TOKEN}",
        f"https://evil.example/api/webhooks/{ID}/{TOKEN}",
        f"https://discord.com:8443/api/webhooks/{ID}/{TOKEN}",
        f"https://user:pw@discord.com/api/webhooks/{ID}/{TOKEN}",
        f"https://discord.com/api/webhooks/{ID}/{TOKEN}?wait=true",
        f"https://discord.com/api/webhooks/{ID}/{TOKEN}#x",
        f"https://discord.com/api/webhooks/{ID}/{TOKEN}/slack",
        f"https://discord.com/api/webhooks/123/{TOKEN}",  # not a snowflake id
        f"https://discord.com/api/webhooks/{ID}/",
        f"https://discord.com/api/v10/channels/{ID}/messages",
        f"http://127.0.0.1:9000/api/webhooks/{ID}/{TOKEN}",  # the local sink, outside the local stack
        "https://discord.com/api/webhooks/" + "1" * 500,
        "not a url",
    ],
)
def test_anything_else_is_refused_without_echoing_the_token(url: str) -> None:
    with pytest.raises(ValueError, match=r"Discord webhook URL|not a URL") as refused:
        parse_webhook_url(url, allow_loopback=False)
    assert TOKEN not in str(refused.value)


def test_the_local_sink_is_accepted_only_when_loopback_is_allowed() -> None:
    sink = f"http://127.0.0.1:9000/api/webhooks/{ID}/{TOKEN}"
    assert parse_webhook_url(sink, allow_loopback=True) == ("http://127.0.0.1:9000", ID)
    with pytest.raises(ValueError, match="Discord webhook URL"):
        parse_webhook_url(f"http://localhost:9000/api/webhooks/{ID}/{TOKEN}", allow_loopback=True)
    with pytest.raises(ValueError, match="Discord webhook URL"):
        parse_webhook_url(f"http://127.0.0.1/api/webhooks/{ID}/{TOKEN}", allow_loopback=True)  # no port: not the sink


def test_a_masked_url_names_the_webhook_but_not_its_token() -> None:
    masked = mask_webhook_url(URL)
    assert masked == f"https://discord.com/api/webhooks/{ID}/{MASK}"
    assert TOKEN not in masked
    assert is_masked(masked)
    assert not is_masked(URL)


def test_the_body_has_content_and_an_embed_and_pings_nobody() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    payload = webhook_payload("@everyone AAPL", "x" * 5000, {"symbol": "AAPL", "n": 3}, now=now)
    assert payload["content"] == "@everyone AAPL"
    assert payload["allowed_mentions"] == {"parse": []}
    (embed,) = payload["embeds"]
    assert len(embed["description"]) == EMBED_DESCRIPTION_MAX
    assert embed["description"].endswith("…")
    assert embed["timestamp"] == "2026-11-20T15:00:00+00:00"
    assert embed["fields"] == [
        {"name": "symbol", "value": "AAPL", "inline": True},
        {"name": "n", "value": "3", "inline": True},
    ]
    assert "fields" not in webhook_payload("t", "b", None, now=now)["embeds"][0]


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "2"}, b"", 2.0),
        ({"Retry-After": "0.75"}, b'{"retry_after": 9}', 0.75),
        ({}, b'{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}', 1.5),
        ({"Retry-After": "soon"}, b"not json", None),
        ({"Retry-After": "-1"}, b'{"retry_after": "nan"}', None),
    ],
)
def test_retry_after_comes_from_the_header_else_the_body(
    headers: dict[str, str], body: bytes, expected: float | None
) -> None:
    assert retry_after_seconds(headers, body) == expected
