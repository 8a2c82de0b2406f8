"""The Workflows backend on AWS: Lambda durable functions for executions, a DynamoDB table for the rest.

- ``create``: a conditional PutItem claims the id, an asynchronous Invoke of the function's alias ARN with
  ``DurableExecutionName`` starts the execution, an UpdateItem records its ARN (3 calls).
- ``status``: GetItem, GetDurableExecution, and while RUNNING the newest page of GetDurableExecutionHistory to
  tell "waiting" (a pending wait, callback or retry) from "running" (Lambda has no such status).
- ``pause`` / ``resume`` / ``terminate``: Pause- / Resume- / StopDurableExecution (pausing also pauses the
  execution timeout: Cloudflare instances have none).
- ``send_event``: the event goes to the run's mailbox; if a wait_for_event of its type is registered, a
  transaction takes both and SendDurableExecutionCallbackSuccess delivers it.
- ``restart``: StopDurableExecution, then a new execution under a new name (the registry records which).

Lambda keeps executions 1-90 days after they close: deploy with 30 days, Cloudflare's retention on paid plans.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from ttai.bindings.common import error_code
from ttai.bindings.workflows import records
from ttai.bindings.workflows.backend import (
    BlobStore,
    Delivery,
    ErrorView,
    ExecutionView,
    InstanceRecord,
    WorkflowBackend,
)
from ttai.bindings.workflows.errors import (
    InstanceAlreadyExists,
    InstanceNotRunning,
    UnsupportedOnDurableFunctions,
    WorkflowError,
)

HISTORY_PAGE = 25  # newest events read to find a pending wait: a run waits on at most one thing at a time
FIND_PAGE = 100  # executions a page when one is looked up by name
_CLOSING = frozenset(
    {
        "WaitSucceeded",
        "WaitCancelled",
        "CallbackSucceeded",
        "CallbackFailed",
        "CallbackTimedOut",
        "StepSucceeded",
        "StepStarted",
    }
)


class LambdaDurableEngine:
    """Durable executions of one function, started through its alias (a qualified ARN, as Lambda requires)."""

    native_callback_timeouts = True

    def __init__(self, function_arn: str, client: Any = None) -> None:
        if function_arn.count(":") != 7:
            raise WorkflowError(
                f"{function_arn!r} is not a qualified function ARN (arn:...:function:name:alias); "
                "durable executions start only through a version or an alias"
            )
        self.function_arn = function_arn
        self._function, self._qualifier = function_arn.rsplit(":", 1)
        if client is None:
            from ttai.aws import client as aws_client  # noqa: PLC0415

            client = aws_client("lambda")
        self._lambda = client

    def start(self, execution_name: str, input_json: str) -> str | None:
        try:
            response = self._lambda.invoke(
                FunctionName=self.function_arn,
                InvocationType="Event",
                DurableExecutionName=execution_name,
                Payload=input_json.encode(),
            )
        except ClientError as exc:
            if error_code(exc) == "DurableExecutionAlreadyStartedException":
                raise InstanceAlreadyExists(f"Lambda still keeps an execution named {execution_name!r}") from exc
            raise
        arn = response.get("DurableExecutionArn")
        return str(arn) if arn else None

    def find(self, execution_name: str) -> str | None:
        # Lambda lists one qualifier's executions ($LATEST unless told), and its name filter is "contains": the
        # alias is named and the exact name picked from the pages.
        request: dict[str, Any] = {
            "FunctionName": self._function,
            "Qualifier": self._qualifier,
            "DurableExecutionName": execution_name,
            "MaxItems": FIND_PAGE,
        }
        while True:
            listed = self._lambda.list_durable_executions_by_function(**request)
            for execution in listed.get("DurableExecutions", []):
                if execution.get("DurableExecutionName") == execution_name:
                    return str(execution["DurableExecutionArn"])
            if not listed.get("NextMarker"):
                return None
            request["Marker"] = listed["NextMarker"]

    def describe(self, execution_arn: str, *, detail: bool = True) -> ExecutionView:
        try:
            execution = self._lambda.get_durable_execution(
                DurableExecutionArn=execution_arn, IncludeExecutionData=detail
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise LookupError(f"no durable execution {execution_arn}") from exc
            raise
        error = execution.get("Error")
        status = execution["Status"]
        return ExecutionView(
            status=status,
            waiting=detail and status == "RUNNING" and self._waiting(execution_arn),
            result=execution.get("Result"),
            error=ErrorView(error.get("ErrorType"), error.get("ErrorMessage"), error.get("ErrorData"))
            if error
            else None,
            input=execution.get("InputPayload"),
        )

    def _waiting(self, execution_arn: str) -> bool:
        page = self._lambda.get_durable_execution_history(
            DurableExecutionArn=execution_arn, ReverseOrder=True, MaxItems=HISTORY_PAGE, IncludeExecutionData=False
        )
        closed: set[str] = set()
        for event in page.get("Events", []):  # newest first
            kind, operation = event.get("EventType"), event.get("Id", "")
            if kind in _CLOSING:
                closed.add(operation)
            elif kind in ("WaitStarted", "CallbackStarted") and operation not in closed:
                return True
            elif kind == "StepFailed" and operation not in closed:
                retry = event.get("StepFailedDetails", {}).get("RetryDetails", {})
                return bool(retry.get("NextAttemptDelaySeconds"))
        return False

    def pause(self, execution_arn: str) -> None:
        self._lambda.pause_durable_execution(DurableExecutionArn=execution_arn, ExecutionTimeoutPaused=True)

    def resume(self, execution_arn: str) -> None:
        self._lambda.resume_durable_execution(DurableExecutionArn=execution_arn)

    def stop(self, execution_arn: str) -> None:
        self._lambda.stop_durable_execution(DurableExecutionArn=execution_arn)

    def send_callback(self, callback_id: str, result_json: str) -> None:
        try:
            self._lambda.send_durable_execution_callback_success(CallbackId=callback_id, Result=result_json.encode())
        except ClientError as exc:
            if error_code(exc) in ("ResourceNotFoundException", "CallbackTimeoutException"):
                raise InstanceNotRunning("The instance stopped waiting for this event before it arrived") from exc
            raise


class DynamoInstanceStore:
    """The registry and mailbox in the workflows table (item shapes in ``records``)."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        if client is None:
            from ttai.aws import client as aws_client  # noqa: PLC0415

            client = aws_client("dynamodb")
        self._dynamodb = client

    def add_instance(self, record: InstanceRecord) -> bool:
        try:
            self._dynamodb.put_item(
                TableName=self.table,
                Item=records.instance_item(record, time.time()),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        item = self._dynamodb.get_item(
            TableName=self.table, Key=records.instance_key(workflow, instance_id), ConsistentRead=True
        ).get("Item")
        return records.record_from_item(workflow, instance_id, item) if item else None

    def replace_instance(self, record: InstanceRecord, expected_generation: int) -> bool:
        try:
            self._dynamodb.put_item(
                TableName=self.table,
                Item=records.instance_item(record, time.time()),
                ConditionExpression="generation = :generation",
                ExpressionAttributeValues={":generation": {"N": str(expected_generation)}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def remove_instance(self, record: InstanceRecord) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self.table,
                Key=records.instance_key(record.workflow, record.instance_id),
                ConditionExpression="generation = :generation",
                ExpressionAttributeValues={":generation": {"N": str(record.generation)}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def buffer_event(self, scope: str, event_type: str, envelope: str) -> None:
        self._dynamodb.put_item(TableName=self.table, Item=records.event_item(scope, event_type, envelope, time.time()))

    def set_waiter(self, scope: str, event_type: str, callback_id: str, deadline_ms: int) -> None:
        self._dynamodb.put_item(
            TableName=self.table, Item=records.waiter_item(scope, event_type, callback_id, deadline_ms, time.time())
        )

    def claim(self, scope: str, event_type: str, callback_id: str | None = None) -> Delivery | None:
        waiter = self._dynamodb.get_item(
            TableName=self.table, Key=records.waiter_key(scope, event_type), ConsistentRead=True
        ).get("Item")
        if waiter is None or (callback_id is not None and waiter["callback_id"]["S"] != callback_id):
            return None
        oldest = self._dynamodb.query(
            TableName=self.table,
            ConsistentRead=True,
            Limit=1,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": records.mailbox_pk(scope),
                ":prefix": {"S": records.event_prefix(event_type)},
            },
        ).get("Items", [])
        if not oldest:
            return None
        event = oldest[0]
        try:  # the waiter and the event go together, or not at all (someone else delivered first)
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": records.waiter_key(scope, event_type),
                            "ConditionExpression": "callback_id = :callback",
                            "ExpressionAttributeValues": {":callback": waiter["callback_id"]},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"pk": event["pk"], "sk": event["sk"]},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return None
            raise
        return Delivery(waiter["callback_id"]["S"], event["envelope"]["S"])


class DurableRuntime:
    """The engine as a running durable function sees it: Lambda times its callbacks out, and the function starts
    and steers no executions of its own (other workflows are reached through their bindings)."""

    native_callback_timeouts = True

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise UnsupportedOnDurableFunctions(
            "a running workflow does not start or steer executions of its own function; use a Workflow binding"
        )

    start = find = describe = pause = resume = stop = send_callback = _refuse


def runtime_backend(table: str, blobs: BlobStore, *, dynamodb_client: Any = None) -> WorkflowBackend:
    """What a durable function running a workflow needs: the workflows table (wait_for_event's mailbox) and the
    blob store (big params, step results and events)."""
    return WorkflowBackend(engine=DurableRuntime(), store=DynamoInstanceStore(table, dynamodb_client), blobs=blobs)


def aws_backend(
    function_arn: str, table: str, blobs: BlobStore, *, lambda_client: Any = None, dynamodb_client: Any = None
) -> WorkflowBackend:
    """The backend one workflow binding (or its durable function) uses on AWS."""
    return WorkflowBackend(
        engine=LambdaDurableEngine(function_arn, lambda_client),
        store=DynamoInstanceStore(table, dynamodb_client),
        blobs=blobs,
    )
