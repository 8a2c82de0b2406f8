"""Cloudflare Queues on SQS: the producer's ``send`` / ``send_batch`` and the consumer's ``MessageBatch``.

A message body travels as the SQS message body, its content type as the ``contentType`` message attribute:
``json`` bodies as JSON text, ``text`` as is, ``bytes`` base64-encoded (SQS bodies are text). Cloudflare's limits
apply in Cloudflare's units (1 KB = 1,000 bytes): a message is at most 128 KB counting the ~100 bytes of metadata
Cloudflare counts with it (so a body of at most 127,900 bytes: JSON as its UTF-8 text, text as its UTF-8 bytes,
bytes as themselves, before the base64 SQS needs), a ``send_batch`` at most 100 messages and 256 KB counted the same
way, metadata included. Where SQS is stricter (a delay of at most 900 s) the binding raises and says so rather than
sending something else. Options come as Python keywords or as the mapping Worker code passes
(``send(body, {"contentType": "text", "delaySeconds": 5})``), in camelCase or snake_case; an unknown option is
refused by name. The sender's correlation id (``ttai.observability``), when it has one, travels as the
``correlationId`` attribute and reaches the consumer as ``Message.correlation_id``.

The consumer side turns a Lambda SQS event into a ``MessageBatch`` with Cloudflare's ack / retry semantics and
hands Lambda back the messages to redeliver as ``batchItemFailures`` (the event source needs
ReportBatchItemFailures); see :func:`consume`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ttai.bindings import common
from ttai.bindings.common import reports_unavailable
from ttai.errors import BindingError, describe_error

T = TypeVar("T")

ContentType = Literal["json", "text", "bytes"]
CONTENT_TYPES: tuple[ContentType, ...] = ("json", "text", "bytes")
CONTENT_TYPE_ATTRIBUTE = "contentType"
CORRELATION_ID_ATTRIBUTE = "correlationId"
# Cloudflare's limits, in its units (1 KB = 1,000 bytes), counting the metadata it stores with each message.
MESSAGE_MAX_BYTES = 128_000
MESSAGE_METADATA_BYTES = 100
MESSAGE_MAX_BODY_BYTES = MESSAGE_MAX_BYTES - MESSAGE_METADATA_BYTES
SEND_BATCH_MAX_MESSAGES = 100
SEND_BATCH_MAX_BYTES = 256_000
SQS_BATCH_MAX_ENTRIES = 10
# SQS's own limit on one SendMessageBatch (bodies and attributes), as queues made before 2025 still have it: base64
# makes a bytes body a third bigger, so a Cloudflare batch can need more SQS batches than its count alone says.
SQS_BATCH_MAX_BYTES = 256 * 1024
SEND_OPTIONS = ("content_type", "delay_seconds")
SEND_BATCH_OPTIONS = ("delay_seconds",)
MESSAGE_FIELDS = ("body", "content_type", "delay_seconds")
RETRY_OPTIONS = ("delay_seconds",)
SQS_MAX_DELAY_SECONDS = 900
CLOUDFLARE_MAX_DELAY_SECONDS = 43_200
# A retry delay becomes the message's visibility timeout, which SQS caps at 12 hours: Cloudflare's maximum fits.
RETRY_MAX_DELAY_SECONDS = 43_200
# Cloudflare's default retry_delay: a retried message may be delivered again at once.
DEFAULT_RETRY_DELAY_SECONDS = 0
DEPENDENCY = "the queue"  # what a 503 calls SQS when it throttles or is away


class QueueError(BindingError):
    """Base of the queue binding's errors."""


class MessageTooLarge(QueueError, common.ValueTooLarge):
    """A message over Cloudflare's 128 KB (128,000 bytes, its ~100 bytes of metadata included), or a send_batch
    over 256 KB counted the same way."""


class TooManyMessages(QueueError):
    """A send_batch of more than 100 messages."""


