"""The Discord adapter over real HTTP against the local sink: what each answer means for a retry."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from local.stack import LocalStack, free_port
from ttai.notify import PermanentDeliveryError, TransientDeliveryError
from ttai.notify.discord import DiscordWebhook

ADAPTER = DiscordWebhook(allow_loopback=True, timeout=2.0)


def test_a_delivered_message_is_what_the_sink_received(stack: LocalStack) -> None:
    assert stack.discord is not None
    url = stack.discord.new_webhook()
    assert ADAPTER.send(url, "AAPL above 200", "now 201", {"symbol": "AAPL"}) == 204
    (delivery,) = stack.discord.deliveries(url)
    assert delivery.payload["content"] == "AAPL above 200"
    assert delivery.payload["embeds"][0]["fields"] == [{"name": "symbol", "value": "AAPL", "inline": True}]


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (429, TransientDeliveryError, 1.5),
        (500, TransientDeliveryError, None),
        (503, TransientDeliveryError, None),
        (400, PermanentDeliveryError, None),
        (401, PermanentDeliveryError, None),
        (404, PermanentDeliveryError, None),
        (302, PermanentDeliveryError, None),  # not followed: a webhook that redirects is not one
    ],
)
def test_each_answer_is_transient_or_permanent(
    stack: LocalStack, status: int, error: type[Exception], retry_after: float | None
) -> None:
    assert stack.discord is not None
    url = stack.discord.new_webhook()
    stack.discord.fail_next(1, status, retry_after=1.5)
    with pytest.raises(error) as raised:
        ADAPTER.send(url, "t", "b")
    assert getattr(raised.value, "retry_after", None) == retry_after
    assert url.split("/")[-1] not in str(raised.value)  # the token never reaches an error (or a log)
    assert stack.discord.deliveries(url) == []


def test_nobody_listening_is_transient(stack: LocalStack) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/webhooks/112233445566778899/token"
    with pytest.raises(TransientDeliveryError, match="could not be reached"):
        ADAPTER.send(url, "t", "b")


def test_a_stored_url_that_is_not_discords_is_never_called(stack: LocalStack) -> None:
    assert stack.discord is not None
    url = stack.discord.new_webhook()
    before = stack.discord.attempts
    with pytest.raises(PermanentDeliveryError, match="not valid"):
        DiscordWebhook(allow_loopback=False).send(url, "t", "b")  # as deployed: the loopback sink is refused
    assert stack.discord.attempts == before


@contextmanager
def answering(reply: bytes) -> Iterator[str]:
    """A webhook URL on a loopback server that reads one request and answers ``reply`` (raw bytes), then hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}/api/webhooks/112233445566778899/s3cr3t-token"
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (b"", "RemoteDisconnected"),  # hung up without an answer
        (b"SMTP ready\r\n", "BadStatusLine"),  # not HTTP at all
        (b"HTTP/1.1 204 No Content\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n", "LineTooLong"),
    ],
)
def test_a_broken_answer_is_transient_and_its_error_carries_nothing_of_the_url(reply: bytes, kind: str) -> None:
    with answering(reply) as url, pytest.raises(TransientDeliveryError) as raised:
        ADAPTER.send(url, "t", "b")
    assert str(raised.value) == f"Discord could not be reached: {kind}"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
