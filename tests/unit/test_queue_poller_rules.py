"""How the local poller reads a function's answer and shapes records, as Lambda's SQS event source does."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from local.poller import batch_item_failures, sqs_record

IDS = {"a", "b", "c"}


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, {"other": 1}],
)
def test_answers_lambda_reads_as_complete_success(response: Any) -> None:
    assert batch_item_failures(response, IDS) == set()


def test_the_reported_ids_are_the_failures() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}
    assert batch_item_failures(response, IDS) == {"a", "c"}


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "zzz"}]},  # not a message of this batch
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "a"}]},  # a bad key name
        {"batchItemFailures": [{"itemIdentifier": "a"}, "b"]},
        {"batchItemFailures": "a"},
        "ok",
        ["a"],
    ],
)
def test_answers_lambda_rejects_fail_the_whole_batch(response: Any) -> None:
    assert batch_item_failures(response, IDS) is None


def test_a_received_message_becomes_a_lambda_record() -> None:
    message = {
        "MessageId": "id-1",
        "ReceiptHandle": "rh-1",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "MD5OfMessageAttributes": "0f0a",
        "Body": "hello",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1800000000000"},
        "MessageAttributes": {
            "contentType": {"StringValue": "text", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    }

    record = sqs_record(message, "arn:aws:sqs:eu-west-1:000000000000:ttai-local-tasks")

    assert record == {
        "messageId": "id-1",
        "receiptHandle": "rh-1",
        "body": "hello",
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1800000000000"},
        "messageAttributes": {
            "contentType": {
                "stringValue": "text",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": base64.b64encode(b"\x00\x01").decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "md5OfMessageAttributes": "0f0a",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:ttai-local-tasks",
        "awsRegion": "eu-west-1",
    }
