"""Each workflow's Lambda entry point (functions/<name>_workflow) as Lambda runs it: the durable SDK's test runner
invokes the handler with a start payload in a process whose variables are the function's own (the SDK runs the
handler on a thread of its own, so they are the process's, as on Lambda), and the run keeps what it needs of its own
in the stack's workflows table and bucket, as the deployed function does."""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner

from local.stack import LocalStack
from ttai.bindings.workflows.events import StartPayload
from ttai.workflows import WORKFLOWS


def _run(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, binding: str, params: dict[str, Any]) -> Any:
    name = WORKFLOWS[binding].name
    environ = stack.functions[f"{name}_workflow"].environ
    assert environ is not None
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    handler = importlib.import_module(f"functions.{name}_workflow.index").handler
    instance_id = f"{name}-{uuid.uuid4().hex}"
    start = StartPayload(name, instance_id, instance_id, json.dumps(params), int(datetime.now(UTC).timestamp() * 1000))
    with DurableFunctionTestRunner(handler=handler) as runner:
        return runner.run(input=start.to_json(), execution_timeout=120)


def test_the_backup_function_runs_its_workflow(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    scheduled = datetime(2032, 2, 2, 7, 0, tzinfo=UTC).replace(second=uuid.uuid4().int % 60)

    result = _run(stack, monkeypatch, "BACKUP_WORKFLOW", {"scheduled_time": scheduled.isoformat()})

    assert result.status.name == "SUCCEEDED", result.error
    output = json.loads(result.result)
    assert output["prefix"] == f"backups/{scheduled:%Y-%m-%dT%H-%M-%S}Z/"
    assert stack.env.R2.head(f"{output['prefix']}manifest.json") is not None


@pytest.mark.parametrize("binding", ["ANALYSIS_WORKFLOW", "SCREENER_WORKFLOW", "EXPORT_WORKFLOW"])
def test_a_function_given_params_its_workflow_refuses_errors_without_retries(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, binding: str
) -> None:
    result = _run(stack, monkeypatch, binding, {"user": "nobody", "unexpected": True})

    assert result.status.name == "FAILED"
    assert result.error.message.startswith("invalid params")
