"""``env.ANALYSIS_WORKFLOW``: Cloudflare's Workflow binding (``create``, ``create_batch``, ``get``) and instances.

An instance id is registered before its execution starts, atomically, so a second ``create`` with the same id
raises as Cloudflare's does (Lambda's own DurableExecutionName is idempotent and would return the first
execution instead). A restart stops the current execution and starts a new one under a new name; events sent
to an instance wait in its run's mailbox until a ``wait_for_event`` of their type takes them.

Statuses are Cloudflare's: ``queued`` (registered, execution not visible yet), ``running``, ``waiting`` (on a
sleep, an event or a retry's backoff), ``waitingForPause``, ``paused``, ``complete``, ``errored``,
``terminated``, ``unknown`` (the execution is gone, past Lambda's retention).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ttai.bindings.common import reports_unavailable
from ttai.bindings.workflows.backend import (
    EVENT_TYPE_MAX,
    INSTANCE_ID_MAX,
    ExecutionView,
    InstanceRecord,
    WorkflowBackend,
    blob_key,
    deliver,
    event_envelope,
    execution_name,
    inline_or_blob,
    resolve_blob,
    to_json,
)
from ttai.bindings.workflows.errors import (
    InstanceAlreadyExists,
    InstanceNotFound,
    InstanceNotRunning,
    InvalidBatch,
    InvalidEvent,
    InvalidInstanceId,
    WorkflowError,
)
from ttai.bindings.workflows.events import StartPayload
from ttai.bindings.workflows.runtime import error_name

BATCH_MAX = 100
DEPENDENCY = "the workflow engine"  # what a 503 calls Lambda or DynamoDB behind a workflow when it is busy or away
_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*$")
_RESERVED_IDS = frozenset({"batch", "terminate", "terminateAll"})
_CF_ID = re.compile(r"^cf_[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f]")
Status = Literal[
    "queued", "running", "paused", "errored", "terminated", "complete", "waiting", "waitingForPause", "unknown"
]
TERMINAL: frozenset[str] = frozenset({"complete", "errored", "terminated"})
_STATUS = {
    "SUCCEEDED": "complete",
    "FAILED": "errored",
    "TIMED_OUT": "errored",
    "STOPPED": "terminated",
    "PAUSING": "waitingForPause",
    "PAUSED": "paused",
}


class Workflow:
    """One workflow's binding. ``backend`` says where instances run (Lambda, or the SDK's local runner)."""

    def __init__(self, name: str, backend: WorkflowBackend) -> None:
        if not _ID.match(name) or len(name) > 64:
            raise WorkflowError(f"workflow name {name!r} must be 1 to 64 characters of [a-zA-Z0-9_-]")
        self.name = name
        self._backend = backend

    @reports_unavailable(DEPENDENCY)
    def create(self, id: str | None = None, params: Any = None) -> WorkflowInstance:
        """Start an instance; an id still in use raises InstanceAlreadyExists."""
        instance_id = _checked_id(id) if id is not None else str(uuid.uuid4())
        params_json = to_json({} if params is None else params, "params")
        if not self._start(instance_id, params_json):
            raise InstanceAlreadyExists(f"An instance with id {instance_id!r} already exists")
        return WorkflowInstance(self, instance_id)

    @reports_unavailable(DEPENDENCY)
    def create_batch(self, batch: Sequence[Mapping[str, Any]]) -> list[WorkflowInstance]:
        """Start up to 100 instances; ids that exist (or repeat in the batch) are skipped and left out, as there."""
        if len(batch) == 0:
            raise InvalidBatch("batchCreate should have at least 1 instance")
        if len(batch) > BATCH_MAX:
            raise InvalidBatch(f"batchCreate only supports {BATCH_MAX} instances at a time")
        planned: list[tuple[str, str]] = []
        for options in batch:  # everything is checked before anything starts
            unknown = set(options) - {"id", "params"}
            if unknown:
                raise InvalidBatch(f"unknown instance options: {', '.join(sorted(unknown))}")
            given = options.get("id")
            instance_id = _checked_id(given) if given is not None else str(uuid.uuid4())
            planned.append((instance_id, to_json(options.get("params") or {}, "params")))
        created: list[WorkflowInstance] = []
        seen: set[str] = set()
        for instance_id, params_json in planned:
            if instance_id in seen:
                continue
            seen.add(instance_id)
            if self._start(instance_id, params_json):
                created.append(WorkflowInstance(self, instance_id))
        return created

    @reports_unavailable(DEPENDENCY)
    def get(self, id: str) -> WorkflowInstance:
        """The instance ``id``; InstanceNotFound if this workflow does not know it."""
        if not isinstance(id, str) or self._backend.store.get_instance(self.name, id) is None:
            raise InstanceNotFound("Instance does not exist")
        return WorkflowInstance(self, id)

    # ------------------------------------------------------------------ internals shared with instances

    def _start(self, instance_id: str, params_json: str, generation: int = 0) -> bool:
        name = execution_name(instance_id, generation)
        record = InstanceRecord(self.name, instance_id, name, generation, None, int(self._backend.now() * 1000))
        if generation == 0 and not self._backend.store.add_instance(record):
            return False
        if generation > 0 and not self._backend.store.replace_instance(record, generation - 1):
            raise InstanceNotRunning(f"Instance {instance_id!r} was restarted by someone else meanwhile")
        self._launch(record, params_json)
        return True

    def _launch(self, record: InstanceRecord, params_json: str) -> None:
        params = inline_or_blob(
            params_json, self._backend.blobs, blob_key(self.name, record.execution_name, "params"), "params"
        )
        from ttai.observability import correlation_id  # noqa: PLC0415 - the caller's handler has loaded it already

        start = StartPayload(
            self.name, record.instance_id, record.execution_name, params, record.created_ms, correlation_id()
        )
        try:
            arn = self._backend.engine.start(record.execution_name, start.to_json())
        except Exception:
            if record.generation == 0:  # nothing started: the id is free again
                self._backend.store.remove_instance(record)
            raise
        if arn is not None:
            self._backend.store.replace_instance(record._replace(execution_arn=arn), record.generation)

    def _record(self, instance_id: str) -> InstanceRecord:
        record = self._backend.store.get_instance(self.name, instance_id)
        if record is None:
            raise InstanceNotFound("Instance does not exist")
        if record.execution_arn is None:  # the start happened but its ARN was not recorded: ask Lambda by name
            arn = self._backend.engine.find(record.execution_name)
            if arn is not None:
                record = record._replace(execution_arn=arn)
                self._backend.store.replace_instance(record, record.generation)
        return record

    def _view(self, record: InstanceRecord, *, detail: bool = True) -> tuple[Status, ExecutionView | None]:
        if record.execution_arn is None:
            return "queued", None
        try:
            view = self._backend.engine.describe(record.execution_arn, detail=detail)
        except LookupError:
            return "unknown", None
        if view.status == "RUNNING":
            return ("waiting" if view.waiting else "running"), view
        return _STATUS.get(view.status, "unknown"), view  # type: ignore[return-value]


class WorkflowInstance:
    """A handle on one instance (Cloudflare's WorkflowInstance), synchronous."""

    def __init__(self, workflow: Workflow, instance_id: str) -> None:
        self._workflow = workflow
        self.id = instance_id

    @reports_unavailable(DEPENDENCY)
    def status(self) -> dict[str, Any]:
        """``{"status", "error": {"name", "message"} | None, "output"}`` with Cloudflare's status names."""
        status, view = self._workflow._view(self._workflow._record(self.id))
        error = output = None
        if view is not None and status == "errored" and view.error is not None:
            error = {"name": error_name(view.error.type, view.error.data), "message": view.error.message or ""}
        if view is not None and status == "complete" and view.result:
            output = json.loads(resolve_blob(view.result, self._workflow._backend.blobs))
        return {"status": status, "error": error, "output": output}

    @reports_unavailable(DEPENDENCY)
    def pause(self) -> None:
        record, status = self._current()
        if status in TERMINAL:
            raise InstanceNotRunning(f"Cannot pause instance since it is {status}")
        if status not in ("paused", "waitingForPause") and record.execution_arn is not None:
            self._engine.pause(record.execution_arn)

    @reports_unavailable(DEPENDENCY)
    def resume(self) -> None:
        """Resume a paused instance (or cancel a pending pause); any other state is left as it is."""
        record, status = self._current()
        if status in ("paused", "waitingForPause") and record.execution_arn is not None:
            self._engine.resume(record.execution_arn)

    @reports_unavailable(DEPENDENCY)
    def terminate(self) -> None:
        record, status = self._current()
        if status in TERMINAL:
            raise InstanceNotRunning("Cannot terminate instance since its on a finite state")
        if record.execution_arn is None:
            raise InstanceNotRunning("Cannot terminate an instance whose execution has not started yet")
        self._engine.stop(record.execution_arn)

    @reports_unavailable(DEPENDENCY)
    def restart(self) -> None:
        """Run the instance again from the beginning with its params (a new execution; the old one is stopped)."""
        workflow = self._workflow
        record = workflow._record(self.id)
        status, view = workflow._view(record)
        if record.execution_arn is None or view is None:
            raise InstanceNotRunning(f"Cannot restart an instance that is {status}")
        if status not in TERMINAL:
            self._engine.stop(record.execution_arn)
        start = StartPayload.from_input(view.input or "")
        params_json = resolve_blob(start.params_json, workflow._backend.blobs)
        workflow._start(self.id, params_json, record.generation + 1)

    @reports_unavailable(DEPENDENCY)
    def send_event(self, *, type: str, payload: Any = None) -> None:
        """Send an event to the instance; kept until a ``wait_for_event`` of its type takes it."""
        if not isinstance(type, str) or not 0 < len(type) <= EVENT_TYPE_MAX or _CONTROL.search(type):
            raise InvalidEvent(f"event type must be 1 to {EVENT_TYPE_MAX} characters without control characters")
        backend = self._workflow._backend
        now_ms = int(backend.now() * 1000)
        record, status = self._current()
        if status in TERMINAL:
            raise InstanceNotRunning(f"Cannot send an event to an instance that is {status}")
        envelope = event_envelope(type, json.loads(to_json(payload, "event payload")), now_ms)
        envelope = inline_or_blob(
            envelope,
            backend.blobs,
            blob_key(self._workflow.name, record.execution_name, f"event:{uuid.uuid4()}"),
            "event",
        )
        backend.store.buffer_event(record.scope, type, envelope)
        deliver(backend, record.scope, type)

    @property
    def _engine(self) -> Any:
        return self._workflow._backend.engine

    def _current(self) -> tuple[InstanceRecord, Status]:
        record = self._workflow._record(self.id)
        return record, self._workflow._view(record, detail=False)[0]

    def __repr__(self) -> str:
        return f"WorkflowInstance({self._workflow.name!r}, {self.id!r})"


def _checked_id(instance_id: Any) -> str:
    if (
        not isinstance(instance_id, str)
        or not _ID.match(instance_id)
        or len(instance_id) > INSTANCE_ID_MAX
        or instance_id in _RESERVED_IDS
        or _CF_ID.match(instance_id)
    ):
        raise InvalidInstanceId("Workflow instance has invalid id")
    return instance_id
