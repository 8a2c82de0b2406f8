"""The producer on moto: Cloudflare's limits, SQS batches of 10, and nothing sent when the input is refused."""

from __future__ import annotations

import base64
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.poller import PolledQueue
from local.stack import LocalStack
from ttai.bindings.queues import (
    CORRELATION_ID_ATTRIBUTE,
    MESSAGE_MAX_BODY_BYTES,
    MESSAGE_MAX_BYTES,
    MESSAGE_METADATA_BYTES,
    SEND_BATCH_MAX_BYTES,
    SEND_BATCH_MAX_MESSAGES,
    InvalidMessage,
    MessageSendRequest,
    MessageTooLarge,
    Queue,
    QueueError,
    TooManyMessages,
    body_size,
)
from ttai.jobs.data import send_batches
from ttai.messages import Notification
from ttai.observability import correlated

FreshQueue = Callable[..., tuple[PolledQueue, str]]


@dataclass(frozen=True)
class Target:
    producer: Queue
    client: Any  # the producer's client: its calls are the ones counted
    sqs: Any  # another client, to look at the queue without being counted


@pytest.fixture
def target(stack: LocalStack, fresh_queue: FreshQueue) -> Target:
    """A producer on a queue of this test's own."""
    queue, _ = fresh_queue()
    client = stack.client("sqs")
    return Target(Queue(queue.url, sqs=client, binding="TEST_QUEUE"), client, stack.client("sqs"))


def depth(sqs: Any, url: str) -> dict[str, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name.removeprefix("ApproximateNumberOf"): int(attributes[name]) for name in names}


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
    ).get("Messages", []):
        found += messages
    return found


