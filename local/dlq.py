"""Dead-letter queues from the command line: how deep they are, what is in them, and moving messages back.

Works on any SQS endpoint: the running ``make dev`` stack (moto) or deployed queues with the default AWS
credentials. A queue's DLQ is found from its RedrivePolicy, so only the source queues' URLs are needed.

Looking never consumes: messages are received to read them, then made visible again at once. The redrive sends
each message to its source queue (body and message attributes) before deleting it from the DLQ, ten at a time,
so a failure part-way leaves a message in both queues (consumers are idempotent), never in neither. moto has no
StartMessageMoveTask, so the same receive / send / delete path serves both, and needs only SQS's basic rights.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ttai.bindings.queues import CONTENT_TYPE_ATTRIBUTE, SQS_BATCH_MAX_ENTRIES

# Long enough to walk a DLQ without meeting the same message twice; every message is released at the end.
INSPECT_VISIBILITY_SECONDS = 60


class DeadLetterError(Exception):
    """A queue has no dead-letter queue, or is not one of those known."""


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    source: str  # the name the user knows the source queue by: its binding (TASK_QUEUE) or its queue name
    source_url: str
    url: str

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Depth:
    visible: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message in a DLQ, as read without consuming it."""

    message_id: str
    sent_at: datetime
    receive_count: int
    content_type: str | None
    body: str


@dataclass(slots=True)
class RedriveReport:
    moved: int = 0
    # message id -> why it stayed in the DLQ (not sent), or why it is now in both queues (sent, not deleted)
    not_sent: dict[str, str] = field(default_factory=dict)
    not_deleted: dict[str, str] = field(default_factory=dict)


def dead_letter_queues(sqs: Any, sources: Mapping[str, str]) -> list[DeadLetterQueue]:
    """The DLQ of each source queue (name -> URL), from its RedrivePolicy; raises if one has none."""
    found = []
    for source, url in sources.items():
        # SQS leaves out Attributes when none of those asked for is set.
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        if "RedrivePolicy" not in attributes:
            raise DeadLetterError(f"queue {source} ({url}) has no dead-letter queue (no RedrivePolicy)")
        target = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        _, _, _, _, account, name = target.split(":", 5)
        dlq_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        found.append(DeadLetterQueue(source, url, dlq_url))
    return found


def select(queues: list[DeadLetterQueue], name: str) -> DeadLetterQueue:
    """The DLQ named by its source's binding or queue name, or by its own queue name (case-insensitive binding)."""
    for queue in queues:
        source_name = queue.source_url.rstrip("/").rsplit("/", 1)[-1]
        if name in (queue.source, source_name, queue.name) or name.upper() == queue.source:
            return queue
        if source_name.endswith(f"-{name}"):  # the layout's short name: tasks -> ttai-local-xxxx-tasks
            return queue
    known = ", ".join(q.source for q in queues) or "none"
    raise DeadLetterError(f"no queue named {name!r}; known: {known}")


def depth(sqs: Any, queue: DeadLetterQueue) -> Depth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return Depth(
        int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])
    )


def peek(sqs: Any, queue: DeadLetterQueue, limit: int = 10) -> list[DeadLetter]:
    """Up to ``limit`` messages of the DLQ, left in it and visible again when this returns."""
    letters: list[DeadLetter] = []
    handles: list[str] = []
    try:
        for message in _receive(sqs, queue.url, limit):
            handles.append(message["ReceiptHandle"])
            attributes = message.get("Attributes", {})
            content_type = message.get("MessageAttributes", {}).get(CONTENT_TYPE_ATTRIBUTE, {}).get("StringValue")
            letters.append(
                DeadLetter(
                    message_id=message["MessageId"],
                    sent_at=datetime.fromtimestamp(int(attributes.get("SentTimestamp", 0)) / 1000, tz=UTC),
                    receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                    content_type=content_type,
                    body=message["Body"],
                )
            )
    finally:
        _release(sqs, queue.url, handles)
    return letters


def redrive(sqs: Any, queue: DeadLetterQueue, limit: int | None = None) -> RedriveReport:
    """Move up to ``limit`` (default: all) messages from the DLQ back to its source queue; send before delete."""
    report = RedriveReport()
    unsent: list[str] = []
    try:
        batch: list[dict[str, Any]] = []
        for message in _receive(sqs, queue.url, limit):
            batch.append(message)
            if len(batch) == SQS_BATCH_MAX_ENTRIES:
                unsent += _move(sqs, queue, batch, report)
                batch = []
        if batch:
            unsent += _move(sqs, queue, batch, report)
    finally:
        _release(sqs, queue.url, unsent)  # what could not be sent is visible in the DLQ again
    return report


def _move(sqs: Any, queue: DeadLetterQueue, batch: list[dict[str, Any]], report: RedriveReport) -> list[str]:
    """Send ``batch`` to the source, delete what was sent from the DLQ; returns the receipt handles not sent."""
    sent = sqs.send_message_batch(
        QueueUrl=queue.source_url,
        Entries=[
            {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _attributes(m)} for i, m in enumerate(batch)
        ],
    )
    for failed in sent.get("Failed", []):
        message = batch[int(failed["Id"])]
        report.not_sent[message["MessageId"]] = f"{failed.get('Code')}: {failed.get('Message', '')}"
    done = [batch[int(s["Id"])] for s in sent.get("Successful", [])]
    if done:
        deleted = sqs.delete_message_batch(
            QueueUrl=queue.url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
        for failed in deleted.get("Failed", []):
            message = done[int(failed["Id"])]
            report.not_deleted[message["MessageId"]] = f"{failed.get('Code')}: {failed.get('Message', '')}"
        report.moved += len(deleted.get("Successful", []))
    sent_ids = {s["Id"] for s in sent.get("Successful", [])}
    return [m["ReceiptHandle"] for i, m in enumerate(batch) if str(i) not in sent_ids]


def _attributes(message: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Message attributes as SendMessage takes them (ReceiveMessage adds list fields SQS does not accept)."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        kept = {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        attributes[name] = kept
    return attributes


def _receive(sqs: Any, url: str, limit: int | None) -> Iterator[dict[str, Any]]:
    """Distinct messages of ``url``, each kept invisible for a while so the walk moves on, until none or ``limit``."""
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        wanted = SQS_BATCH_MAX_ENTRIES if limit is None else min(SQS_BATCH_MAX_ENTRIES, limit - len(seen))
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=wanted,
            VisibilityTimeout=INSPECT_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,  # a long poll asks every SQS server; a short one may miss messages
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            yield message


def _release(sqs: Any, url: str, receipt_handles: list[str]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(receipt_handles), SQS_BATCH_MAX_ENTRIES):
        chunk = receipt_handles[start : start + SQS_BATCH_MAX_ENTRIES]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0} for i, handle in enumerate(chunk)],
        )
