"""The local poller as Lambda's SQS event source on moto: batches, batchItemFailures, visibility and the redrive.

Each test polls a queue of its own (``fresh_queue``) with a consumer built on ``ttai.bindings.queues.consume``
whose effects it counts, so nothing here depends on the application's consumer function.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.functions import LocalFunction
from local.poller import DrainTimeout, LocalPoller, PolledQueue
from local.stack import LocalStack
from ttai.bindings.queues import Message, MessageBatch, Queue, consume
from ttai.observability import correlated

FreshQueue = Callable[..., tuple[PolledQueue, str]]


class CountingConsumer:
    """A consumer whose effect is countable: ``effects[n]`` is how often message ``n`` took effect.

    ``decide(batch)`` runs first and may ack / retry / raise; unless it returns True (it handled the batch), each
    message then takes effect and is acked, or is retried if its body says ``poison``. Every delivery is recorded
    with its attempts.
    """

    def __init__(self, sqs: Any, decide: Callable[[MessageBatch], bool | None] | None = None) -> None:
        self.sqs = sqs
        self.decide = decide
        self.effects: Counter[int] = Counter()
        self.attempts: defaultdict[int, list[int]] = defaultdict(list)
        self.batches: list[list[int]] = []
        self.responses: list[dict[str, list[dict[str, str]]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        response = consume(event, self.handle, sqs=self.sqs)
        self.responses.append(response)
        return response

    def handle(self, batch: MessageBatch) -> None:
        self.batches.append([m.body["n"] for m in batch.messages])
        for message in batch.messages:
            self.attempts[message.body["n"]].append(message.attempts)
        if self.decide and self.decide(batch):
            return
        for message in batch.messages:
            self._apply(message)

    def _apply(self, message: Message) -> None:
        if message.body.get("poison"):
            message.retry()
        else:
            message.ack()
            self.effects[message.body["n"]] += 1


def send(stack: LocalStack, queue: PolledQueue, bodies: list[dict[str, Any]]) -> list[str]:
    producer = Queue(queue.url, sqs=stack.client("sqs"))
    ids: list[str] = []
    for start in range(0, len(bodies), 100):
        ids += producer.send_batch({"body": body} for body in bodies[start : start + 100])
    return ids


def dlq_bodies(stack: LocalStack, dlq_url: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not messages:
            return found
        found += [json.loads(m["Body"]) for m in messages]


def poller_for(stack: LocalStack, queue: PolledQueue, consumer: Any) -> LocalPoller:
    return LocalPoller(stack.client("sqs"), [queue], function=LocalFunction("ttai-consumer", "", handler=consumer))


def test_three_poison_messages_of_ten_fail_alone_and_reach_the_dlq_after_max_retries_plus_one_attempts(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, dlq_url = fresh_queue(max_retries=3)
    poison = {2, 5, 9}
    ids = send(stack, queue, [{"n": n, "poison": n in poison} for n in range(10)])
    consumer = CountingConsumer(stack.client("sqs"))

    report = poller_for(stack, queue, consumer).drain(timeout=30)

    # The first batch is all ten, and reports exactly the three poison messages.
    assert consumer.batches[0] == list(range(10))
    assert sorted(item["itemIdentifier"] for item in consumer.responses[0]["batchItemFailures"]) == sorted(
        ids[n] for n in poison
    )
    # The seven took effect once, however often the poison came back.
    assert consumer.effects == Counter({n: 1 for n in range(10) if n not in poison})
    # Each poison message was delivered max_retries + 1 = 4 times, then moved to the DLQ.
    assert {n: consumer.attempts[n] for n in poison} == {n: [1, 2, 3, 4] for n in poison}
    assert sorted(body["n"] for body in dlq_bodies(stack, dlq_url)) == sorted(poison)
    assert report.invocations >= 4  # the first batch, then the three poison messages back three times
    assert report.deleted == 7
    assert report.failed == 3 * 4
    assert poller_for(stack, queue, consumer).depth(queue) == 0


def test_a_message_decision_beats_the_batch_retry_all_on_real_deliveries(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, _ = fresh_queue()
    send(stack, queue, [{"n": n} for n in range(4)])

    def decide(batch: MessageBatch) -> bool:
        if batch.messages[0].attempts > 1:
            return False
        by_n = {m.body["n"]: m for m in batch.messages}
        by_n[0].ack()
        by_n[1].retry()
        batch.retry_all()
        batch.ack_all()  # ignored: the first batch-level call won
        return True

    consumer = CountingConsumer(stack.client("sqs"), decide)
    poller_for(stack, queue, consumer).drain(timeout=30)

    assert dict(consumer.attempts) == {0: [1], 1: [1, 2], 2: [1, 2], 3: [1, 2]}
    # Message 0 was acked before any effect ran; the others took effect on their second delivery.
    assert consumer.effects == Counter({1: 1, 2: 1, 3: 1})


def test_a_handler_exception_retries_only_the_messages_not_acked(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue()
    send(stack, queue, [{"n": n} for n in range(5)])
    effects_before_raise: list[int] = []

    def decide(batch: MessageBatch) -> None:
        if batch.messages[0].attempts == 1:
            for message in batch.messages[:2]:
                effects_before_raise.append(message.body["n"])
                message.ack()
            raise RuntimeError("downstream is down")

    consumer = CountingConsumer(stack.client("sqs"), decide)
    poller_for(stack, queue, consumer).drain(timeout=30)

    assert effects_before_raise == [0, 1]
    assert {n: consumer.attempts[n] for n in range(5)} == {0: [1], 1: [1], 2: [1, 2], 3: [1, 2], 4: [1, 2]}
    assert consumer.effects == Counter({2: 1, 3: 1, 4: 1})


def test_a_function_that_raises_leaves_the_whole_batch_until_its_visibility_ends(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, _ = fresh_queue(visibility_timeout=1)
    send(stack, queue, [{"n": n} for n in range(3)])
    deliveries: list[list[int]] = []

    def crashing_function(event: dict[str, Any], context: Any) -> None:
        deliveries.append([int(json.loads(r["body"])["n"]) for r in event["Records"]])
        if len(deliveries) == 1:
            raise RuntimeError("the function crashed before answering")

    poller = LocalPoller(
        stack.client("sqs"), [queue], function=LocalFunction("ttai-consumer", "", handler=crashing_function)
    )
    first = poller.poll_once()
    assert (first.invocations, first.errors, first.deleted) == (1, 1, 0)
    # Nothing was deleted and nothing is visible: the batch is in flight until its visibility timeout ends.
    assert stack.client("sqs").receive_message(QueueUrl=queue.url, WaitTimeSeconds=0).get("Messages", []) == []

    report = poller.drain(timeout=30)

    # The three come back (their visibility ends a few milliseconds apart, so maybe not in one batch).
    assert sorted(deliveries[0]) == [0, 1, 2]
    assert sorted(n for later in deliveries[1:] for n in later) == [0, 1, 2]
    assert report.deleted == 3


def test_an_answer_naming_a_message_not_in_the_batch_fails_the_whole_batch(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, _ = fresh_queue(visibility_timeout=1)
    send(stack, queue, [{"n": 0}, {"n": 1}])
    calls: list[int] = []

    def confused_function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
        return {"batchItemFailures": []}

    poller = LocalPoller(
        stack.client("sqs"), [queue], function=LocalFunction("ttai-consumer", "", handler=confused_function)
    )
    report = poller.drain(timeout=30)

    assert calls[0] == 2
    assert sum(calls[1:]) == 2  # both came back, in one batch or two
    assert (report.errors, report.deleted) == (1, 2)


def test_a_retry_delay_keeps_the_message_invisible_until_it_ends(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue()
    send(stack, queue, [{"n": 0}])
    sqs = stack.client("sqs")
    delivered_at: list[float] = []

    def decide(batch: MessageBatch) -> bool:
        delivered_at.append(time.monotonic())
        if batch.messages[0].attempts > 1:
            return False
        batch.messages[0].retry(delay_seconds=2)
        return True

    consumer = CountingConsumer(sqs, decide)
    poller = poller_for(stack, queue, consumer)
    poller.poll_once()

    # Retried with a delay: in flight, not visible, not deleted.
    assert sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=0).get("Messages", []) == []
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"

    poller.drain(timeout=30)

    assert consumer.attempts[0] == [1, 2]
    assert delivered_at[1] - delivered_at[0] >= 1.9  # moto keeps visibility in milliseconds
    assert consumer.effects == Counter({0: 1})


def test_content_types_round_trip_through_the_poller(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue()
    producer = Queue(queue.url, sqs=stack.client("sqs"))
    producer.send({"n": 1, "nested": {"é": [1.5, None, True]}})
    producer.send("plain text, ünïcode", content_type="text")
    producer.send(b"\x00\x01\xfe\xff", content_type="bytes")
    seen: list[tuple[Any, str | None]] = []

    def function(event: dict[str, Any], context: Any) -> Any:
        return consume(event, lambda batch: seen.extend((m.body, m.content_type) for m in batch.messages), sqs=None)

    LocalPoller(stack.client("sqs"), [queue], function=LocalFunction("ttai-consumer", "", handler=function)).drain()

    assert sorted(seen, key=repr) == sorted(
        [
            ({"n": 1, "nested": {"é": [1.5, None, True]}}, "json"),
            ("plain text, ünïcode", "text"),
            (b"\x00\x01\xfe\xff", "bytes"),
        ],
        key=repr,
    )


def test_records_have_lambdas_sqs_event_shape(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue()
    with correlated(None):  # sent outside any request: no correlationId attribute (test_correlation has that)
        Queue(queue.url, sqs=stack.client("sqs")).send({"n": 7})
    events: list[dict[str, Any]] = []

    def function(event: dict[str, Any], context: Any) -> None:
        events.append(event)

    LocalPoller(stack.client("sqs"), [queue], function=LocalFunction("ttai-consumer", "", handler=function)).drain()

    (record,) = events[0]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert record["body"] == '{"n":7}'
    assert len(record["md5OfBody"]) == 32
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "contentType": {"stringValue": "json", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }


def test_batches_follow_the_batch_size(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue(batch_size=20)
    send(stack, queue, [{"n": n} for n in range(45)])
    consumer = CountingConsumer(stack.client("sqs"))

    report = poller_for(stack, queue, consumer).drain(timeout=30)

    assert report.batch_sizes == [20, 20, 5]
    assert consumer.effects == Counter(dict.fromkeys(range(45), 1))


def test_the_background_poller_waits_for_the_batch_window(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue(batch_size=10, batch_window_seconds=2)
    consumer = CountingConsumer(stack.client("sqs"))
    poller = poller_for(stack, queue, consumer)
    poller.start()
    try:
        send(stack, queue, [{"n": 0}])
        time.sleep(0.5)
        send(stack, queue, [{"n": 1}, {"n": 2}])
        deadline = time.monotonic() + 10
        while sum(consumer.effects.values()) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        poller.stop()

    assert not poller.running
    # Sent half a second apart, within the 2 s window: one batch.
    assert [sorted(b) for b in consumer.batches] == [[0, 1, 2]]
    assert poller.report.deleted == 3


def test_drain_gives_up_with_the_queue_depths_when_messages_stay_in_flight(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, _ = fresh_queue()
    send(stack, queue, [{"n": 0}])

    def decide(batch: MessageBatch) -> bool:
        batch.retry_all(delay_seconds=60)
        return True

    consumer = CountingConsumer(stack.client("sqs"), decide)

    with pytest.raises(DrainTimeout, match=queue.binding):
        poller_for(stack, queue, consumer).drain(timeout=0.5)

    assert consumer.attempts[0] == [1]


def test_the_stack_poller_polls_every_layout_queue_with_its_settings(stack: LocalStack) -> None:
    polled = {q.binding: q for q in stack.poller.queues}
    for spec in stack.layout.queues:
        queue = polled[spec.binding]
        assert queue.url == stack.queue_urls[spec.binding]
        assert queue.arn.endswith(f":{stack.name}-{spec.name}")
        assert (queue.batch_size, queue.batch_window_seconds) == (spec.batch_size, spec.batch_window_seconds)
    assert stack.poller.function.name == "ttai-consumer"


def test_the_stack_poller_drains_a_stack_queue_with_a_given_handler(stack: LocalStack) -> None:
    # What earlier tests left on the shared queue (real-time price alerts their quotes crossed) is not this test's.
    stack.poller.drain(handler=lambda event, context: {"batchItemFailures": []}, bindings=["ANALYSIS_QUEUE"])
    stack.env.ANALYSIS_QUEUE.send({"n": 42})
    consumer = CountingConsumer(stack.client("sqs"))

    report = stack.poller.drain(handler=consumer, bindings=["ANALYSIS_QUEUE"], timeout=30)

    assert consumer.effects == Counter({42: 1})
    assert report.deleted == 1
    assert stack.poller.depth(stack.poller.queue("ANALYSIS_QUEUE")) == 0


def test_skip_retry_delays_redelivers_at_once_whatever_the_delay(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue(visibility_timeout=300)
    send(stack, queue, [{"n": 0}, {"n": 1}])

    effects: Counter[int] = Counter()

    def decide(batch: MessageBatch) -> bool:
        for message in batch.messages:
            n = message.body["n"]
            if n == 0 and message.attempts < 3:
                message.retry(delay_seconds=600)  # a backoff step the test wants counted, not waited for
            elif n == 1 and message.attempts == 1:
                raise RuntimeError("message 1 would stay in flight for the queue's 300 s visibility timeout")
            else:
                effects[n] += 1
                message.ack()
        return True

    consumer = CountingConsumer(stack.client("sqs"), decide)
    started = time.monotonic()
    poller_for(stack, queue, consumer).drain(timeout=30, skip_retry_delays=True)

    assert time.monotonic() - started < 30
    assert dict(consumer.attempts) == {0: [1, 2, 3], 1: [1, 2]}
    assert effects == Counter({0: 1, 1: 1})


def test_the_background_poller_long_polls_an_idle_queue(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, _ = fresh_queue(batch_window_seconds=0)
    client = stack.client("sqs")
    consumer = CountingConsumer(stack.client("sqs"))
    poller = LocalPoller(client, [queue], function=LocalFunction("ttai-consumer", "", handler=consumer))
    with CallCounter(client) as calls:
        poller.start()
        try:
            time.sleep(2.5)
            send(stack, queue, [{"n": 5}])
            deadline = time.monotonic() + 10
            while not consumer.effects and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            poller.stop()

    assert consumer.effects == Counter({5: 1})
    # One-second long polls while idle, not a busy loop.
    assert calls.calls["ReceiveMessage"] <= 8
