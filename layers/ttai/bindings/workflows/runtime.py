"""A workflow class as a durable function: the handler Lambda (or the local runner) invokes for each replay.

``run`` is called on every invocation and replays up to where it stopped: completed steps return their
checkpointed results without running. When ``run`` raises, the execution fails with an error whose name and
message are those of the error (for a failed step, of the error the step raised), as Cloudflare reports them.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, MutableMapping
from typing import Any

from ttai.bindings.workflows.backend import WorkflowBackend, resolve_blob
from ttai.bindings.workflows.errors import WorkflowStepError
from ttai.bindings.workflows.events import StartPayload, WorkflowEvent, from_millis
from ttai.bindings.workflows.step import WorkflowStep

FAILURE_TYPE = "ttai.bindings.workflows.runtime.WorkflowRunFailed"  # the ErrorType of a failed run


class WorkflowEntrypoint(abc.ABC):
    """Base of a workflow: subclass it and implement ``run(self, event, step)`` (``self.env`` is the Env)."""

    def __init__(self, ctx: Any = None, env: Any = None) -> None:
        self.ctx = ctx
        self.env = env

    @abc.abstractmethod
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        """The workflow; its return value (JSON) is the instance's ``output``."""


def durable_handler(
    workflow: type[WorkflowEntrypoint],
    backend: Callable[[], WorkflowBackend],
    env: Callable[[], Any] | None = None,
) -> Callable[[Any, Any], MutableMapping[str, Any]]:
    """The Lambda handler running ``workflow`` on the durable SDK; ``backend`` and ``env`` are built on first use."""
    from aws_durable_execution_sdk_python import durable_execution  # noqa: PLC0415 - the SDK loads with the handler
    from aws_durable_execution_sdk_python.exceptions import DurableOperationError, UnrecoverableError  # noqa: PLC0415

    from ttai.observability import correlated  # noqa: PLC0415 - as the SDK

    class WorkflowRunFailed(DurableOperationError):
        """How a failed run reaches the service: the original name travels in ``data``, as the SDK records it."""

    # Recorded as FAILURE_TYPE, which error_name() recognises when it reads the status back.
    WorkflowRunFailed.__module__, _, WorkflowRunFailed.__qualname__ = FAILURE_TYPE.rpartition(".")

    def run(event: Any, context: Any) -> Any:
        start = StartPayload.from_input(event)
        services = backend()
        params_json = resolve_blob(start.params_json, services.blobs)
        instance = workflow(None, env() if env is not None else None)
        workflow_event = WorkflowEvent(
            payload=json.loads(params_json),
            timestamp=from_millis(start.timestamp_ms),
            instance_id=start.instance_id,
            workflow_name=start.workflow,
        )
        try:
            # Every replay logs, and sends, under the id of the work that started the instance.
            with correlated(start.correlation_id or start.instance_id):
                return instance.run(workflow_event, WorkflowStep(context, start, services))
        except UnrecoverableError:
            raise  # the SDK's own failures (checkpointing, invocation): Lambda retries or fails the invocation
        except WorkflowStepError as exc:
            raise WorkflowRunFailed(exc.message, data=json.dumps({"name": exc.name})) from exc
        except Exception as exc:
            raise WorkflowRunFailed(str(exc), data=json.dumps({"name": type(exc).__name__})) from exc

    return durable_execution(run)


def error_name(error_type: str | None, data: str | None) -> str:
    """The ``name`` Cloudflare reports for a failed instance, from the ErrorObject the service kept."""
    if error_type == FAILURE_TYPE and data:
        try:
            return str(json.loads(data)["name"])
        except (ValueError, KeyError, TypeError):
            return "Error"
    return (error_type or "Error").rsplit(".", 1)[-1]
