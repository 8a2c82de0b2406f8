"""What the binding and a running workflow need from where instances live, and the shapes that cross it.

Two backends implement these protocols: Lambda durable functions with a DynamoDB table (``aws``), and the
durable SDK's local runner with SQLite (``local.workflows``). The binding's logic (ids, statuses, restarts,
event delivery) is written once against them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any, NamedTuple, Protocol

from ttai.bindings.workflows.errors import InvalidEvent

# Cloudflare's limits (developers.cloudflare.com/workflows/reference/limits).
INSTANCE_ID_MAX = 100
EVENT_TYPE_MAX = 100
PAYLOAD_MAX_BYTES = 1024 * 1024  # params, an event's payload, a step's result
# The durable SDK checkpoints at most 256 KB per operation: bigger values go to the blob store, by reference.
INLINE_MAX_BYTES = 200 * 1024
BLOB_PREFIX = "workflows/"
_BLOB_REF = "$ttai-blob"
EXECUTION_NAME_MAX = 64  # Lambda's DurableExecutionName
_NAME_SAFE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*$")


class ErrorView(NamedTuple):
    type: str | None
    message: str | None
    data: str | None = None


class ExecutionView(NamedTuple):
    """One durable execution as the service reports it (``status`` is Lambda's ExecutionStatus)."""

    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | STOPPED | PAUSING | PAUSED
    # With ``detail`` only (otherwise False / None): blocked on a sleep, an event or a retry's backoff; the
    # run's result; its input.
    waiting: bool = False
    result: str | None = None
    error: ErrorView | None = None
    input: str | None = None


class InstanceRecord(NamedTuple):
    """Which execution an instance id currently runs as (a restart starts a new one under a new name)."""

    workflow: str
    instance_id: str
    execution_name: str
    generation: int = 0
    execution_arn: str | None = None
    created_ms: int = 0

    @property
    def scope(self) -> str:
        """The mailbox of this run: events sent to it wait here, and a restart starts with an empty one."""
        return f"{self.workflow}#{self.execution_name}"


class DurableEngine(Protocol):
    """Starts and steers durable executions (Lambda's durable execution API, or the SDK's local runner)."""

    native_callback_timeouts: bool  # False: the backend fires wait_for_event timeouts itself (from waiter deadlines)

    def start(self, execution_name: str, input_json: str) -> str | None: ...
    def find(self, execution_name: str) -> str | None: ...
    def describe(self, execution_arn: str, *, detail: bool = True) -> ExecutionView: ...
    def pause(self, execution_arn: str) -> None: ...
    def resume(self, execution_arn: str) -> None: ...
    def stop(self, execution_arn: str) -> None: ...
    def send_callback(self, callback_id: str, result_json: str) -> None: ...


class Delivery(NamedTuple):
    callback_id: str
    envelope: str


class InstanceStore(Protocol):
    """The instance registry and the event mailbox (see ``records`` for the DynamoDB item shapes)."""

    def add_instance(self, record: InstanceRecord) -> bool: ...
    def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None: ...
    def replace_instance(self, record: InstanceRecord, expected_generation: int) -> bool: ...
    def remove_instance(self, record: InstanceRecord) -> None: ...
    def buffer_event(self, scope: str, event_type: str, envelope: str) -> None: ...
    def set_waiter(self, scope: str, event_type: str, callback_id: str, deadline_ms: int) -> None: ...
    def claim(self, scope: str, event_type: str, callback_id: str | None = None) -> Delivery | None: ...


class BlobBody(Protocol):
    def bytes(self) -> bytes: ...


class BlobStore(Protocol):
    """Where values too big for a checkpoint go: the R2 binding on AWS (its ``put`` / ``get`` suffice)."""

    def put(self, key: str, value: bytes) -> Any: ...
    def get(self, key: str) -> BlobBody | None: ...


class BucketBlobs:
    """The R2 binding as the blob store (big values under ``workflows/`` in the bucket). Given a function instead of
    the bucket, it asks for the bucket the first time a value is too big for a checkpoint: a function whose values
    never are (the scheduler starting the backup) needs no bucket at all."""

    def __init__(self, bucket: Any) -> None:
        self._bucket = bucket  # a ttai.bindings.r2.R2Bucket, or a function returning it

    @property
    def bucket(self) -> Any:
        if callable(self._bucket) and not hasattr(self._bucket, "put"):
            self._bucket = self._bucket()
        return self._bucket

    def put(self, key: str, value: bytes) -> Any:
        return self.bucket.put(key, value)

    def get(self, key: str) -> BlobBody | None:
        found = self.bucket.get(key)
        return found if found is not None and hasattr(found, "bytes") else None


@dataclass(frozen=True, slots=True)
class WorkflowBackend:
    engine: DurableEngine
    store: InstanceStore
    blobs: BlobStore
    now: Callable[[], float] = field(default=time.time)  # seconds since the epoch; a virtual clock locally


# Backends this process runs itself, by the function ARN they stand in for: the local runner registers its engines
# here, and ``Env`` uses one before it would call Lambda (which has no such function locally).
_HOSTED: dict[str, WorkflowBackend] = {}


def host(function_arn: str, backend: WorkflowBackend) -> None:
    """Serve the workflow deployed at ``function_arn`` from ``backend`` in this process (local runs)."""
    _HOSTED[function_arn] = backend


def unhost(function_arn: str) -> None:
    _HOSTED.pop(function_arn, None)


def hosted(function_arn: str) -> WorkflowBackend | None:
    return _HOSTED.get(function_arn)


def deliver(backend: WorkflowBackend, scope: str, event_type: str, callback_id: str | None = None) -> bool:
    """Hand the oldest buffered event of ``event_type`` to the waiter, if both exist; True if one was delivered.

    Called after an event is buffered and after a waiter registers, so whichever comes second delivers; the
    store's claim takes the event and the waiter together, so an event is delivered once.
    """
    delivery = backend.store.claim(scope, event_type, callback_id)
    if delivery is None:
        return False
    backend.engine.send_callback(delivery.callback_id, delivery.envelope)
    return True


def execution_name(instance_id: str, generation: int) -> str:
    """Lambda's DurableExecutionName for run ``generation`` of an instance (at most 64 of ``[a-zA-Z0-9_-]``).

    The first run of an id that fits is named after it. Every other name starts with ``-``, which no Cloudflare
    id can, and carries a digest of the id, so no two (id, run) pairs share a name.
    """
    if generation == 0 and len(instance_id) <= EXECUTION_NAME_MAX and _NAME_SAFE.match(instance_id):
        return instance_id
    digest = sha256(instance_id.encode()).hexdigest()[:16]
    suffix = f"-{digest}-{generation}"
    return f"-{instance_id[: EXECUTION_NAME_MAX - len(suffix) - 1]}{suffix}"


def blob_key(workflow: str, execution: str, label: str) -> str:
    return f"{BLOB_PREFIX}{workflow}/{execution}/{sha256(label.encode()).hexdigest()[:32]}"


def to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"{what} must be JSON-serialisable: {exc}") from exc


