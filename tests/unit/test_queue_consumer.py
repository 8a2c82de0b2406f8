"""The consumer runtime's rules (Cloudflare's ack / retry semantics) on hand-built SQS events and a recording client."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import LogLines
from ttai.bindings.queues import (
    InvalidMessage,
    MessageBatch,
    QueueError,
    consume,
    queue_url,
)

ENDPOINT = "https://sqs.us-east-1.amazonaws.com"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ttai-dev-notifications"
QUEUE_URL = f"{ENDPOINT}/123456789012/ttai-dev-notifications"
SENT_MS = 1_800_000_000_123


class RecordingSQS:
    """Records ChangeMessageVisibilityBatch calls; ``refuse`` names receipt handles SQS should report as failed."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.meta = SimpleNamespace(endpoint_url=ENDPOINT)
        self.calls: list[dict[str, Any]] = []
        self.refuse = refuse

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append({"QueueUrl": QueueUrl, "Entries": Entries})
        failed = [
            {"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "Message": "expired", "SenderFault": True}
            for e in Entries
            if e["ReceiptHandle"] in self.refuse
        ]
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["ReceiptHandle"] not in self.refuse],
            "Failed": failed,
        }

    def visibility(self) -> dict[str, int]:
        """Visibility timeout set per receipt handle, across every call."""
        return {e["ReceiptHandle"]: e["VisibilityTimeout"] for call in self.calls for e in call["Entries"]}


