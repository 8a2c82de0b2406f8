"""Queues: the consumer runtime's cost per record without I/O, and the SQS calls a 100-message send_batch makes.

The consumer figure runs ``consume`` in-process on 10,000 records shaped as Lambda delivers them, in batches of 10
(the tasks queue's batch size), with a handler that reads each body and acks it and an SQS client that is never
reached (nothing is retried); a batch's time divided by its size is the per-record overhead. The call count runs
against moto server.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any, NoReturn

from benchmarks.measure import Meter, moto_server, percentile
from benchmarks.report import Row
from ttai.bindings.queues import MessageBatch, MessageSendRequest, Queue, consume

RECORDS = 10_000
BATCH_SIZE = 10
BUDGET_MS = 2.0
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ttai-bench-tasks"


class NoSQS:
    """The consumer's client in the benchmark: a batch that acks everything must not call SQS."""

    def __getattr__(self, operation: str) -> NoReturn:
        raise AssertionError(f"the benchmark's consumer called SQS ({operation})")


def records(count: int) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    body = {
        "type": "notification",
        "id": "",
        "userId": "bench-user",
        "channel": "discord",
        "title": "AAPL crossed 200",
        "message": "Alert triggered: AAPL last 200.12 above 200.00",
    }
    return [
        {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": f"AQEB{i:08d}" + "x" * 160,
            "body": json.dumps({**body, "id": f"n-{i}"}),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(now_ms),
                "SenderId": "AROAEXAMPLE:ttai-api",
                "ApproximateFirstReceiveTimestamp": str(now_ms + 3),
            },
            "messageAttributes": {
                "contentType": {
                    "stringValue": "json",
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "String",
                }
            },
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "awsRegion": "us-east-1",
        }
        for i in range(count)
    ]


def consumer_overhead() -> list[Row]:
    events = [{"Records": batch} for batch in _chunks(records(RECORDS), BATCH_SIZE)]
    seen = 0

    def handler(batch: MessageBatch) -> None:
        nonlocal seen
        for message in batch.messages:
            seen += len(message.body["id"]) > 0
            message.ack()

    sqs = NoSQS()
    consume(events[0], handler, sqs=sqs)  # warm: first-call imports and caches are not per-record costs
    seen = 0
    per_record_ms: list[float] = []
    for event in events:
        started = time.perf_counter()
        result = consume(event, handler, sqs=sqs)
        per_record_ms.append((time.perf_counter() - started) * 1000 / len(event["Records"]))
        assert result == {"batchItemFailures": []}
    assert seen == RECORDS
    mean = statistics.fmean(per_record_ms)
    p95 = percentile(per_record_ms, 95)
    name = f"consumer overhead per record, excl. I/O ({RECORDS:,} records in batches of {BATCH_SIZE})"
    return [
        Row("queues", f"{name}: mean", mean, "ms", f"<= {BUDGET_MS:g} ms", mean <= BUDGET_MS),
        Row("queues", f"{name}: p95", p95, "ms", f"<= {BUDGET_MS:g} ms", p95 <= BUDGET_MS),
    ]


def send_batch_calls() -> list[Row]:
    with moto_server() as client:
        sqs = client("sqs")
        url = sqs.create_queue(QueueName="ttai-bench-tasks")["QueueUrl"]
        producer = Queue(url, sqs=sqs, binding="TASK_QUEUE")
        count = Meter(sqs)
        ids: list[str] = []
        count(
            "queue send_batch, 100 messages",
            lambda: ids.extend(producer.send_batch([MessageSendRequest({"n": n}) for n in range(100)])),
            10,
        )
        assert len(ids) == 100
    return count.rows


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def run() -> list[Row]:
    return consumer_overhead() + send_batch_calls()