def test_a_send_batch_of_100_is_ten_sqs_batches_and_lands_in_order(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    with CallCounter(target.client) as calls:
        ids = producer.send_batch(MessageSendRequest({"n": n}) for n in range(100))

    assert calls.by_operation() == {"SendMessageBatch": 10}
    assert len(set(ids)) == 100
    received = receive_all(sqs, producer.url)
    by_id = {m["MessageId"]: json.loads(m["Body"])["n"] for m in received}
    assert [by_id[i] for i in ids] == list(range(100))


def test_101_messages_are_refused_and_none_is_sent(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    with CallCounter(target.client) as calls, pytest.raises(TooManyMessages, match="at most 100"):
        producer.send_batch({"body": n} for n in range(101))

    assert calls.total == 0
    assert depth(sqs, producer.url) == {"Messages": 0, "MessagesNotVisible": 0, "MessagesDelayed": 0}


def test_one_bad_message_in_a_batch_sends_none(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    batch: list[dict[str, Any]] = [{"body": n} for n in range(20)]
    batch[15] = {"body": 15, "content_type": "text"}  # a text message needs a str body

    with CallCounter(target.client) as calls, pytest.raises(InvalidMessage, match="text message needs a str"):
        producer.send_batch(batch)

    assert calls.total == 0
    assert depth(sqs, producer.url)["Messages"] == 0


def test_a_message_may_be_128_kb_in_cloudflares_units_metadata_included(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    assert (MESSAGE_MAX_BYTES, MESSAGE_MAX_BODY_BYTES) == (128_000, 127_900)  # 1 KB = 1,000 bytes, less ~100 metadata
    producer.send("x" * MESSAGE_MAX_BODY_BYTES, content_type="text")
    with CallCounter(target.client) as calls:
        with pytest.raises(MessageTooLarge, match=r"127901 bytes plus the 100 bytes of metadata.*at most 128000"):
            producer.send("x" * (MESSAGE_MAX_BODY_BYTES + 1), content_type="text")
        # Multi-byte characters count as their UTF-8 bytes, json as its encoded text.
        with pytest.raises(MessageTooLarge):
            producer.send("é" * (MESSAGE_MAX_BODY_BYTES // 2 + 1), content_type="text")
        with pytest.raises(MessageTooLarge):
            producer.send({"blob": "y" * MESSAGE_MAX_BODY_BYTES})
    assert calls.total == 0

    (message,) = receive_all(sqs, producer.url)
    assert len(message["Body"]) == MESSAGE_MAX_BODY_BYTES


def test_a_bytes_body_counts_its_own_bytes_not_the_base64_sqs_carries(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    blob = bytes(range(256)) * (MESSAGE_MAX_BODY_BYTES // 256) + b"\x01" * (MESSAGE_MAX_BODY_BYTES % 256)
    producer.send(blob, content_type="bytes")
    with pytest.raises(MessageTooLarge, match="at most 128000"):
        producer.send(blob + b"\x00", content_type="bytes")

    (message,) = receive_all(sqs, producer.url)
    assert len(message["Body"]) > MESSAGE_MAX_BYTES  # base64 is a third bigger, and SQS takes it
    assert base64.b64decode(message["Body"]) == blob


def test_a_batch_over_256_kb_is_refused_whole(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    with CallCounter(target.client) as calls:
        with pytest.raises(MessageTooLarge, match="send_batch takes at most 256000 bytes"):
            producer.send_batch([{"body": "z" * 100_000, "content_type": "text"}] * 3)
        # The bodies alone fit (246,100 bytes); their 100 bytes of metadata each do not (256,100).
        with pytest.raises(MessageTooLarge, match="is 256100 bytes counting the 100 bytes of metadata"):
            producer.send_batch([{"body": "m" * 2_461, "content_type": "text"}] * 100)
    assert calls.total == 0
    assert depth(sqs, producer.url)["Messages"] == 0


def test_a_batch_of_exactly_256_kb_is_sent_in_as_many_sqs_batches_as_sqs_needs(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    # Two full messages are the whole 256 KB; as bytes, their base64 is over one SendMessageBatch's 256 KiB.
    with CallCounter(target.client) as calls:
        producer.send_batch([{"body": "t" * MESSAGE_MAX_BODY_BYTES, "content_type": "text"}] * 2)
    assert calls.by_operation() == {"SendMessageBatch": 1}
    with CallCounter(target.client) as calls:
        ids = producer.send_batch([MessageSendRequest(b"b" * MESSAGE_MAX_BODY_BYTES, "bytes")] * 2)
    assert calls.by_operation() == {"SendMessageBatch": 2}

    received = receive_all(sqs, producer.url)
    assert len(received) == 4
    assert {m["MessageId"] for m in received} >= set(ids)


def test_a_delay_over_sqs_maximum_is_refused_with_the_reason(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    with pytest.raises(InvalidMessage) as refused:
        producer.send({"n": 1}, delay_seconds=901)
    assert "SQS delays a message at most 900 s" in str(refused.value)
    with pytest.raises(InvalidMessage, match="at most 900"):
        producer.send_batch([{"body": 1}, {"body": 2, "delay_seconds": 3600}])
    with pytest.raises(InvalidMessage, match=">= 0"):
        producer.send({"n": 1}, delay_seconds=-1)
    assert depth(sqs, producer.url) == {"Messages": 0, "MessagesNotVisible": 0, "MessagesDelayed": 0}


def test_a_delayed_message_waits_before_it_is_visible(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    producer.send({"n": 1}, delay_seconds=900)
    producer.send_batch([{"body": 2}, {"body": 3, "delay_seconds": 0}], delay_seconds=600)
    assert depth(sqs, producer.url) == {"Messages": 1, "MessagesNotVisible": 0, "MessagesDelayed": 2}


def test_content_types_travel_as_the_contenttype_attribute(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    producer.send({"a": [1, "é"]})
    producer.send("words", content_type="text")
    producer.send(b"\x00\xff", content_type="bytes")

    received = {m["MessageAttributes"]["contentType"]["StringValue"]: m["Body"] for m in receive_all(sqs, producer.url)}

    assert received == {"json": '{"a":[1,"é"]}', "text": "words", "bytes": base64.b64encode(b"\x00\xff").decode()}


def test_an_unknown_content_type_is_a_queue_error(target: Target) -> None:
    producer = target.producer
    with pytest.raises(QueueError, match="unknown content type 'v8'"):
        producer.send({"n": 1}, content_type="v8")  # type: ignore[arg-type]


# ----------------------------------------------------------------- the calls Worker code makes


def test_worker_style_options_in_either_casing(target: Target) -> None:
    producer, sqs = target.producer, target.sqs
    producer.send("plain", {"contentType": "text"})
    producer.send(b"\x01", contentType="bytes", delaySeconds=0)
    producer.send("snake", {"content_type": "text", "delay_seconds": 0})
    producer.send_batch(
        [{"body": "one", "contentType": "text"}, {"body": {"n": 2}, "delaySeconds": 0}, {"body": None}],
        {"delaySeconds": 0},
    )
    producer.send_batch([{"body": "late", "content_type": "text"}], delaySeconds=600)

    received = sorted(
        (m["MessageAttributes"]["contentType"]["StringValue"], m["Body"]) for m in receive_all(sqs, producer.url)
    )
    assert received == [
        ("bytes", base64.b64encode(b"\x01").decode()),
        ("json", "null"),
        ("json", '{"n":2}'),
        ("text", "one"),
        ("text", "plain"),
        ("text", "snake"),
    ]
    assert depth(sqs, producer.url)["MessagesDelayed"] == 1


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda q: q.send(1, {"contenttype": "text"}), "'contenttype'"),
        (lambda q: q.send(1, delay=5), "'delay'"),
        (lambda q: q.send(1, {"delaySeconds": 1}, delay_seconds=1), "given twice"),
        (lambda q: q.send(1, {"contentType": "text", "content_type": "json"}), "given twice"),
        (lambda q: q.send_batch([{"body": 1}], {"delay": 5}), "'delay'"),
        (lambda q: q.send_batch([{"body": 1}, {"body": 2, "retries": 3}]), "message #1: unknown option 'retries'"),
        (lambda q: q.send_batch([{"contentType": "text"}]), "message #0 has no body"),
    ],
)
def test_an_unknown_or_repeated_option_is_refused_by_name_and_nothing_is_sent(
    target: Target, call: Callable[[Queue], object], named: str
) -> None:
    with CallCounter(target.client) as calls, pytest.raises(QueueError, match=named):
        call(target.producer)
    assert calls.total == 0


def test_messages_sent_under_a_correlation_id_carry_it_and_others_carry_none(target: Target) -> None:
    with correlated("request-1"):
        target.producer.send({"n": 1})
        target.producer.send_batch([{"body": {"n": 2}}, {"body": "three", "content_type": "text"}])
    with correlated(None):
        target.producer.send({"n": 4})
    carried = {
        message["Body"]: message["MessageAttributes"].get(CORRELATION_ID_ATTRIBUTE, {}).get("StringValue")
        for message in receive_all(target.sqs, target.producer.url)
    }
    assert carried == {'{"n":1}': "request-1", '{"n":2}': "request-1", "three": "request-1", '{"n":4}': None}


def test_long_job_messages_are_cut_into_batches_by_size_as_well_as_count(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    """120 summaries of 4,000 characters are ~500 KB: cut at 100 messages alone, the first batch would be over
    Cloudflare's 256 KB and refused whole."""
    queue, _ = fresh_queue()
    client = stack.client("sqs")
    producer = Queue(queue.url, sqs=client, binding="TEST_QUEUE")
    long = [Notification(user_id=f"u-{i}", channel="discord", title="summary", body="é" * 4000) for i in range(120)]
    wire = [m.to_wire() for m in long]
    batches = list(send_batches(wire))

    def counted(batch: list[Any]) -> int:
        return sum(body_size(body, "json") + MESSAGE_METADATA_BYTES for body in batch)

    assert [body for batch in batches for body in batch] == wire  # all of them, in order
    assert all(len(b) <= SEND_BATCH_MAX_MESSAGES and counted(b) <= SEND_BATCH_MAX_BYTES for b in batches)
    # As few as fit: the first message of each batch would have put the one before over the limit.
    assert all(counted([*a, b[0]]) > SEND_BATCH_MAX_BYTES for a, b in itertools.pairwise(batches))
    assert len(batches) == 4
    with CallCounter(client) as calls:
        for batch in batches:  # as the jobs' outbox relays them: the binding takes every one
            producer.send_batch([{"body": body} for body in batch])
    # Each send_batch goes out as SQS batches of up to 10.
    assert calls.by_operation() == {"SendMessageBatch": sum(math.ceil(len(b) / 10) for b in batches)}
    got = receive_all(stack.client("sqs"), queue.url)
    assert sorted(json.loads(m["Body"])["id"] for m in got) == sorted(body["id"] for body in wire)
