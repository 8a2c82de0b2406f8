"""The Workflows binding's errors: the binding's own (a BindingError each) and those a workflow's run sees.

Names and messages follow Cloudflare's workflow engine: ``(instance.not_found) Instance does not exist`` and the
like for the binding, ``NonRetryableError`` / ``WorkflowTimeoutError`` / ``WorkflowFatalError`` inside a run.
"""

from __future__ import annotations

from ttai.errors import BindingError, Conflict, NotFound


class WorkflowError(BindingError):
    """Base of the binding's errors; the message carries Cloudflare's error code in brackets."""

    code = "body"

    def __init__(self, message: str) -> None:
        super().__init__(f"({self.code}) {message}")
        self.detail = message


class InvalidInstanceId(WorkflowError):
    """An id that is not 1-100 characters of ``[a-zA-Z0-9_][a-zA-Z0-9-_]*``, or one Cloudflare reserves."""

    code = "instance.invalid_id"


class InvalidBatch(WorkflowError):
    """``create_batch`` with no instances or more than 100."""


class InvalidEvent(WorkflowError):
    """An event whose type is not 1-100 characters, or whose payload is not JSON or over 1 MiB."""

    code = "event.invalid"


class InstanceNotFound(WorkflowError, NotFound):
    """``get`` of an id this workflow does not know (never created, or past its retention)."""

    code = "instance.not_found"


class InstanceAlreadyExists(WorkflowError, Conflict):
    """``create`` with an id still in use (Cloudflare's error 10405)."""

    code = "instance.already_exists"


class InstanceNotRunning(WorkflowError, Conflict):
    """A command the instance's state forbids: terminate or send_event once it is complete, errored or terminated."""

    code = "instance.cannot_change_status"


class UnsupportedOnDurableFunctions(WorkflowError):
    """Something Cloudflare's Workflows do that Lambda durable functions cannot; the message says why."""

    code = "unsupported"


# ------------------------------------------------------------------ what a workflow's run raises or sees


class NonRetryableError(Exception):
    """Raise it in a step to fail the step at once, without the retries its config allows (``workers.workflows``)."""


class WorkflowTimeoutError(Exception):
    """A step attempt ran past its ``timeout``, or ``wait_for_event`` past its own."""


class WorkflowFatalError(Exception):
    """The run broke a rule of the engine (step name, step config, a limit): the instance errors, nothing retries."""


class WorkflowStepError(Exception):
    """A step that failed for good (retries spent, or a NonRetryableError).

    As in Cloudflare's Python Workflows, the error the step raised is not re-instantiated: this carries its
    class name as ``name`` and its message, the same on the first run and on every replay.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
