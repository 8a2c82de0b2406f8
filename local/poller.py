"""Lambda's SQS event source mapping on one machine: long-polls the queues on moto and feeds the consumer function.

Each queue is polled as its event source would be: up to the layout's ``batch_size`` messages gathered for at most
``batch_window_seconds``, handed to the function as a real SQS event, then the messages it did not report in
``batchItemFailures`` deleted. Failures stay in flight and come back when their visibility timeout ends; a function
that raises (or reports an id that is not in the batch) leaves the whole batch to come back, as on Lambda.

The redrive to the DLQ is moto's own: like SQS, ReceiveMessage moves a message whose receive count has reached the
queue's maxReceiveCount to the dead-letter queue instead of returning it, so the poller never moves anything itself.

``drain()`` delivers synchronously until every queue is empty (tests); ``start()`` runs one polling thread per queue
in the background (``make dev``).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.functions import Handler, LocalFunction
from ttai.bindings.queues import SQS_BATCH_MAX_ENTRIES
from ttai.layout import StorageLayout
from ttai.observability import logger

POLL_WAIT_SECONDS = 1  # each long poll; short, so stop() and a queue's window are noticed quickly
DRAIN_IDLE_SECONDS = 0.1  # between looks at in-flight messages whose visibility has not ended yet
DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class DrainTimeout(TimeoutError):
    """Messages were still queued or in flight when ``drain`` ran out of time."""


@dataclass(frozen=True, slots=True)
class PolledQueue:
    """A queue and its event source settings (from storage.json's ``queues``)."""

    binding: str
    url: str
    arn: str
    batch_size: int
    batch_window_seconds: int


@dataclass(slots=True)
class DeliveryReport:
    """What a ``drain`` (or the background pollers, cumulatively) delivered."""

    invocations: int = 0
    records: int = 0  # records handed to the function, redeliveries included
    deleted: int = 0
    failed: int = 0  # records reported in batchItemFailures
    errors: int = 0  # invocations that raised or answered something Lambda would reject: whole batch retried
    batch_sizes: list[int] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.invocations += other.invocations
        self.records += other.records
        self.deleted += other.deleted
        self.failed += other.failed
        self.errors += other.errors
        self.batch_sizes += other.batch_sizes


class LocalPoller:
    """Polls ``queues`` with ``sqs`` and invokes ``function`` (the stack's consumer, or a test's own)."""

    def __init__(self, sqs: Any, queues: Iterable[PolledQueue], *, function: LocalFunction) -> None:
        self._sqs = sqs
        self.queues = tuple(queues)
        self.function = function
        self.report = DeliveryReport()
        # One delivery at a time: drain() and the background threads never interleave a receive and its deletes.
        self._delivering = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def queue(self, binding: str) -> PolledQueue:
        for queue in self.queues:
            if queue.binding == binding:
                return queue
        raise KeyError(f"the poller polls no queue bound as {binding}")

    # ------------------------------------------------------------------ drain

    def drain(
        self,
        *,
        timeout: float = 60.0,
        handler: Handler | None = None,
        bindings: Sequence[str] | None = None,
        skip_retry_delays: bool = False,
    ) -> DeliveryReport:
        """Deliver until every polled queue (or those of ``bindings``) holds no visible, in-flight or delayed message.

        Batches are filled from what the queue has right now instead of waiting out the batch window, and retried
        messages are delivered again once their visibility timeout ends (so a long retry delay makes a long drain).
        ``skip_retry_delays`` makes every message that comes back visible at once instead (tests of backoff that
        count attempts, not seconds). ``handler`` stands in for the function during this drain. Raises DrainTimeout
        after ``timeout`` seconds.
        """
        queues = [self.queue(b) for b in bindings] if bindings is not None else list(self.queues)
        report = DeliveryReport()
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.poll_once(
                handler=handler, bindings=[q.binding for q in queues], skip_retry_delays=skip_retry_delays
            )
            report.add(delivered)
            if delivered.invocations:
                continue
            depths = {queue.binding: self.depth(queue) for queue in queues}
            if not any(depths.values()):
                return report
            if time.monotonic() >= deadline:
                raise DrainTimeout(f"queues not empty after {timeout} s (visible + in flight + delayed): {depths}")
            time.sleep(DRAIN_IDLE_SECONDS)

    def poll_once(
        self,
        *,
        handler: Handler | None = None,
        bindings: Sequence[str] | None = None,
        skip_retry_delays: bool = False,
    ) -> DeliveryReport:
        """One batch from each queue that has visible messages right now, delivered; nothing waits."""
        queues = [self.queue(b) for b in bindings] if bindings is not None else list(self.queues)
        function = self.function.standing_in(handler) if handler else self.function
        report = DeliveryReport()
        for queue in queues:
            with self._delivering:
                messages = self._collect(queue, window_seconds=0, long_poll=False)
                if messages:
                    delivered, returning = self._deliver(queue, messages, function)
                    report.add(delivered)
                    if skip_retry_delays and returning:
                        self._release(queue, returning)
        return report

    def depth(self, queue: PolledQueue) -> int:
        """Messages visible, in flight or delayed on ``queue``."""
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=list(DEPTH_ATTRIBUTES))
        return sum(int(attributes["Attributes"].get(name, 0)) for name in DEPTH_ATTRIBUTES)

    # ------------------------------------------------------------- background

    def start(self) -> None:
        """One polling thread per queue, each honouring its queue's batch size and window (``make dev``)."""
        if self._threads:
            return
        self._stop.clear()
        for queue in self.queues:
            thread = threading.Thread(target=self._poll, args=(queue,), name=f"poller-{queue.binding}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=POLL_WAIT_SECONDS * 5)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _poll(self, queue: PolledQueue) -> None:
        while not self._stop.is_set():
            try:
                messages = self._collect(queue, window_seconds=queue.batch_window_seconds, long_poll=True)
                if messages:
                    with self._delivering:
                        self.report.add(self._deliver(queue, messages, self.function)[0])
            except Exception:  # noqa: BLE001 - a dev server's poller logs and keeps polling, as Lambda's does
                logger.exception("local poller failed", extra={"queue": queue.binding})
                self._stop.wait(POLL_WAIT_SECONDS)

    # ---------------------------------------------------------------- batches

    def _collect(self, queue: PolledQueue, *, window_seconds: float, long_poll: bool) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages: the first long-polled for (or not, when draining), then more gathered
        until the window ends; with no window, whatever the queue holds right now fills the batch."""
        messages: list[dict[str, Any]] = []
        window_ends: float | None = None
        while len(messages) < queue.batch_size:
            if window_ends is None:
                wait = POLL_WAIT_SECONDS if long_poll else 0
            elif window_seconds:
                if time.monotonic() >= window_ends:
                    break
                wait = POLL_WAIT_SECONDS  # returns as soon as a message arrives: the window is overrun by < 1 s
            else:
                wait = 0
            received = self._sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=min(SQS_BATCH_MAX_ENTRIES, queue.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if received and window_ends is None:
                window_ends = time.monotonic() + window_seconds
            elif not received and (window_ends is None or not window_seconds):
                break
            if long_poll and self._stop.is_set():
                break  # stopping: what was gathered is still delivered
        return messages

    def _deliver(
        self, queue: PolledQueue, messages: Sequence[dict[str, Any]], function: LocalFunction
    ) -> tuple[DeliveryReport, list[str]]:
        """Invoke ``function`` on ``messages``, delete the ones it handled; returns the receipt handles coming back."""
        report = DeliveryReport(invocations=1, records=len(messages), batch_sizes=[len(messages)])
        event = {"Records": [sqs_record(message, queue.arn) for message in messages]}
        try:
            response = function(event)
        except Exception:  # noqa: BLE001 - Lambda records the error and lets the batch's visibility run out
            logger.exception("consumer raised: the whole batch comes back", extra={"queue": queue.binding})
            report.errors = 1
            return report, [m["ReceiptHandle"] for m in messages]
        failed = batch_item_failures(response, {m["MessageId"] for m in messages})
        if failed is None:
            logger.warning(
                "consumer answered batchItemFailures Lambda rejects: the whole batch comes back",
                extra={"queue": queue.binding, "response": repr(response)[:500]},
            )
            report.errors = 1
            return report, [m["ReceiptHandle"] for m in messages]
        report.failed = len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_BATCH_MAX_ENTRIES):
            chunk = done[start : start + SQS_BATCH_MAX_ENTRIES]
            result = self._sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            report.deleted += len(result.get("Successful", []))
            for refused in result.get("Failed", []):
                logger.warning(
                    "delete refused: the message will be delivered again",
                    extra={"queue": queue.binding, "message_id": chunk[int(refused["Id"])]["MessageId"]},
                )
        return report, [m["ReceiptHandle"] for m in messages if m["MessageId"] in failed]

    def _release(self, queue: PolledQueue, receipt_handles: Sequence[str]) -> None:
        """Make messages that are coming back visible now, whatever delay they were given."""
        for start in range(0, len(receipt_handles), SQS_BATCH_MAX_ENTRIES):
            chunk = receipt_handles[start : start + SQS_BATCH_MAX_ENTRIES]
            self._sqs.change_message_visibility_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
            )


def batch_item_failures(response: Any, message_ids: set[str]) -> set[str] | None:
    """The ids a function's response reports as failed, or None when Lambda would fail the whole batch.

    As Lambda reads it: no response, or one whose ``batchItemFailures`` is missing, null or empty, means all
    succeeded; a response that is not an object, or an item whose ``itemIdentifier`` is missing, empty or not in
    the batch, fails the batch.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return None
    if response.get("batchItemFailures") is None:
        return set()
    items = response["batchItemFailures"]
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage message as a record of Lambda's SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute in Lambda's camelCase shape (binary values base64-encoded, as in the JSON event)."""
    attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def polled_queues(sqs: Any, layout: StorageLayout, queue_urls: Mapping[str, str]) -> list[PolledQueue]:
    """The layout's queues (by binding, at ``queue_urls``) with their event source settings."""
    polled = []
    for spec in layout.queues:
        url = queue_urls[spec.binding]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        polled.append(PolledQueue(spec.binding, url, arn, spec.batch_size, spec.batch_window_seconds))
    return polled