class InvalidMessage(QueueError):
    """A body that cannot be encoded as its content type, an unknown content type, or a bad delay."""


class InvalidOption(InvalidMessage, common.InvalidOption):
    """An option the queue does not take (named), one given twice, or options that are not a mapping."""


class QueueSendError(QueueError):
    """SQS refused some messages of a batch, even after a retry; ``failed`` holds their indexes and reasons."""

    def __init__(self, message: str, failed: Mapping[int, str]) -> None:
        super().__init__(message)
        self.failed = dict(failed)


@dataclass(frozen=True, slots=True)
class MessageSendRequest:
    """One message of a ``send_batch``, as Cloudflare's ``MessageSendRequest``."""

    body: Any
    content_type: ContentType = "json"
    delay_seconds: int | None = None


def encode_body(body: Any, content_type: ContentType) -> str:
    """The SQS body for ``body`` sent as ``content_type``; raises InvalidMessage / MessageTooLarge."""
    text, size = _encode(body, content_type)
    if size + MESSAGE_METADATA_BYTES > MESSAGE_MAX_BYTES:
        raise MessageTooLarge(
            f"message is {size} bytes plus the {MESSAGE_METADATA_BYTES} bytes of metadata Cloudflare counts; a queue "
            f"message may be at most {MESSAGE_MAX_BYTES} bytes (128 KB, 1 KB = 1,000 bytes), so a body at most "
            f"{MESSAGE_MAX_BODY_BYTES}"
        )
    return text


def body_size(body: Any, content_type: ContentType) -> int:
    """The bytes Cloudflare counts for ``body`` (metadata not included): JSON and text as UTF-8, bytes as they are."""
    return _encode(body, content_type)[1]


def _encode(body: Any, content_type: ContentType) -> tuple[str, int]:
    if content_type == "json":
        try:
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidMessage(f"body cannot be sent as json: {exc}") from exc
        return text, _utf8_size(text)
    if content_type == "text":
        if not isinstance(body, str):
            raise InvalidMessage(f"a text message needs a str body, not {type(body).__name__}")
        return body, _utf8_size(body)
    if content_type == "bytes":
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidMessage(f"a bytes message needs a bytes body, not {type(body).__name__}")
        raw = bytes(body)
        return base64.b64encode(raw).decode("ascii"), len(raw)
    raise InvalidMessage(f"unknown content type {content_type!r}: use one of {', '.join(CONTENT_TYPES)}")


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidMessage(f"the body is not valid Unicode text (it holds a lone surrogate): {exc.reason}") from exc


def decode_body(text: str, content_type: str | None) -> Any:
    """The body as the producer gave it (the inverse of :func:`encode_body`); unknown types read as json."""
    if content_type == "text":
        return text
    if content_type == "bytes":
        return base64.b64decode(text, validate=True)
    return json.loads(text)


