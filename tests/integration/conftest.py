"""One moto-backed local stack for the integration session, and ways to look behind the bindings."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.poller import PolledQueue
from local.stack import LocalStack
from local.workflows import LocalWorkflows, VirtualClock
from ttai.bindings.kv import KVNamespace
from ttai.bindings.workflows.backend import BucketBlobs
from ttai.workflows import WORKFLOWS, workflow_class


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """Started once (about a second); tests keep apart by key prefix (``key_prefix``), not by new stacks. Its
    workflows run on a virtual clock that starts now: a step's retry does not wait its delay in real time."""
    with LocalStack(workflow_clock=VirtualClock(start=datetime.now(UTC), skip=True)) as local:
        yield local


@pytest.fixture(autouse=True)
def _settled(request: pytest.FixtureRequest) -> None:
    """A test that uses a stack starts once the asynchronous invocations earlier tests started (a quote PUT's
    hand-off to the realtime function) have run: their AWS calls are not this test's to count."""
    if "stack" in request.fixturenames:
        local = request.getfixturevalue("stack")
        if isinstance(local, LocalStack) and local.lambda_api is not None:
            local.settle()


def finished_run(stack: LocalStack, token: str, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """``GET /api/v1/workflows/{id}`` polled until the run is complete, errored or terminated; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = stack.http("GET", f"/api/v1/workflows/{run_id}", token=token)
        assert response.status == 200, response.body
        body: dict[str, Any] = response.body
        if body["status"] in {"complete", "errored", "terminated"}:
            return body
        assert time.monotonic() < deadline, f"run {run_id} is still {body['status']} after {timeout} s"
        time.sleep(0.02)


@pytest.fixture
def ttai_workflows(stack: LocalStack, tmp_path: Path) -> Iterator[LocalWorkflows]:
    """TTAI's workflows on the SDK's local runner against the stack (virtual time: retries' waits take no time),
    each under its binding name; big step values go to the stack's bucket, as on AWS."""
    with LocalWorkflows(
        tmp_path, clock=VirtualClock(skip=True), env=stack.env, blobs=BucketBlobs(stack.env.R2)
    ) as local:
        for binding in WORKFLOWS:
            local.register(binding, workflow_class(binding))
        yield local


@pytest.fixture
def kv(stack: LocalStack) -> KVNamespace:
    return stack.env.KV


@pytest.fixture(scope="session")
def raw_dynamodb(stack: LocalStack) -> Any:
    """A client of its own, so its calls never show up in ``aws_calls``."""
    return stack.client("dynamodb")


@pytest.fixture(scope="session")
def raw_s3(stack: LocalStack) -> Any:
    return stack.client("s3")


@pytest.fixture
def aws_calls(stack: LocalStack) -> Iterator[CallCounter]:
    """API calls the bindings make (DynamoDB and S3, by operation name) while the test runs."""
    with CallCounter(stack.env.client("dynamodb"), stack.env.client("s3")) as counter:
        yield counter


@pytest.fixture
def raw_item(stack: LocalStack, raw_dynamodb: Any) -> Callable[[str], dict[str, Any] | None]:
    """The KV item as DynamoDB holds it (expired or not), or None."""
    kv_layout = stack.layout.kv
    table = stack.environ["TTAI_KV_TABLE"]

    def read(key: str) -> dict[str, Any] | None:
        response = raw_dynamodb.get_item(TableName=table, Key={kv_layout.key_attr: {"S": key}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    return read


@pytest.fixture
def overflow_objects(stack: LocalStack, raw_s3: Any) -> Callable[[], set[str]]:
    """Names of every object under the KV overflow prefix (compare before and after to see what a call wrote)."""
    bucket = stack.environ["TTAI_KV_OVERFLOW_BUCKET"]
    prefix = stack.layout.kv.overflow_prefix

    def names() -> set[str]:
        found: set[str] = set()
        for page in raw_s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update(obj["Key"] for obj in page.get("Contents", []))
        return found

    return names


@pytest.fixture
def alice(stack: LocalStack) -> str:
    """A token of a new user: tenant tests sign two strangers in and check neither sees the other's rows."""
    return stack.token_for(f"alice-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def bob(stack: LocalStack) -> str:
    return stack.token_for(f"bob-{uuid.uuid4().hex[:8]}")


def user_id(stack: LocalStack, token: str) -> str:
    """The user a token belongs to, as the API reports it."""
    uid: str = stack.http("GET", "/api/v1/me", token=token).body["id"]
    return uid


@pytest.fixture
def fresh_queue(stack: LocalStack) -> Callable[..., tuple[PolledQueue, str]]:
    """A new SQS queue on the stack's moto with its own DLQ (redrive after max_retries + 1 receives), as the
    stack provisions them, for queue tests that must not share the stack's queues; returns it and its DLQ's URL."""
    sqs = stack.client("sqs")

    def create(
        *, visibility_timeout: int = 30, max_retries: int = 3, batch_size: int = 10, batch_window_seconds: int = 0
    ) -> tuple[PolledQueue, str]:
        name = f"test-{uuid.uuid4().hex[:12]}"
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_retries + 1)}
        url = sqs.create_queue(
            QueueName=name,
            Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return PolledQueue(name, url, arn, batch_size, batch_window_seconds), dlq_url

    return create