def inline_or_blob(
    text: str, blobs: BlobStore, key: str, what: str, error: Callable[[str], Exception] = InvalidEvent
) -> str:
    """``text`` itself if it fits a checkpoint, else a reference to it stored under ``key``; over 1 MiB raises."""
    size = len(text.encode())
    if size > PAYLOAD_MAX_BYTES:
        raise error(f"{what} is {size} bytes; Cloudflare allows at most {PAYLOAD_MAX_BYTES} (1 MiB)")
    if size <= INLINE_MAX_BYTES:
        return text
    blobs.put(key, text.encode())
    return json.dumps({_BLOB_REF: key, "bytes": size})


def resolve_blob(text: str, blobs: BlobStore) -> str:
    """The value ``inline_or_blob`` stored: ``text`` itself, or the blob it refers to."""
    if not text.startswith('{"' + _BLOB_REF):
        return text
    key = json.loads(text)[_BLOB_REF]
    body = blobs.get(key)
    if body is None:
        raise LookupError(f"the workflow value stored at {key} is missing from the blob store")
    return body.bytes().decode()


def event_envelope(event_type: str, payload: Any, timestamp_ms: int) -> str:
    return json.dumps({"type": event_type, "payload": payload, "timestamp": timestamp_ms}, separators=(",", ":"))
