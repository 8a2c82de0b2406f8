"""The Workflows binding on its AWS backend, call by call, against botocore's Stubber (moto has no durable APIs).

Each test states the exact Lambda and DynamoDB calls an operation makes: Stubber fails on any call not expected,
and ``assert_no_pending_responses`` on any expected call not made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ttai.bindings.workflows import InstanceAlreadyExists, InstanceNotRunning, Workflow, WorkflowError, WorkflowInstance
from ttai.bindings.workflows.aws import LambdaDurableEngine, aws_backend
from ttai.bindings.workflows.runtime import FAILURE_TYPE

ALIAS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ttai-dev-analysis-workflow:live"
FUNCTION_ARN = ALIAS_ARN.rsplit(":", 1)[0]
TABLE = "ttai-dev-workflows"
EXECUTION_ARN = f"{FUNCTION_ARN}:7/durable-execution/run-1/0b3c1f0e-5d7e-4c34-9a1b-2f0f6c1d2e3a"


class Blobs:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, value: bytes) -> None:
        self.objects[key] = value

    def get(self, key: str) -> Any:
        return None


class Stubs(NamedTuple):
    lam: Stubber
    ddb: Stubber
    workflow: Workflow


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    lambda_client, dynamodb_client = session.client("lambda"), session.client("dynamodb")
    with Stubber(lambda_client) as lam, Stubber(dynamodb_client) as ddb:
        backend = aws_backend(ALIAS_ARN, TABLE, Blobs(), lambda_client=lambda_client, dynamodb_client=dynamodb_client)
        yield Stubs(lam, ddb, Workflow("ANALYSIS_WORKFLOW", backend))
        lam.assert_no_pending_responses()
        ddb.assert_no_pending_responses()


def instance_key(instance_id: str = "run-1") -> dict[str, Any]:
    return {"pk": {"S": f"wf#ANALYSIS_WORKFLOW#{instance_id}"}, "sk": {"S": "instance"}}


def instance_item(
    instance_id: str = "run-1", *, generation: int = 0, arn: str | None = EXECUTION_ARN, name: str | None = None
) -> dict[str, Any]:
    item = {
        **instance_key(instance_id),
        "execution_name": {"S": name or instance_id},
        "generation": {"N": str(generation)},
        "created_ms": {"N": "1773063000000"},
        "expires_at": {"N": "1"},
    }
    if arn:
        item["execution_arn"] = {"S": arn}
    return item


def expect_get_instance(stubs: Stubs, item: dict[str, Any] | None) -> None:
    stubs.ddb.add_response(
        "get_item", {"Item": item} if item else {}, {"TableName": TABLE, "Key": instance_key(), "ConsistentRead": True}
    )


def expect_execution(stubs: Stubs, status: str, *, data: bool, **fields: Any) -> None:
    stubs.lam.add_response(
        "get_durable_execution",
        {
            "DurableExecutionArn": EXECUTION_ARN,
            "DurableExecutionName": "run-1",
            "FunctionArn": FUNCTION_ARN,
            "Status": status,
            "StartTimestamp": "2026-03-09T13:30:00Z",
            **fields,
        },
        {"DurableExecutionArn": EXECUTION_ARN, "IncludeExecutionData": data},
    )


def expect_history(stubs: Stubs, *events: tuple[str, str, dict[str, Any]]) -> None:
    stubs.lam.add_response(
        "get_durable_execution_history",
        {
            "Events": [
                {"EventType": kind, "Id": op, "EventTimestamp": "2026-03-09T13:30:00Z", **extra}
                for kind, op, extra in events
            ]
        },
        {"DurableExecutionArn": EXECUTION_ARN, "ReverseOrder": True, "MaxItems": 25, "IncludeExecutionData": False},
    )


def test_create_claims_the_id_then_invokes_the_alias_asynchronously_then_records_the_arn(stubs: Stubs) -> None:
    stubs.ddb.add_response(
        "put_item", {}, {"TableName": TABLE, "Item": ANY, "ConditionExpression": "attribute_not_exists(pk)"}
    )
    stubs.lam.add_response(
        "invoke",
        {"StatusCode": 202, "DurableExecutionArn": EXECUTION_ARN},
        {"FunctionName": ALIAS_ARN, "InvocationType": "Event", "DurableExecutionName": "run-1", "Payload": ANY},
    )
    stubs.ddb.add_response(
        "put_item",
        {},
        {
            "TableName": TABLE,
            "Item": ANY,
            "ConditionExpression": "generation = :generation",
            "ExpressionAttributeValues": {":generation": {"N": "0"}},
        },
    )

    instance = stubs.workflow.create(id="run-1", params={"symbol": "AAPL"})

    assert instance.id == "run-1"


def test_create_sends_the_start_payload_the_durable_handler_reads(stubs: Stubs) -> None:
    sent: dict[str, Any] = {}
    stubs.ddb.add_response(
        "put_item", {}, {"TableName": TABLE, "Item": ANY, "ConditionExpression": "attribute_not_exists(pk)"}
    )
    stubs.lam.add_response(
        "invoke",
        {"StatusCode": 202, "DurableExecutionArn": EXECUTION_ARN},
        {"FunctionName": ALIAS_ARN, "InvocationType": "Event", "DurableExecutionName": "run-1", "Payload": ANY},
    )
    stubs.ddb.add_response(
        "put_item", {}, {"TableName": TABLE, "Item": ANY, "ConditionExpression": ANY, "ExpressionAttributeValues": ANY}
    )
    client = stubs.lam.client
    client.meta.events.register(
        "before-parameter-build.lambda.Invoke", lambda params, **_: sent.update(json.loads(params["Payload"]))
    )

    stubs.workflow.create(id="run-1", params={"symbol": "AAPL"})

    assert sent["workflow"] == "ANALYSIS_WORKFLOW"
    assert sent["instance_id"] == sent["execution"] == "run-1"
    assert json.loads(sent["params"]) == {"symbol": "AAPL"}


def test_a_duplicate_create_raises_without_starting_anything(stubs: Stubs) -> None:
    stubs.ddb.add_client_error(
        "put_item",
        "ConditionalCheckFailedException",
        expected_params={"TableName": TABLE, "Item": ANY, "ConditionExpression": "attribute_not_exists(pk)"},
    )

    with pytest.raises(InstanceAlreadyExists, match="run-1"):
        stubs.workflow.create(id="run-1")


def test_a_name_lambda_still_keeps_raises_and_frees_the_id(stubs: Stubs) -> None:
    stubs.ddb.add_response(
        "put_item", {}, {"TableName": TABLE, "Item": ANY, "ConditionExpression": "attribute_not_exists(pk)"}
    )
    stubs.lam.add_client_error("invoke", "DurableExecutionAlreadyStartedException")
    stubs.ddb.add_response(
        "delete_item",
        {},
        {
            "TableName": TABLE,
            "Key": instance_key(),
            "ConditionExpression": "generation = :generation",
            "ExpressionAttributeValues": {":generation": {"N": "0"}},
        },
    )

    with pytest.raises(InstanceAlreadyExists, match="Lambda still keeps"):
        stubs.workflow.create(id="run-1")


def test_status_is_three_calls_and_reads_waiting_from_a_pending_wait(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=True)
    expect_history(
        stubs,
        ("InvocationCompleted", "inv-2", {}),
        ("WaitStarted", "op-3", {}),
        ("StepSucceeded", "op-2", {}),
        ("StepStarted", "op-2", {}),
    )

    assert _instance(stubs).status() == {"status": "waiting", "error": None, "output": None}


def test_status_running_waiting_and_retrying(stubs: Stubs) -> None:
    retry = {
        "StepFailedDetails": {
            "Error": {"Payload": {"ErrorType": "ConnectionError"}},
            "RetryDetails": {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 10},
        }
    }
    instance_calls: list[list[tuple[str, str, dict[str, Any]]]] = [
        [("WaitStarted", "op-3", {})],
        [("WaitSucceeded", "op-3", {}), ("WaitStarted", "op-3", {})],
        [("StepFailed", "op-4", retry)],
        [("StepStarted", "op-4", {}), ("StepFailed", "op-4", retry)],
        [("CallbackStarted", "op-5", {}), ("StepSucceeded", "op-6", {})],
    ]
    expected = ["waiting", "running", "waiting", "running", "waiting"]
    for events in instance_calls:
        expect_get_instance(stubs, instance_item())
        expect_execution(stubs, "RUNNING", data=True)
        expect_history(stubs, *events)
    assert [_instance(stubs).status()["status"] for _ in expected] == expected


def _instance(stubs: Stubs) -> WorkflowInstance:
    return WorkflowInstance(stubs.workflow, "run-1")


@pytest.mark.parametrize(
    ("lambda_status", "status"),
    [
        ("SUCCEEDED", "complete"),
        ("FAILED", "errored"),
        ("TIMED_OUT", "errored"),
        ("STOPPED", "terminated"),
        ("PAUSING", "waitingForPause"),
        ("PAUSED", "paused"),
    ],
)
def test_lambda_statuses_map_to_cloudflares(stubs: Stubs, lambda_status: str, status: str) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, lambda_status, data=True)

    assert _instance(stubs).status()["status"] == status


def test_an_errored_instance_reports_the_name_and_message_of_the_error_run_raised(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(
        stubs,
        "FAILED",
        data=True,
        Error={
            "ErrorType": FAILURE_TYPE,
            "ErrorMessage": "no bars for AAPL",
            "ErrorData": json.dumps({"name": "KeyError"}),
        },
    )

    assert _instance(stubs).status() == {
        "status": "errored",
        "error": {"name": "KeyError", "message": "no bars for AAPL"},
        "output": None,
    }


def test_a_complete_instance_reports_its_output(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "SUCCEEDED", data=True, Result=json.dumps({"signals": 3}))

    assert _instance(stubs).status() == {"status": "complete", "error": None, "output": {"signals": 3}}


def test_an_instance_whose_arn_was_not_recorded_is_found_by_name_once(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item(arn=None))
    stubs.lam.add_response(
        "list_durable_executions_by_function",
        {
            "DurableExecutions": [
                {
                    "DurableExecutionArn": EXECUTION_ARN,
                    "DurableExecutionName": "run-1",
                    "FunctionArn": FUNCTION_ARN,
                    "Status": "SUCCEEDED",
                    "StartTimestamp": "2026-03-09T13:30:00Z",
                }
            ]
        },
        {"FunctionName": FUNCTION_ARN, "Qualifier": "live", "DurableExecutionName": "run-1", "MaxItems": 100},
    )
    stubs.ddb.add_response(
        "put_item",
        {},
        {
            "TableName": TABLE,
            "Item": ANY,
            "ConditionExpression": ANY,
            "ExpressionAttributeValues": {":generation": {"N": "0"}},
        },
    )
    expect_execution(stubs, "SUCCEEDED", data=True, Result="1")

    assert _instance(stubs).status()["output"] == 1


def test_an_instance_not_yet_visible_in_lambda_is_queued(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item(arn=None))
    stubs.lam.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": []},
        {"FunctionName": FUNCTION_ARN, "Qualifier": "live", "DurableExecutionName": "run-1", "MaxItems": 100},
    )

    assert _instance(stubs).status()["status"] == "queued"


def test_pause_pauses_the_execution_and_its_timeout(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)
    stubs.lam.add_response(
        "pause_durable_execution", {}, {"DurableExecutionArn": EXECUTION_ARN, "ExecutionTimeoutPaused": True}
    )

    _instance(stubs).pause()


def test_resume_resumes_a_paused_execution_and_leaves_a_running_one(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "PAUSED", data=False)
    stubs.lam.add_response("resume_durable_execution", {}, {"DurableExecutionArn": EXECUTION_ARN})
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)

    _instance(stubs).resume()
    _instance(stubs).resume()


def test_terminate_stops_a_running_execution_and_refuses_a_finished_one(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)
    stubs.lam.add_response(
        "stop_durable_execution", {"StopTimestamp": "2026-03-09T14:00:00Z"}, {"DurableExecutionArn": EXECUTION_ARN}
    )
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "SUCCEEDED", data=False)

    _instance(stubs).terminate()
    with pytest.raises(InstanceNotRunning, match="finite state"):
        _instance(stubs).terminate()


def test_restart_stops_the_run_and_starts_a_new_execution_under_a_new_name(stubs: Stubs) -> None:
    start = {
        "workflow": "ANALYSIS_WORKFLOW",
        "instance_id": "run-1",
        "execution": "run-1",
        "params": json.dumps({"symbol": "AAPL"}),
        "timestamp": 1773063000000,
    }
    new_name: dict[str, Any] = {}
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=True, InputPayload=json.dumps(start))
    expect_history(stubs, ("WaitStarted", "op-3", {}))
    stubs.lam.add_response(
        "stop_durable_execution", {"StopTimestamp": "2026-03-09T14:00:00Z"}, {"DurableExecutionArn": EXECUTION_ARN}
    )
    stubs.ddb.add_response(
        "put_item",
        {},
        {
            "TableName": TABLE,
            "Item": ANY,
            "ConditionExpression": "generation = :generation",
            "ExpressionAttributeValues": {":generation": {"N": "0"}},
        },
    )
    stubs.lam.add_response(
        "invoke",
        {"StatusCode": 202, "DurableExecutionArn": EXECUTION_ARN + "2"},
        {"FunctionName": ALIAS_ARN, "InvocationType": "Event", "DurableExecutionName": ANY, "Payload": ANY},
    )
    stubs.ddb.add_response(
        "put_item",
        {},
        {
            "TableName": TABLE,
            "Item": ANY,
            "ConditionExpression": "generation = :generation",
            "ExpressionAttributeValues": {":generation": {"N": "1"}},
        },
    )
    stubs.lam.client.meta.events.register(
        "before-parameter-build.lambda.Invoke",
        lambda params, **_: new_name.update(name=params["DurableExecutionName"], payload=json.loads(params["Payload"])),
    )

    _instance(stubs).restart()

    assert new_name["name"].startswith("-run-1-")
    assert new_name["name"].endswith("-1")
    assert new_name["payload"]["execution"] == new_name["name"]
    assert json.loads(new_name["payload"]["params"]) == {"symbol": "AAPL"}


def test_send_event_to_a_waiting_run_is_seven_calls_and_one_delivery(stubs: Stubs) -> None:
    scope_pk = {"S": "ev#ANALYSIS_WORKFLOW#run-1"}
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)
    stubs.ddb.add_response("put_item", {}, {"TableName": TABLE, "Item": ANY})
    waiter = {
        "pk": scope_pk,
        "sk": {"S": "waiter#x"},
        "callback_id": {"S": "Y2FsbGJhY2s="},
        "event_type": {"S": "approval"},
        "deadline_ms": {"N": "1"},
    }
    stubs.ddb.add_response("get_item", {"Item": waiter}, {"TableName": TABLE, "Key": ANY, "ConsistentRead": True})
    event = {
        "pk": scope_pk,
        "sk": {"S": "event#x#1"},
        "envelope": {"S": '{"type":"approval","payload":true,"timestamp":1}'},
    }
    stubs.ddb.add_response(
        "query",
        {"Items": [event]},
        {
            "TableName": TABLE,
            "ConsistentRead": True,
            "Limit": 1,
            "KeyConditionExpression": ANY,
            "ExpressionAttributeValues": ANY,
        },
    )
    stubs.ddb.add_response("transact_write_items", {}, {"TransactItems": ANY})
    stubs.lam.add_response(
        "send_durable_execution_callback_success",
        {},
        {"CallbackId": "Y2FsbGJhY2s=", "Result": event["envelope"]["S"].encode()},
    )

    _instance(stubs).send_event(type="approval", payload=True)


def test_send_event_with_no_waiter_only_buffers_it(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)
    stubs.ddb.add_response("put_item", {}, {"TableName": TABLE, "Item": ANY})
    stubs.ddb.add_response("get_item", {}, {"TableName": TABLE, "Key": ANY, "ConsistentRead": True})

    _instance(stubs).send_event(type="approval", payload={"by": "ops"})


def test_a_delivery_someone_else_won_sends_nothing(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "RUNNING", data=False)
    stubs.ddb.add_response("put_item", {}, {"TableName": TABLE, "Item": ANY})
    stubs.ddb.add_response(
        "get_item", {"Item": {"callback_id": {"S": "Y2I="}}}, {"TableName": TABLE, "Key": ANY, "ConsistentRead": True}
    )
    stubs.ddb.add_response(
        "query",
        {"Items": [{"pk": {"S": "p"}, "sk": {"S": "s"}, "envelope": {"S": "{}"}}]},
        {
            "TableName": TABLE,
            "ConsistentRead": True,
            "Limit": 1,
            "KeyConditionExpression": ANY,
            "ExpressionAttributeValues": ANY,
        },
    )
    stubs.ddb.add_client_error("transact_write_items", "TransactionCanceledException")

    _instance(stubs).send_event(type="approval", payload=1)


def test_an_event_to_a_finished_instance_raises_and_is_not_kept(stubs: Stubs) -> None:
    expect_get_instance(stubs, instance_item())
    expect_execution(stubs, "FAILED", data=False)

    with pytest.raises(InstanceNotRunning, match="errored"):
        _instance(stubs).send_event(type="approval", payload=1)


def test_the_engine_refuses_an_unqualified_function_arn() -> None:
    with pytest.raises(WorkflowError, match="qualified"):
        LambdaDurableEngine(FUNCTION_ARN, client=object())


def test_finding_an_execution_by_name_takes_the_exact_name_across_pages(stubs: Stubs) -> None:
    """Lambda's name filter is "contains": run-1 also matches run-10 and run-11, listed first."""
    engine = LambdaDurableEngine(ALIAS_ARN, stubs.lam.client)

    def listed(*names: str) -> list[dict[str, Any]]:
        return [
            {
                "DurableExecutionArn": f"{FUNCTION_ARN}:1/durable-execution/{name}/x",
                "DurableExecutionName": name,
                "FunctionArn": FUNCTION_ARN,
                "Status": "RUNNING",
                "StartTimestamp": "2026-03-09T13:30:00Z",
            }
            for name in names
        ]

    request = {"FunctionName": FUNCTION_ARN, "Qualifier": "live", "DurableExecutionName": "run-1", "MaxItems": 100}
    stubs.lam.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": listed("run-10", "run-11"), "NextMarker": "page-2"},
        request,
    )
    stubs.lam.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": listed("run-12", "run-1")},
        {**request, "Marker": "page-2"},
    )

    assert engine.find("run-1") == f"{FUNCTION_ARN}:1/durable-execution/run-1/x"
