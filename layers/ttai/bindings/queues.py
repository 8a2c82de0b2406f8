"""Cloudflare Queues on SQS: the producer's ``send`` / ``send_batch`` with Cloudflare's limits.

A message body travels as the SQS message body, its content type as the ``contentType`` message attribute:
``json`` bodies as JSON text, ``text`` as is, ``bytes`` base64-encoded (SQS bodies are text). Cloudflare's limits
apply (128 KB a message, 100 messages a batch); where SQS is stricter (a delay of at most 900 s) the binding
raises and says so rather than sending something else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ttai.errors import BindingError

ContentType = Literal["json", "text", "bytes"]
CONTENT_TYPES: tuple[ContentType, ...] = ("json", "text", "bytes")
CONTENT_TYPE_ATTRIBUTE = "contentType"
MESSAGE_MAX_BYTES = 128 * 1024
SEND_BATCH_MAX_MESSAGES = 100
SEND_BATCH_MAX_BYTES = 256 * 1024
SQS_BATCH_MAX_ENTRIES = 10
SQS_MAX_DELAY_SECONDS = 900
CLOUDFLARE_MAX_DELAY_SECONDS = 43_200


class QueueError(BindingError):
    """Base of the queue binding's errors."""


class MessageTooLarge(QueueError):
    """A message over 128 KB once encoded, or a batch over 256 KB."""


class TooManyMessages(QueueError):
    """A send_batch of more than 100 messages."""


class InvalidMessage(QueueError):
    """A body that cannot be encoded as its content type, an unknown content type, or a bad delay."""


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
    if content_type == "json":
        try:
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidMessage(f"body cannot be sent as json: {exc}") from exc
    elif content_type == "text":
        if not isinstance(body, str):
            raise InvalidMessage(f"a text message needs a str body, not {type(body).__name__}")
        text = body
    elif content_type == "bytes":
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidMessage(f"a bytes message needs a bytes body, not {type(body).__name__}")
        text = base64.b64encode(bytes(body)).decode("ascii")
    else:
        raise InvalidMessage(f"unknown content type {content_type!r}: use one of {', '.join(CONTENT_TYPES)}")
    size = len(text.encode("utf-8"))
    if size > MESSAGE_MAX_BYTES:
        raise MessageTooLarge(f"message is {size} bytes encoded; a queue message may be at most {MESSAGE_MAX_BYTES}")
    return text


def decode_body(text: str, content_type: str | None) -> Any:
    """The body as the producer gave it (the inverse of :func:`encode_body`); unknown types read as json."""
    if content_type == "text":
        return text
    if content_type == "bytes":
        return base64.b64decode(text, validate=True)
    return json.loads(text)


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

    def send(self, body: Any, content_type: ContentType = "json", delay_seconds: int | None = None) -> str:
        """Send one message; returns the SQS message id. Nothing is sent if the body or options are invalid."""
        text = encode_body(body, content_type)
        _check_delay(delay_seconds)
        request: dict[str, Any] = {
            "QueueUrl": self.url,
            "MessageBody": text,
            "MessageAttributes": {CONTENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": content_type}},
        }
        if delay_seconds is not None:
            request["DelaySeconds"] = delay_seconds
        return str(self._sqs.send_message(**request)["MessageId"])

    def send_batch(
        self, messages: Iterable[MessageSendRequest | Mapping[str, Any]], delay_seconds: int | None = None
    ) -> list[str]:
        """Send up to 100 messages as SQS batches of 10; returns their message ids in order.

        Every message is encoded and checked before the first is sent, so an invalid one sends none. Entries SQS
        fails for a transient reason are retried once; any still failing raise QueueSendError naming them (the
        others were sent: SQS batches are not atomic).
        """
        _check_delay(delay_seconds)
        requests = [m if isinstance(m, MessageSendRequest) else MessageSendRequest(**m) for m in messages]
        if len(requests) > SEND_BATCH_MAX_MESSAGES:
            raise TooManyMessages(f"send_batch takes at most {SEND_BATCH_MAX_MESSAGES} messages, got {len(requests)}")
        entries: list[dict[str, Any]] = []
        total = 0
        for index, request in enumerate(requests):
            text = encode_body(request.body, request.content_type)
            delay = request.delay_seconds if request.delay_seconds is not None else delay_seconds
            _check_delay(delay)
            total += len(text.encode("utf-8"))
            entry: dict[str, Any] = {
                "Id": str(index),
                "MessageBody": text,
                "MessageAttributes": {
                    CONTENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": request.content_type}
                },
            }
            if delay is not None:
                entry["DelaySeconds"] = delay
            entries.append(entry)
        if total > SEND_BATCH_MAX_BYTES:
            raise MessageTooLarge(f"batch is {total} bytes encoded; send_batch takes at most {SEND_BATCH_MAX_BYTES}")
        ids: dict[int, str] = {}
        failed: dict[int, str] = {}
        for start in range(0, len(entries), SQS_BATCH_MAX_ENTRIES):
            chunk = entries[start : start + SQS_BATCH_MAX_ENTRIES]
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
