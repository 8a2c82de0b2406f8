"""Discord webhook URLs (which are accepted, how they are masked), the webhook body, Retry-After parsing, and what
each adapter's failures become (a delivery error that names no secret)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from ttai.notify import DeliveryError, PermanentDeliveryError, TransientDeliveryError, discord
from ttai.notify.discord import EMBED_DESCRIPTION_MAX, retry_after_seconds, webhook_payload
from ttai.notify.email import EmailSender
from ttai.notify.push import PushPublisher
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


@pytest.mark.parametrize(
    "url",
    [
        f"https://disc\tord.com/api/webhooks/{ID}/{TOKEN}",  # urlsplit drops the tab: the host would read discord.com
        f"https://discord.com/api/web\thooks/{ID}/{TOKEN}",
        f"https://discord.com/api/webhooks/{ID}/{TOKEN[:20]}\n{TOKEN[20:]}",
        f"{URL}\n",
        f" {URL}",
        f"{URL}\r",
        f"\x00{URL}",
        f"{URL}\u00a0",
        f"https://discord.com/api/webhooks/{ID}/{TOKEN[:20]}\u00e9{TOKEN[20:]}",
    ],
)
def test_a_url_with_control_characters_or_surrounding_whitespace_is_refused_as_it_is_stored(url: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as refused:
        parse_webhook_url(url, allow_loopback=False)
    assert TOKEN[:20] not in str(refused.value)
    assert refused.value.__cause__ is None


class FailingClient:
    """An SES or SNS client whose every call raises ``error`` (and counts that it was called)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send_email(self, **_: Any) -> Any:
        self.calls += 1
        raise self.error

    publish = send_email


ADDRESS = "alice.private@example.com"


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"Illegal address {ADDRESS}"}}, "SendEmail")


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (client_error("MessageRejected"), PermanentDeliveryError, "SES refused the message: MessageRejected"),
        (client_error("Throttling"), TransientDeliveryError, "SES failed: Throttling"),
        (EndpointConnectionError(endpoint_url=f"https://{ADDRESS}"), TransientDeliveryError, "EndpointConnectionError"),
        (ReadTimeoutError(endpoint_url=f"https://{ADDRESS}"), TransientDeliveryError, "ReadTimeoutError"),
        (NoCredentialsError(), TransientDeliveryError, "NoCredentialsError"),
        (ParamValidationError(report=f"Invalid value {ADDRESS}"), PermanentDeliveryError, "ParamValidationError"),
    ],
)
def test_every_ses_failure_is_a_delivery_error_that_names_no_address(
    error: Exception, expected: type[DeliveryError], message: str
) -> None:
    with pytest.raises(DeliveryError) as raised:
        EmailSender(FailingClient(error), "sender@example.com").send(ADDRESS, "t", "b")
    assert type(raised.value) is expected
    assert message in str(raised.value)
    assert ADDRESS not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.parametrize("address", ["alice@example.com\nBcc: all@example.com", " alice@example.com", "alice", ""])
def test_an_unusable_stored_address_is_refused_without_a_call(address: str) -> None:
    ses = FailingClient(AssertionError("SES must not be called"))
    with pytest.raises(PermanentDeliveryError, match="stored email address is not usable"):
        EmailSender(ses, "sender@example.com").send(address, "t", "b")
    assert ses.calls == 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("NotFound"), PermanentDeliveryError),
        (client_error("InternalError"), TransientDeliveryError),
        (ConnectionClosedError(endpoint_url="https://sns.example"), TransientDeliveryError),
        (ParamValidationError(report="bad"), PermanentDeliveryError),
    ],
)
def test_every_sns_failure_is_a_delivery_error(error: Exception, expected: type[DeliveryError]) -> None:
    sns = FailingClient(error)
    with pytest.raises(DeliveryError) as raised:
        PushPublisher(sns, "arn:aws:sns:us-east-1:000000000000:push").send("alice-1", "t", "b")
    assert type(raised.value) is expected
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert sns.calls == 1


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/{ID}/{TOKEN[:20]}\t{TOKEN[20:]}",
        f"https://disc\nord.com/api/webhooks/{ID}/{TOKEN}",
    ],
)
def test_what_http_client_refuses_is_permanent_and_quotes_nothing_even_past_the_url_check(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # As if the stored URL's check let a control character through: urllib's InvalidURL (which quotes the URL)
    # must still end as a delivery error with no cause. No socket is opened: http.client refuses first.
    monkeypatch.setattr(discord, "parse_webhook_url", lambda url, allow_loopback: ("https://discord.com", ID))
    with pytest.raises(PermanentDeliveryError) as raised:
        discord.DiscordWebhook(allow_loopback=False).send(url, "t", "b")
    assert TOKEN[:20] not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