def message_attributes(content_type: ContentType) -> dict[str, dict[str, str]]:
    """The SQS message attributes of a message sent now: its content type, and the sender's correlation id."""
    from ttai.observability import correlation_id  # noqa: PLC0415 - a producer's handler has loaded it already

    attributes = {CONTENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": content_type}}
    current = correlation_id()
    if current:
        attributes[CORRELATION_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": current}
    return attributes


def _check_delay(delay_seconds: int | None) -> None:
    if delay_seconds is None:
        return
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int) or delay_seconds < 0:
        raise InvalidMessage(f"delay_seconds must be a whole number of seconds >= 0, not {delay_seconds!r}")
    if delay_seconds > SQS_MAX_DELAY_SECONDS:
        raise InvalidMessage(
            f"delay_seconds={delay_seconds}: Cloudflare allows up to {CLOUDFLARE_MAX_DELAY_SECONDS} s but SQS "
            f"delays a message at most {SQS_MAX_DELAY_SECONDS} s; schedule longer delays another way"
        )


class Queue:
    """A producer bound to one SQS queue (``env.TASK_QUEUE``...)."""

    def __init__(self, url: str, *, sqs: Any, binding: str = "QUEUE") -> None:
        self.url = url
        self.binding = binding
        self._sqs = sqs

    def __repr__(self) -> str:
        return f"Queue({self.binding}, {self.url})"

    @reports_unavailable(DEPENDENCY)
    def send(
        self,
        body: Any,
        content_type: ContentType | Mapping[str, Any] | None = None,
        delay_seconds: int | None = None,
        **worker_options: Any,
    ) -> str:
        """Send one message; returns the SQS message id. Nothing is sent if the body or options are invalid.

        ``content_type`` is "json" unless given. Options as keywords (``content_type="text"``, ``delay_seconds=5``,
        or Cloudflare's ``contentType`` / ``delaySeconds``) or as the options mapping a Worker passes:
        ``send(body, {"contentType": "text"})``.
        """
        given = content_type if isinstance(content_type, Mapping) else {"content_type": content_type}
        chosen = common.worker_options(
            "send", SEND_OPTIONS, given, {"delay_seconds": delay_seconds}, worker_options, error=InvalidOption
        )
        kind: ContentType = chosen.get("content_type", "json")
        delay: int | None = chosen.get("delay_seconds")
        text = encode_body(body, kind)
        _check_delay(delay)
        request: dict[str, Any] = {
            "QueueUrl": self.url,
            "MessageBody": text,
            "MessageAttributes": message_attributes(kind),
        }
        if delay is not None:
            request["DelaySeconds"] = delay
        return str(self._sqs.send_message(**request)["MessageId"])

    @reports_unavailable(DEPENDENCY)
    def send_batch(
        self,
        messages: Iterable[MessageSendRequest | Mapping[str, Any]],
        delay_seconds: int | Mapping[str, Any] | None = None,
        **worker_options: Any,
    ) -> list[str]:
        """Send up to 100 messages (256 KB in all, Cloudflare's limits) in SQS batches of up to 10; returns their
        message ids in order.

        A message is a ``MessageSendRequest`` or the mapping a Worker passes (``{"body": ..., "contentType": ...,
        "delaySeconds": ...}``, either casing); the batch's delay a keyword or ``{"delaySeconds": n}``. Every
        message is encoded and checked before the first is sent, so an invalid one (or a batch over a limit) sends
        none. Entries SQS fails for a transient reason are retried once; any still failing raise QueueSendError
        naming them (the others were sent: SQS batches are not atomic).
        """
        if isinstance(delay_seconds, Mapping):
            chosen = common.worker_options(
                "send_batch", SEND_BATCH_OPTIONS, delay_seconds, worker_options, error=InvalidOption
            )
        else:
            chosen = common.worker_options(
                "send_batch", SEND_BATCH_OPTIONS, {"delay_seconds": delay_seconds}, worker_options, error=InvalidOption
            )
        batch_delay: int | None = chosen.get("delay_seconds")
        _check_delay(batch_delay)
        if isinstance(messages, str | bytes | Mapping):
            raise InvalidMessage("send_batch takes a list of messages (each a MessageSendRequest or a mapping)")
        requests = [_send_request(m, index) for index, m in enumerate(messages)]
        if len(requests) > SEND_BATCH_MAX_MESSAGES:
            raise TooManyMessages(f"send_batch takes at most {SEND_BATCH_MAX_MESSAGES} messages, got {len(requests)}")
        entries: list[dict[str, Any]] = []
        total = 0
        for index, request in enumerate(requests):
            text, size = _encode(request.body, request.content_type)
            if size + MESSAGE_METADATA_BYTES > MESSAGE_MAX_BYTES:
                encode_body(request.body, request.content_type)  # raises MessageTooLarge with the reason
            delay = request.delay_seconds if request.delay_seconds is not None else batch_delay
            _check_delay(delay)
            total += size + MESSAGE_METADATA_BYTES
            entry: dict[str, Any] = {
                "Id": str(index),
                "MessageBody": text,
                "MessageAttributes": message_attributes(request.content_type),
            }
            if delay is not None:
                entry["DelaySeconds"] = delay
            entries.append(entry)
        if total > SEND_BATCH_MAX_BYTES:
            raise MessageTooLarge(
                f"send_batch of {len(entries)} messages is {total} bytes counting the {MESSAGE_METADATA_BYTES} bytes "
                f"of metadata Cloudflare counts per message; a send_batch takes at most {SEND_BATCH_MAX_BYTES} bytes "
                "(256 KB, 1 KB = 1,000 bytes): send it in smaller batches"
            )
        ids: dict[int, str] = {}
        failed: dict[int, str] = {}
        for chunk in _sqs_batches(entries):
            sent, refused = self._send_entries(chunk)
            if refused and all(not sender_fault for _, sender_fault in refused.values()):
                retry = [e for e in chunk if int(e["Id"]) in refused]
                more, refused = self._send_entries(retry)
                sent.update(more)
            ids.update(sent)
            failed.update({index: reason for index, (reason, _) in refused.items()})
        if failed:
            raise QueueSendError(
                f"SQS refused {len(failed)} of {len(entries)} messages: "
                + "; ".join(f"#{i}: {reason}" for i, reason in sorted(failed.items())),
                failed,
            )
        return [ids[i] for i in range(len(entries))]

    def _send_entries(self, entries: list[dict[str, Any]]) -> tuple[dict[int, str], dict[int, tuple[str, bool]]]:
        response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        sent = {int(s["Id"]): str(s["MessageId"]) for s in response.get("Successful", [])}
        refused = {
            int(f["Id"]): (f"{f.get('Code', 'Error')}: {f.get('Message', '')}".strip(), bool(f.get("SenderFault")))
            for f in response.get("Failed", [])
        }
        return sent, refused


def _send_request(message: MessageSendRequest | Mapping[str, Any], index: int) -> MessageSendRequest:
    """A ``MessageSendRequest`` from what a Worker passes: the typed object, or a mapping in either casing."""
    if isinstance(message, MessageSendRequest):
        return message
    if not isinstance(message, Mapping):
        raise InvalidMessage(
            f"send_batch message #{index} must be a MessageSendRequest or a mapping, not {type(message).__name__}"
        )
    if "body" not in message:
        raise InvalidMessage(f"send_batch message #{index} has no body")
    fields = common.worker_options(f"send_batch message #{index}", MESSAGE_FIELDS, message, error=InvalidOption)
    return MessageSendRequest(message["body"], fields.get("content_type", "json"), fields.get("delay_seconds"))


def _sqs_size(entry: Mapping[str, Any]) -> int:
    """What SQS counts of one SendMessageBatch entry: its body and its attributes' names, types and values."""
    size = len(str(entry["MessageBody"]).encode("utf-8"))
    for name, attribute in entry["MessageAttributes"].items():
        size += len(name.encode("utf-8")) + len(attribute["DataType"]) + len(attribute["StringValue"].encode("utf-8"))
    return size


def _sqs_batches(entries: Sequence[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """The entries in order, in SendMessageBatch calls of at most 10 entries and SQS's batch size."""
    return cut_batches(entries, max_items=SQS_BATCH_MAX_ENTRIES, max_bytes=SQS_BATCH_MAX_BYTES, size=_sqs_size)


def cut_batches(items: Iterable[T], *, max_items: int, max_bytes: int, size: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, cut into as few batches as fit: each at most ``max_items`` long and ``max_bytes`` by
    ``size`` (an item alone over ``max_bytes`` is a batch of its own, for the caller's check to refuse)."""
    batch: list[T] = []
    total = 0
    for item in items:
        counted = size(item)
        if batch and (len(batch) == max_items or total + counted > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += counted
    if batch:
        yield batch


def _check_retry_delay(delay_seconds: int | None) -> None:
    if delay_seconds is None:
        return
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int) or delay_seconds < 0:
        raise InvalidMessage(f"retry delay_seconds must be a whole number of seconds >= 0, not {delay_seconds!r}")
    if delay_seconds > RETRY_MAX_DELAY_SECONDS:
        raise InvalidMessage(
            f"retry delay_seconds={delay_seconds}: a message can be retried at most {RETRY_MAX_DELAY_SECONDS} s "
            "later (Cloudflare's limit, and SQS's longest visibility timeout)"
        )


_ACK = 1
_RETRY = 2


class _FirstDecision:
    """Cloudflare's rule for a message and for a batch alike: the first of ack / retry wins, later calls are ignored."""

    __slots__ = ("_decision", "_delay")

    def __init__(self) -> None:
        self._decision = 0
        self._delay: int | None = None

    def _decide(self, decision: int, delay_seconds: int | None = None) -> None:
        if decision == _RETRY:
            _check_retry_delay(delay_seconds)  # a bad delay raises even when the call would be ignored
        if not self._decision:
            self._decision = decision
            self._delay = delay_seconds


class Message(_FirstDecision):
    """One delivered message, as Cloudflare's ``Message``: ``id``, ``timestamp``, ``body``, ``attempts``; and the
    ``correlation_id`` its sender logged under, if it had one.

    The first of ``ack()`` / ``retry()`` wins; later calls on the same message are ignored, and either beats a
    batch-level ``ack_all()`` / ``retry_all()``.
    """

    __slots__ = (
        "_queue_arn",
        "_receipt_handle",
        "attempts",
        "body",
        "content_type",
        "correlation_id",
        "id",
        "timestamp",
    )

    def __init__(
        self,
        id: str,
        timestamp: datetime,
        body: Any,
        attempts: int,
        *,
        content_type: str | None = None,
        correlation_id: str | None = None,
        receipt_handle: str = "",
        queue_arn: str = "",
    ) -> None:
        self.id = id
        self.timestamp = timestamp
        self.body = body
        self.attempts = attempts
        self.content_type = content_type
        self.correlation_id = correlation_id
        self._receipt_handle = receipt_handle
        self._queue_arn = queue_arn
        super().__init__()

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, attempts={self.attempts}, content_type={self.content_type!r})"

    def ack(self) -> None:
        """Mark this message done: it is not delivered again, even if the handler raises afterwards."""
        self._decide(_ACK)

    def retry(self, delay_seconds: int | Mapping[str, Any] | None = None, **worker_options: Any) -> None:
        """Deliver this message again, ``delay_seconds`` (0..43200) from now or after the consumer's retry delay;
        also as a Worker passes it, ``retry({"delaySeconds": 30})``."""
        self._decide(_RETRY, _retry_delay("retry", delay_seconds, worker_options))


class MessageBatch(_FirstDecision):
    """The messages of one delivery, as Cloudflare's ``MessageBatch``: ``queue`` (the queue's name), ``messages``."""

    __slots__ = ("messages", "queue")

    def __init__(self, queue: str, messages: Sequence[Message]) -> None:
        self.queue = queue
        self.messages = tuple(messages)
        super().__init__()

    def __repr__(self) -> str:
        return f"MessageBatch(queue={self.queue!r}, messages={len(self.messages)})"

    def ack_all(self) -> None:
        """Mark every message without a decision of its own as done (the first batch-level call wins)."""
        self._decide(_ACK)

    def retry_all(self, delay_seconds: int | Mapping[str, Any] | None = None, **worker_options: Any) -> None:
        """Deliver again every message without a decision of its own (the first batch-level call wins); the delay as
        ``retry``'s."""
        self._decide(_RETRY, _retry_delay("retry_all", delay_seconds, worker_options))


def _retry_delay(call: str, delay_seconds: int | Mapping[str, Any] | None, extra: Mapping[str, Any]) -> int | None:
    given = delay_seconds if isinstance(delay_seconds, Mapping) else {"delay_seconds": delay_seconds}
    delay: int | None = common.worker_options(call, RETRY_OPTIONS, given, extra, error=InvalidOption).get(
        "delay_seconds"
    )
    return delay


def queue_name(queue_arn: str) -> str:
    """The queue's name from its ARN (``arn:aws:sqs:<region>:<account>:<name>``)."""
    return queue_arn.rsplit(":", 1)[-1]


def queue_url(queue_arn: str, *, sqs: Any) -> str:
    """The queue URL for ``queue_arn`` on the client's endpoint (AWS's or moto's), without a GetQueueUrl call."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return f"{str(sqs.meta.endpoint_url).rstrip('/')}/{account}/{name}"


def _string_attribute(record: Mapping[str, Any], name: str) -> str | None:
    """A message attribute's string value from a Lambda SQS record (None when the sender set none)."""
    attribute = (record.get("messageAttributes") or {}).get(name)
    value = attribute.get("stringValue") if isinstance(attribute, Mapping) else None
    return value if isinstance(value, str) and value else None


def message_from_record(record: Mapping[str, Any]) -> Message:
    """A :class:`Message` from one record of a Lambda SQS event; raises ValueError if its body cannot be decoded."""
    attributes = record["attributes"]
    content_type = _string_attribute(record, CONTENT_TYPE_ATTRIBUTE)
    try:
        body = decode_body(record["body"], content_type)
    except (ValueError, binascii.Error) as exc:  # json.JSONDecodeError and base64 errors are ValueErrors
        raise ValueError(f"body cannot be decoded as {content_type or 'json'}: {exc}") from exc
    return Message(
        record["messageId"],
        datetime.fromtimestamp(int(attributes["SentTimestamp"]) / 1000, tz=UTC),
        body,
        int(attributes["ApproximateReceiveCount"]),
        content_type=content_type,
        correlation_id=_string_attribute(record, CORRELATION_ID_ATTRIBUTE),
        receipt_handle=record["receiptHandle"],
        queue_arn=record["eventSourceARN"],
    )


@dataclass(frozen=True, slots=True)
class _Retry:
    message_id: str
    receipt_handle: str
    queue_arn: str
    attempts: int
    delay_seconds: int | None
    reason: str
    correlation_id: str | None


def consume(
    event: Mapping[str, Any],
    handler: Callable[[MessageBatch], object],
    *,
    sqs: Any,
    retry_delay_seconds: int | None = DEFAULT_RETRY_DELAY_SECONDS,
) -> dict[str, list[dict[str, str]]]:
    """Run ``handler`` on the batch a Lambda SQS event carries; returns the ``batchItemFailures`` to redeliver.

    Each message ends acked or retried, decided in this order: its own first ``ack()`` / ``retry()``; else the
    batch's first ``ack_all()`` / ``retry_all()``; else retried if the handler raised; else acked, as a
    Cloudflare consumer that returns normally acknowledges its batch. A handler exception is logged, not raised:
    raising would make Lambda redeliver the acked messages too. A record whose body cannot be decoded never
    reaches the handler; it is retried (and ends in the DLQ) with its reason logged.

    A retried message's delay (its own, else the batch's, else ``retry_delay_seconds``, the consumer's
    ``retry_delay``) becomes its visibility timeout through ChangeMessageVisibilityBatch, one call per 10
    messages. With the default of 0 it is visible again at once, as on Cloudflare; ``None`` leaves it to the
    queue's visibility timeout and makes no call.
    """
    _check_retry_delay(retry_delay_seconds)
    records: Sequence[Mapping[str, Any]] = event.get("Records") or ()
    messages: list[Message] = []
    retries: list[_Retry] = []
    for record in records:
        try:
            messages.append(message_from_record(record))
        except (ValueError, KeyError) as exc:
            attempts = int(record.get("attributes", {}).get("ApproximateReceiveCount", 0))
            retries.append(
                _Retry(
                    record["messageId"],
                    record["receiptHandle"],
                    record["eventSourceARN"],
                    attempts,
                    retry_delay_seconds,
                    f"malformed record: {exc}",
                    _string_attribute(record, CORRELATION_ID_ATTRIBUTE),
                )
            )
    if not messages and not retries:
        return {"batchItemFailures": []}
    batch = MessageBatch(queue_name(records[0]["eventSourceARN"]), messages)
    failure: str | None = None
    if messages:
        try:
            handler(batch)
        except Exception as exc:  # noqa: BLE001 - any handler error retries the batch's undecided messages
            # Described, not logged with its traceback: a foreign exception's message can quote a credential.
            failure = f"handler raised {describe_error(exc)}"
            _log().error(
                "queue handler raised", extra={"queue": batch.queue, "messages": len(messages), "error": failure}
            )
    for message in messages:
        decision = message._decision or batch._decision
        if decision == _ACK or (not decision and failure is None):
            continue
        if message._decision:
            delay, reason = message._delay, "retry()"
        elif batch._decision:
            delay, reason = batch._delay, "retry_all()"
        else:
            delay, reason = None, failure or ""
        retries.append(
            _Retry(
                message.id,
                message._receipt_handle,
                message._queue_arn,
                message.attempts,
                retry_delay_seconds if delay is None else delay,
                reason,
                message.correlation_id,
            )
        )
    if retries:
        _log_retries(batch.queue, retries)
        _apply_delays(retries, sqs=sqs)
    return {"batchItemFailures": [{"itemIdentifier": retry.message_id} for retry in retries]}


def _log() -> Any:
    from ttai.observability import logger  # noqa: PLC0415 - only consumers that retry pay for the import

    return logger


def _log_retries(queue: str, retries: Sequence[_Retry]) -> None:
    from ttai.observability import correlated  # noqa: PLC0415 - as _log

    logger = _log()
    for retry in retries:
        with correlated(retry.correlation_id or retry.message_id):
            logger.warning(
                "queue message retried",
                extra={
                    "queue": queue,
                    "message_id": retry.message_id,
                    "reason": retry.reason,
                    "attempts": retry.attempts,
                    "delay_seconds": retry.delay_seconds,
                },
            )


def _apply_delays(retries: Sequence[_Retry], *, sqs: Any) -> None:
    """Each delayed retry's visibility timeout set, in ChangeMessageVisibilityBatch calls of at most 10."""
    by_queue: dict[str, list[_Retry]] = {}
    for retry in retries:
        if retry.delay_seconds is not None:
            by_queue.setdefault(retry.queue_arn, []).append(retry)
    for arn, pending in by_queue.items():
        url = queue_url(arn, sqs=sqs)
        for start in range(0, len(pending), SQS_BATCH_MAX_ENTRIES):
            chunk = pending[start : start + SQS_BATCH_MAX_ENTRIES]
            entries = [
                {"Id": str(index), "ReceiptHandle": retry.receipt_handle, "VisibilityTimeout": retry.delay_seconds}
                for index, retry in enumerate(chunk)
            ]
            # A refused change is not fatal: the message is still reported as failed, so it comes back after
            # the visibility timeout it already has.
            try:
                response = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                _log().warning(
                    "retry delays not applied", extra={"queue_url": url, "messages": len(chunk), "error": str(exc)}
                )
                continue
            for failed in response.get("Failed", []):
                retry = chunk[int(failed["Id"])]
                _log().warning(
                    "retry delay not applied",
                    extra={
                        "queue_url": url,
                        "message_id": retry.message_id,
                        "error": f"{failed.get('Code', 'Error')}: {failed.get('Message', '')}",
                    },
                )
