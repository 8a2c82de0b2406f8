"""``step`` in ``run(self, event, step)``: Cloudflare's WorkflowStep over the durable SDK's DurableContext.

- ``step.do`` is one SDK step named ``<name>-<count>`` (Cloudflare's identity: name plus how many times that name
  ran), with Cloudflare's retry formula as the step's retry strategy. Its result is checkpointed, so a completed
  step never runs again; results over 200 KB go to the blob store and the checkpoint keeps a reference (the SDK
  checkpoints at most 256 KB), results over 1 MiB fail the step as Cloudflare's limit does. The attempt runs in a
  thread joined for the step's ``timeout``: an attempt that overruns fails with WorkflowTimeoutError and is
  retried, its thread left to finish on its own (Python cannot stop a thread).
- ``step.sleep`` is one SDK wait, in whole seconds (a fraction rounds up); ``step.sleep_until`` first records
  "now" in a step, so a replay waits for the same remainder.
- ``step.wait_for_event`` is an SDK callback plus a step that registers it in the mailbox and collects an event
  sent before the wait (Cloudflare keeps such events for the wait).
- Lambda durable functions allow 3,000 operations per execution: a step or a sleep takes one, ``sleep_until``
  and ``wait_for_event`` two. The run fails with WorkflowFatalError before it would pass the cap; Cloudflare's
  own 10,000-step limit is never reached first.
- ``step.do(concurrent=True)`` is refused: steps run one at a time here.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ttai.bindings.workflows import config as step_config
from ttai.bindings.workflows.backend import (
    EVENT_TYPE_MAX,
    WorkflowBackend,
    blob_key,
    deliver,
    inline_or_blob,
    resolve_blob,
)
from ttai.bindings.workflows.durations import Duration, to_milliseconds, whole_seconds
from ttai.bindings.workflows.errors import WorkflowFatalError, WorkflowStepError, WorkflowTimeoutError
from ttai.bindings.workflows.events import StartPayload, WorkflowStepEvent, from_millis

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python import DurableContext, StepContext

STEP_NAME_MAX = 256
MAX_OPERATIONS = 3_000  # Lambda durable functions' cap on operations per execution
MAX_SLEEP_MS = 365 * 86_400_000  # Cloudflare's longest sleep (Lambda allows 366 days)
DEFAULT_EVENT_TIMEOUT = "24 hours"
T = TypeVar("T")
LOCAL_TIMEOUT_MARKER = "ttai:wait_for_event:timeout"  # error data of a timeout a backend fires itself
_CONTROL = re.compile(r"[\x00-\x1f]")


class WorkflowStep:
    """The ``step`` a run is given; not made by user code."""

    def __init__(self, context: DurableContext, start: StartPayload, backend: WorkflowBackend) -> None:
        self._context = context
        self._start = start
        self._backend = backend
        self._counts: dict[str, int] = {}
        self._operations = 0
        self._declared: dict[str, _Step[Any]] = {}

    # ------------------------------------------------------------------ step.do

    @overload
    def do(self, name: Callable[..., T]) -> _Step[T]: ...

    @overload
    def do(
        self,
        name: str | None = None,
        *,
        depends: list[Callable[..., Any]] | None = None,
        concurrent: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> Callable[[Callable[..., T]], _Step[T]]: ...

    def do(
        self,
        name: str | Callable[..., Any] | None = None,
        *,
        depends: list[Callable[..., Any]] | None = None,
        concurrent: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> Any:
        """Decorator: ``@step.do("name", config={...})``; calling the decorated function runs the step.

        ``@step.do`` bare, or with no name, names the step after the function. A parameter named ``ctx`` gets
        the step context (``step`` name and count, ``attempt``, ``config``); a parameter named after an earlier
        declared step gets that step's result, running it first if it has not run.
        """
        if concurrent:
            raise WorkflowFatalError(
                "concurrent steps are not supported on Lambda durable functions here: "
                "the adapter runs steps one at a time"
            )

        def declare(func: Callable[..., Any]) -> _Step[Any]:
            step_name = name if isinstance(name, str) else func.__name__
            declared = _Step(self, step_name, config, func, depends or [])
            self._declared[func.__name__] = declared
            return declared

        if callable(name):
            return declare(name)
        return declare

    def _run_step(
        self, name: str, config: Mapping[str, Any] | None, func: Callable[..., Any], arguments: dict[str, Any]
    ) -> Any:
        from aws_durable_execution_sdk_python import StepError  # noqa: PLC0415 - loaded with the first step
        from aws_durable_execution_sdk_python.config import StepConfig  # noqa: PLC0415
        from aws_durable_execution_sdk_python.serdes import (  # noqa: PLC0415
            EXTENDED_TYPES_SERDES,
            PassThroughSerDes,
            SerDesContext,
        )

        _check_name(name)
        resolved = step_config.resolve(name, config)
        count = self._count("do", name)
        label = f"{name}-{count}"
        self._spend(1)
        fresh: dict[str, Any] = {}
        key = blob_key(self._start.workflow, self._start.execution, f"do:{label}")

        def attempt(step_context: StepContext) -> str:
            context = {
                "step": {"name": name, "count": count},
                "attempt": step_context.attempt,
                "config": resolved.as_dict(),
            }
            value = _run_with_timeout(func, _with_context(func, arguments, context), resolved.timeout_ms)
            text = EXTENDED_TYPES_SERDES.serialize(value, SerDesContext())
            fresh["text"] = text
            return inline_or_blob(text, self._backend.blobs, key, f"The result of step {label}", WorkflowFatalError)

        try:
            stored = self._context.step(
                attempt,
                name=label,
                config=StepConfig(retry_strategy=step_config.retry_strategy(resolved), serdes=PassThroughSerDes()),
            )
        except StepError as exc:
            raise WorkflowStepError(_short_name(exc.error_type), exc.message or "") from None
        # The value as stored, so the first run sees what every replay will; one this run computed is not read back.
        text = fresh["text"] if "text" in fresh else resolve_blob(stored, self._backend.blobs)
        return EXTENDED_TYPES_SERDES.deserialize(text, SerDesContext())

    # ------------------------------------------------------------------ sleeps

    def sleep(self, name: str, duration: Duration) -> None:
        """Sleep ``duration`` (milliseconds, a timedelta, or a string such as ``"3 days"``)."""
        _check_name(name)
        milliseconds = _duration(duration, f'sleep "{name}"')
        count = self._count("sleep", name)
        self._wait(f"{name}-{count}", milliseconds)

    def sleep_until(self, name: str, timestamp: datetime | float) -> None:
        """Sleep until ``timestamp`` (a datetime, naive meaning UTC, or seconds since the epoch)."""
        from aws_durable_execution_sdk_python.config import StepConfig  # noqa: PLC0415
        from aws_durable_execution_sdk_python.retries import RetryDecision  # noqa: PLC0415

        _check_name(name)
        if isinstance(timestamp, datetime):
            target = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
            target_ms = int(target.timestamp() * 1000)
        else:
            target_ms = int(float(timestamp) * 1000)
        count = self._count("sleep", name)
        label = f"{name}-{count}"
        self._spend(1)
        now_ms = self._context.step(
            lambda _: int(self._backend.now() * 1000),
            name=f"{label} now",
            config=StepConfig(retry_strategy=lambda _e, _a: RetryDecision.no_retry()),
        )
        if target_ms < now_ms:
            raise WorkflowFatalError("You can't sleep until a time in the past, time-traveler")
        self._wait(label, target_ms - now_ms)

    def _wait(self, label: str, milliseconds: int) -> None:
        from aws_durable_execution_sdk_python.config import Duration as SdkDuration  # noqa: PLC0415

        if milliseconds > MAX_SLEEP_MS:
            raise WorkflowFatalError(f"sleep {label} is longer than Cloudflare's 365 days")
        if milliseconds == 0:
            return
        self._spend(1)
        self._context.wait(SdkDuration.from_seconds(max(1, whole_seconds(milliseconds))), name=label)

    # ------------------------------------------------------------------ events

    def wait_for_event(
        self, name: str, event_type: str, timeout: Duration = DEFAULT_EVENT_TIMEOUT
    ) -> WorkflowStepEvent:
        """Wait for ``send_event(type=event_type)``; an event sent earlier is kept for it. A timeout raises."""
        from aws_durable_execution_sdk_python import CallbackError, CallbackTimeoutError  # noqa: PLC0415
        from aws_durable_execution_sdk_python.config import CallbackConfig  # noqa: PLC0415
        from aws_durable_execution_sdk_python.config import Duration as SdkDuration  # noqa: PLC0415

        _check_name(name)
        if not isinstance(event_type, str) or not 0 < len(event_type) <= EVENT_TYPE_MAX:
            raise WorkflowFatalError(f"event type must be 1 to {EVENT_TYPE_MAX} characters")
        timeout_ms = _duration(timeout, f'wait_for_event "{name}" timeout')
        if timeout_ms > MAX_SLEEP_MS:
            raise WorkflowFatalError(f'wait_for_event "{name}" timeout is longer than Cloudflare\'s 365 days')
        count = self._count("waitForEvent", name)
        label = f"{name}-{count}"
        self._spend(2)
        engine = self._backend.engine
        seconds = max(1, whole_seconds(timeout_ms)) if engine.native_callback_timeouts else 0
        callback = self._context.create_callback(
            name=label, config=CallbackConfig(timeout=SdkDuration.from_seconds(seconds))
        )
        scope = f"{self._start.workflow}#{self._start.execution}"

        def register(_: StepContext) -> None:
            deadline = int(self._backend.now() * 1000) + timeout_ms
            self._backend.store.set_waiter(scope, event_type, callback.callback_id, deadline)
            deliver(self._backend, scope, event_type, callback.callback_id)

        self._context.step(register, name=f"{label} register")
        timed_out = WorkflowTimeoutError(f"Execution timed out after {timeout_ms}ms")
        try:
            envelope = callback.result()
        except CallbackTimeoutError:
            raise timed_out from None
        except CallbackError as exc:
            if exc.data == LOCAL_TIMEOUT_MARKER:
                raise timed_out from None
            raise
        event = json.loads(resolve_blob(str(envelope), self._backend.blobs))
        return WorkflowStepEvent(
            type=event["type"], payload=event["payload"], timestamp=from_millis(int(event["timestamp"]))
        )

    # ------------------------------------------------------------------ bookkeeping

    def _count(self, kind: str, name: str) -> int:
        key = f"{kind}\x00{name}"
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    def _spend(self, operations: int) -> None:
        self._operations += operations
        if self._operations > MAX_OPERATIONS:
            raise WorkflowFatalError(
                f"The limit of {MAX_OPERATIONS} operations of a Lambda durable execution has been reached "
                "(a step or sleep takes one, sleep_until and wait_for_event two); Cloudflare's limit of "
                "10,000 steps cannot be reached on AWS"
            )


class _Step(Generic[T]):
    """A declared step: calling it runs it (once per call, as Cloudflare counts calls of one name)."""

    def __init__(
        self,
        step: WorkflowStep,
        name: str,
        config: Mapping[str, Any] | None,
        func: Callable[..., T],
        depends: list[Callable[..., Any]],
    ) -> None:
        self._step, self.name, self._config, self._func, self._depends = step, name, config, func, depends
        self.ran = False
        self.result: Any = None
        self.__name__ = func.__name__

    def __call__(self) -> T:
        for dependency in self._depends:
            if isinstance(dependency, _Step) and not dependency.ran:
                dependency()
        arguments: dict[str, Any] = {}
        for parameter in inspect.signature(self._func).parameters:
            earlier = self._step._declared.get(parameter)
            if parameter != "ctx" and earlier is not None and earlier is not self:
                arguments[parameter] = earlier.result if earlier.ran else earlier()
        self.result = self._step._run_step(self.name, self._config, self._func, arguments)
        self.ran = True
        return self.result  # type: ignore[no-any-return]


def _with_context(func: Callable[..., Any], arguments: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    if "ctx" in inspect.signature(func).parameters:
        return {**arguments, "ctx": context}
    return arguments


def _run_with_timeout(func: Callable[..., Any], arguments: dict[str, Any], timeout_ms: int) -> Any:
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def attempt() -> None:
        try:
            outcome["value"] = context.run(func, **arguments)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which re-raises it
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="workflow-step", daemon=True)
    worker.start()
    worker.join(timeout_ms / 1000)
    if worker.is_alive():
        raise WorkflowTimeoutError(f"Execution timed out after {timeout_ms}ms")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > STEP_NAME_MAX or _CONTROL.search(name):
        raise WorkflowFatalError(
            f'Step name "{name}" exceeds max length ({STEP_NAME_MAX} chars) or invalid characters found'
        )


def _duration(value: Duration, what: str) -> int:
    try:
        return to_milliseconds(value, what)
    except ValueError as exc:
        raise WorkflowFatalError(str(exc)) from exc


def _short_name(error_type: str | None) -> str:
    """Cloudflare's ``error.name``: the class name without its module."""
    return (error_type or "Error").rsplit(".", 1)[-1]