def _string_attribute(value: str) -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def record(
    index: int,
    body: str = '{"n": 0}',
    *,
    content_type: str | None = "json",
    receive_count: int = 1,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """One record exactly as Lambda's SQS event source delivers it."""
    attributes = {}
    if content_type is not None:
        attributes["contentType"] = _string_attribute(content_type)
    if correlation_id is not None:
        attributes["correlationId"] = _string_attribute(correlation_id)
    return {
        "messageId": f"m{index}",
        "receiptHandle": f"rh{index}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(SENT_MS),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(SENT_MS + 5),
        },
        "messageAttributes": attributes,
        "md5OfBody": "ignored",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def event(count: int) -> dict[str, Any]:
    return {"Records": [record(i, json.dumps({"n": i})) for i in range(count)]}


def failures(result: dict[str, list[dict[str, str]]]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The extra fields of every log record with this message."""
    return [vars(r) for r in caplog.records if r.getMessage() == message]


def run(count: int, handler: Callable[[MessageBatch], object], **kwargs: Any) -> tuple[list[str], RecordingSQS]:
    sqs = RecordingSQS()
    return failures(consume(event(count), handler, sqs=sqs, **kwargs)), sqs


# --------------------------------------------------------------------------------------------- the batch seen


def test_the_handler_sees_ids_bodies_attempts_timestamps_and_the_queue_name() -> None:
    seen: list[MessageBatch] = []
    sqs = RecordingSQS()
    records = [
        record(0, '{"type": "notification", "n": 1}', receive_count=3),
        record(1, "plain words", content_type="text"),
        record(2, base64.b64encode(b"\x00\xffraw").decode(), content_type="bytes"),
        record(3, "[1, 2]", content_type=None),  # no attribute: json, as the producer's default
    ]

    result = consume({"Records": records}, seen.append, sqs=sqs)

    assert result == {"batchItemFailures": []}
    assert sqs.calls == []
    (batch,) = seen
    assert batch.queue == "ttai-dev-notifications"
    assert [m.id for m in batch.messages] == ["m0", "m1", "m2", "m3"]
    assert [m.body for m in batch.messages] == [{"type": "notification", "n": 1}, "plain words", b"\x00\xffraw", [1, 2]]
    assert [m.attempts for m in batch.messages] == [3, 1, 1, 1]
    assert batch.messages[0].timestamp == datetime(2027, 1, 15, 8, 0, 0, 123000, tzinfo=UTC)
    assert batch.messages[0].timestamp.tzinfo is UTC


def test_each_message_carries_the_correlation_id_its_sender_logged_under(log_lines: LogLines) -> None:
    seen: list[MessageBatch] = []

    def retry_all(batch: MessageBatch) -> None:
        seen.append(batch)
        batch.retry_all()

    records = [record(0, correlation_id="request-1"), record(1), record(2, "{", correlation_id="request-2")]
    consume({"Records": records}, retry_all, sqs=RecordingSQS())
    (batch,) = seen
    assert [m.correlation_id for m in batch.messages] == ["request-1", None]
    # Each retry is logged under its message's id: the sender's, else the SQS message id.
    lines = log_lines.with_message("queue message retried")
    assert sorted((line["message_id"], line["correlation_id"]) for line in lines) == [
        ("m0", "request-1"), ("m1", "m1"), ("m2", "request-2"),
    ]  # fmt: skip


def test_an_empty_event_calls_no_handler() -> None:
    called: list[MessageBatch] = []
    assert consume({"Records": []}, called.append, sqs=RecordingSQS()) == {"batchItemFailures": []}
    assert called == []


def test_a_record_whose_body_cannot_be_decoded_fails_alone_and_never_reaches_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    records = [
        record(0),
        record(1, "{not json"),
        record(2, "***", content_type="bytes", receive_count=2),
        record(3),
    ]
    sqs = RecordingSQS()

    result = consume({"Records": records}, lambda batch: seen.extend(m.id for m in batch.messages), sqs=sqs)

    assert seen == ["m0", "m3"]
    assert failures(result) == ["m1", "m2"]
    assert sqs.visibility() == {"rh1": 0, "rh2": 0}
    reasons = {r["message_id"]: r["reason"] for r in logged(caplog, "queue message retried")}
    assert reasons["m1"].startswith("malformed record: body cannot be decoded as json")
    assert reasons["m2"].startswith("malformed record: body cannot be decoded as bytes")


# ------------------------------------------------------------------------------------------------ decisions


def test_returning_normally_acks_every_message() -> None:
    failed, sqs = run(10, lambda batch: None)
    assert failed == []
    assert sqs.calls == []


def test_an_explicit_retry_fails_only_that_message_with_its_delay() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[2].retry(delay_seconds=45)
        batch.messages[7].retry()

    failed, sqs = run(10, handler)

    assert failed == ["m2", "m7"]
    assert sqs.calls == [
        {
            "QueueUrl": QUEUE_URL,
            "Entries": [
                {"Id": "0", "ReceiptHandle": "rh2", "VisibilityTimeout": 45},
                {"Id": "1", "ReceiptHandle": "rh7", "VisibilityTimeout": 0},
            ],
        }
    ]


def test_a_message_decision_beats_a_batch_level_retry_all() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[0].ack()
        batch.messages[1].retry(delay_seconds=30)
        batch.retry_all(delay_seconds=60)

    failed, sqs = run(4, handler)

    assert failed == ["m1", "m2", "m3"]
    assert sqs.visibility() == {"rh1": 30, "rh2": 60, "rh3": 60}


def test_a_message_decision_beats_a_batch_level_ack_all_made_before_it() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.ack_all()
        batch.messages[3].retry(delay_seconds=5)

    failed, sqs = run(5, handler)

    assert failed == ["m3"]
    assert sqs.visibility() == {"rh3": 5}


def test_the_first_decision_on_a_message_wins() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[0].retry(delay_seconds=10)
        batch.messages[0].ack()
        batch.messages[0].retry(delay_seconds=99)
        batch.messages[1].ack()
        batch.messages[1].retry()

    failed, sqs = run(2, handler)

    assert failed == ["m0"]
    assert sqs.visibility() == {"rh0": 10}


def test_the_first_batch_level_decision_wins() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.retry_all(delay_seconds=7)
        batch.ack_all()

    failed, sqs = run(3, handler)

    assert failed == ["m0", "m1", "m2"]
    assert set(sqs.visibility().values()) == {7}


def test_an_exception_retries_every_message_not_explicitly_acked(caplog: pytest.LogCaptureFixture) -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[0].ack()
        batch.messages[1].retry(delay_seconds=20)
        raise RuntimeError("discord is down")

    failed, sqs = run(4, handler)

    assert failed == ["m1", "m2", "m3"]
    assert sqs.visibility() == {"rh1": 20, "rh2": 0, "rh3": 0}
    retried = {r["message_id"]: r for r in logged(caplog, "queue message retried")}
    assert set(retried) == {"m1", "m2", "m3"}
    assert retried["m1"]["reason"] == "retry()"
    # The kind and where it was raised, not the message or a traceback: a foreign message can quote a credential.
    assert retried["m2"]["reason"].startswith("handler raised RuntimeError at unit/test_queue_consumer.py:")
    assert retried["m2"]["attempts"] == 1
    (raised,) = logged(caplog, "queue handler raised")
    assert raised["exc_info"] is None
    assert raised["error"] == retried["m2"]["reason"]
    assert "discord is down" not in str(
        logged(caplog, "queue handler raised") + logged(caplog, "queue message retried")
    )


def test_an_exception_after_ack_all_retries_nothing() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.ack_all()
        raise RuntimeError("after the work was done")

    failed, sqs = run(3, handler)

    assert failed == []
    assert sqs.calls == []


def test_an_exception_after_retry_all_keeps_the_batch_delay() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.retry_all(delay_seconds=90)
        raise ValueError("bad")

    failed, sqs = run(2, handler)

    assert failed == ["m0", "m1"]
    assert sqs.visibility() == {"rh0": 90, "rh1": 90}


# -------------------------------------------------------------------------------------------------- delays


def test_retry_delays_go_out_ten_per_call() -> None:
    failed, sqs = run(25, lambda batch: batch.retry_all(delay_seconds=3))

    assert len(failed) == 25
    assert [len(call["Entries"]) for call in sqs.calls] == [10, 10, 5]
    assert all(call["QueueUrl"] == QUEUE_URL for call in sqs.calls)
    assert [[e["Id"] for e in call["Entries"]] for call in sqs.calls][2] == ["0", "1", "2", "3", "4"]
    assert len(sqs.visibility()) == 25


def test_the_consumer_retry_delay_applies_when_no_call_gives_one() -> None:
    failed, sqs = run(2, lambda batch: batch.retry_all(), retry_delay_seconds=120)
    assert failed == ["m0", "m1"]
    assert sqs.visibility() == {"rh0": 120, "rh1": 120}


def test_no_consumer_retry_delay_leaves_visibility_to_the_queue() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[0].retry(delay_seconds=15)
        batch.messages[1].retry()

    failed, sqs = run(2, handler, retry_delay_seconds=None)

    assert failed == ["m0", "m1"]
    assert sqs.visibility() == {"rh0": 15}


@pytest.mark.parametrize("delay", [-1, 43_201, 1.5, True, "10"])
def test_a_bad_retry_delay_is_refused_and_the_handler_error_retries_the_batch(delay: Any) -> None:
    raised: list[Exception] = []

    def handler(batch: MessageBatch) -> None:
        try:
            batch.messages[0].retry(delay_seconds=delay)
        except QueueError as exc:
            raised.append(exc)
            raise

    failed, sqs = run(2, handler)

    assert isinstance(raised[0], InvalidMessage)
    assert "delay_seconds" in str(raised[0])
    assert failed == ["m0", "m1"]
    assert sqs.visibility() == {"rh0": 0, "rh1": 0}


@pytest.mark.parametrize("delay", [-5, 50_000])
def test_a_bad_batch_or_consumer_delay_is_refused(delay: int) -> None:
    with pytest.raises(InvalidMessage, match="43200"):
        MessageBatch("q", []).retry_all(delay_seconds=50_000)
    with pytest.raises(InvalidMessage):
        consume(event(1), lambda batch: None, sqs=RecordingSQS(), retry_delay_seconds=delay)


def test_the_longest_delay_is_twelve_hours() -> None:
    failed, sqs = run(1, lambda batch: batch.messages[0].retry(delay_seconds=43_200))
    assert failed == ["m0"]
    assert sqs.visibility() == {"rh0": 43_200}


def test_a_refused_visibility_change_still_reports_the_failure(caplog: pytest.LogCaptureFixture) -> None:
    sqs = RecordingSQS(refuse=frozenset({"rh1"}))

    result = consume(event(3), lambda batch: batch.retry_all(delay_seconds=60), sqs=sqs)

    assert failures(result) == ["m0", "m1", "m2"]
    refused = logged(caplog, "retry delay not applied")
    assert [r["message_id"] for r in refused] == ["m1"]
    assert "ReceiptHandleIsInvalid" in refused[0]["error"]


def test_queue_url_follows_the_client_endpoint() -> None:
    moto = SimpleNamespace(meta=SimpleNamespace(endpoint_url="http://127.0.0.1:5000/"))
    assert queue_url("arn:aws:sqs:us-east-1:000000000000:ttai-local-tasks", sqs=moto) == (
        "http://127.0.0.1:5000/000000000000/ttai-local-tasks"
    )
    assert queue_url(QUEUE_ARN, sqs=RecordingSQS()) == QUEUE_URL


def test_retry_takes_the_options_object_a_worker_passes() -> None:
    def handler(batch: MessageBatch) -> None:
        batch.messages[0].retry({"delaySeconds": 30})
        batch.messages[1].retry(delaySeconds=20)
        batch.retry_all({"delay_seconds": 10})

    failed, sqs = run(3, handler)

    assert failed == ["m0", "m1", "m2"]
    assert sqs.visibility() == {"rh0": 30, "rh1": 20, "rh2": 10}


def test_an_unknown_retry_option_is_refused_by_name() -> None:
    raised: list[Exception] = []

    def handler(batch: MessageBatch) -> None:
        try:
            batch.messages[0].retry({"delay": 30})
        except QueueError as exc:
            raised.append(exc)
        batch.ack_all()

    failed, _ = run(1, handler)

    assert "retry: unknown option 'delay'" in str(raised[0])
    assert failed == []
