"""One workflow's durable executions on the SDK's local runner (``aws-durable-execution-sdk-python-testing``).

The parts are the runner's own (scheduler, checkpoint processor, in-process invoker, executor), wired as its
``DurableFunctionTestRunner`` wires them but with this project's clock and a filesystem store, so executions
survive the process: ``recover()`` in a new process gives every unfinished execution the invocation it is owed
(through the runner's resume path, the one it uses for an invocation a pause held back), and the handler replays
to where it stopped.

Where the runner differs from the service, this closes the gap: it reports no "waiting" (computed here from the
pending operations), and it times callbacks out in real time whatever the clock (so the engine reports
``native_callback_timeouts = False`` and the backend fires wait_for_event timeouts from waiter deadlines).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.account import REGION
from ttai.bindings.workflows.backend import ErrorView, ExecutionView

EXECUTION_TIMEOUT_SECONDS = 366 * 86_400  # Lambda's longest; the runner arms it in real time, so it never fires here
ACCOUNT = "123456789012"
_PAUSE_PROBE_SECONDS = 0.05


class LocalDurableEngine:
    native_callback_timeouts = False

    def __init__(self, function_name: str, handler: Callable[..., Any], directory: Path, clock: Any) -> None:
        from aws_durable_execution_sdk_python_testing.checkpoint.processor import (  # noqa: PLC0415
            DEFAULT_MAX_INVOCATION_PAGE_BYTES,
            CheckpointProcessor,
        )
        from aws_durable_execution_sdk_python_testing.client import InMemoryServiceClient  # noqa: PLC0415
        from aws_durable_execution_sdk_python_testing.executor import Executor  # noqa: PLC0415
        from aws_durable_execution_sdk_python_testing.invoker import InProcessInvoker  # noqa: PLC0415
        from aws_durable_execution_sdk_python_testing.scheduler import Scheduler  # noqa: PLC0415
        from aws_durable_execution_sdk_python_testing.stores.filesystem import FileSystemExecutionStore  # noqa: PLC0415
        from aws_durable_execution_sdk_python_testing.worker.registry import ExecutionRegistry  # noqa: PLC0415

        directory.mkdir(parents=True, exist_ok=True)
        self.function_name = function_name
        self.checkpoints = 0  # CheckpointDurableExecution calls the handler made (one AWS call each on Lambda)
        self.invocations = 0  # handler invocations (one Lambda invocation each)
        self.store = FileSystemExecutionStore.create(directory)
        self._scheduler = Scheduler()
        self._scheduler.start()  # type: ignore[no-untyped-call]
        self._registry = ExecutionRegistry(self.store, self._scheduler)
        processor = CheckpointProcessor(store=self.store, scheduler=self._scheduler, clock=clock)
        engine = self

        class CountingClient(InMemoryServiceClient):
            def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
                engine.checkpoints += 1
                return super().checkpoint(*args, **kwargs)

        def counted(event: Any, context: Any) -> Any:
            engine.invocations += 1
            return handler(event, context)

        invoker = InProcessInvoker(
            counted,
            CountingClient(processor, self._registry),
            max_page_bytes=DEFAULT_MAX_INVOCATION_PAGE_BYTES,
            region=REGION,
        )
        self._executor = Executor(
            store=self.store,
            scheduler=self._scheduler,
            invoker=invoker,
            checkpoint_processor=processor,
            registry=self._registry,
            clock=clock,
            region=REGION,
        )
        processor.add_execution_observer(self._executor)
        self._pausing: set[str] = set()

    def close(self) -> None:
        self._executor.shutdown()
        self._registry.shutdown()
        self._scheduler.stop()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ DurableEngine

    def start(self, execution_name: str, input_json: str) -> str | None:
        from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput  # noqa: PLC0415

        output = self._executor.start_execution(
            StartDurableExecutionInput(
                account_id=ACCOUNT,
                function_name=self.function_name,
                function_qualifier="$LATEST",
                execution_name=execution_name,
                execution_timeout_seconds=EXECUTION_TIMEOUT_SECONDS,
                execution_retention_period_days=30,
                invocation_id=None,
                input=input_json,
            )
        )
        return str(output.execution_arn)

    def find(self, execution_name: str) -> str | None:
        listed = self._executor.list_executions(function_name=self.function_name, execution_name=execution_name)
        return listed.durable_executions[0].durable_execution_arn if listed.durable_executions else None

    def describe(self, execution_arn: str, *, detail: bool = True) -> ExecutionView:
        from aws_durable_execution_sdk_python.lambda_service import (  # noqa: PLC0415
            InvocationStatus,
            OperationStatus,
            OperationType,
        )

        try:
            execution = self.store.load(execution_arn)
        except Exception as exc:
            raise LookupError(f"no execution {execution_arn}") from exc
        payload = execution.operations[0].execution_details if execution.operations else None
        input_json = payload.input_payload if payload is not None else None
        if execution.is_complete and execution.close_status is not None and execution.result is not None:
            error = execution.result.error
            return ExecutionView(
                status=execution.close_status.value,
                result=execution.result.result if execution.result.status == InvocationStatus.SUCCEEDED else None,
                error=ErrorView(error.type, error.message, error.data) if error is not None else None,
                input=input_json,
            )
        if execution.is_paused or execution_arn in self._pausing:  # a pause asked for is reported before it applies
            return ExecutionView(status="PAUSING" if self._still_running(execution_arn) else "PAUSED", input=input_json)
        waiting = any(
            (operation.operation_type is OperationType.WAIT and operation.status is OperationStatus.STARTED)
            or (operation.operation_type is OperationType.CALLBACK and operation.status is OperationStatus.STARTED)
            or (operation.operation_type is OperationType.STEP and operation.status is OperationStatus.PENDING)
            for operation in execution.operations
        )
        return ExecutionView(status="RUNNING", waiting=waiting, input=input_json)

    def pause(self, execution_arn: str) -> None:
        self._pausing.add(execution_arn)
        self._still_running(execution_arn)

    def resume(self, execution_arn: str) -> None:
        self._pausing.discard(execution_arn)
        self._executor.resume_execution(execution_arn)

    def stop(self, execution_arn: str) -> None:
        self._pausing.discard(execution_arn)
        self._executor.stop_execution(execution_arn)

    def send_callback(self, callback_id: str, result_json: str) -> None:
        self._executor.send_callback_success(callback_id, result_json.encode())

    def fail_callback(self, callback_id: str, error_type: str, message: str, data: str) -> None:
        from aws_durable_execution_sdk_python.lambda_service import ErrorObject  # noqa: PLC0415

        self._executor.send_callback_failure(
            callback_id, ErrorObject(message=message, type=error_type, data=data, stack_trace=None)
        )

    # ------------------------------------------------------------------ local only

    def recover(self) -> int:
        """Start an invocation for every unfinished execution of a previous process; returns how many."""
        recovered = 0
        for execution in self.store.list_all():
            if execution.is_complete or execution.start_input.function_name != self.function_name:
                continue
            user_paused = execution.is_paused
            execution.pause()
            execution.defer_invocation()  # "an invocation is owed": resume starts it
            self.store.save(execution)
            if not user_paused:
                self._executor.resume_execution(execution.durable_execution_arn)
                recovered += 1
        return recovered

    def history(self, execution_arn: str) -> Any:
        return self._executor.get_execution_history(execution_arn, include_execution_data=True)

    def _still_running(self, execution_arn: str) -> bool:
        """Apply (or re-apply) the pause and say whether an invocation is still finishing its step."""
        if execution_arn not in self._pausing:
            return False
        try:
            self._executor.pause_execution(execution_arn, timeout=_PAUSE_PROBE_SECONDS)
        except TimeoutError:
            return True
        self._pausing.discard(execution_arn)
        return False
