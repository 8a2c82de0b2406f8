"""Durable Object tests share the session's moto server; each test gets a table of its own (storage.json's
layout). A fresh table is cheap, and moto copies the whole table for every action of a TransactWriteItems (to
roll back), so a table shared by the session would make every commit slower as the suite runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.account import REGION
from local.aws_calls import CallCounter
from local.moto_atomic import make_dynamodb_requests_atomic
from local.stack import LocalStack
from local.tables import create_durable_table
from tests.integration.durable.objects import CLASSES
from ttai.bindings.durable import DurableObjectNamespace
from ttai.bindings.durable.host import DurableObjectHost
from ttai.bindings.durable.items import DurableTable


@pytest.fixture(scope="session", autouse=True)
def _atomic_dynamodb() -> None:
    """DynamoDB's per-request atomicity, which the lease relies on and moto lacks (local/moto_atomic.py)."""
    make_dynamodb_requests_atomic()


@pytest.fixture(scope="session")
def durable_dynamodb(stack: LocalStack) -> Any:
    """The hosts' client: a pool as large as the concurrency tests' thread count."""
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=128, retries={"mode": "standard", "max_attempts": 4}),
    )


@pytest.fixture
def durable_table(stack: LocalStack, durable_dynamodb: Any) -> Iterator[DurableTable]:
    name = f"durable-{uuid.uuid4().hex[:12]}"
    create_durable_table(durable_dynamodb, name, stack.layout.durable)
    yield DurableTable(name, stack.layout.durable)
    durable_dynamodb.delete_table(TableName=name)


@pytest.fixture
def host(durable_table: DurableTable, durable_dynamodb: Any) -> DurableObjectHost:
    return DurableObjectHost(CLASSES, table=durable_table, dynamodb=durable_dynamodb, env={"binding": "env"})


@pytest.fixture
def calls(durable_dynamodb: Any) -> Iterator[CallCounter]:
    """DynamoDB calls the hosts make while the test runs, by operation."""
    with CallCounter(durable_dynamodb) as counter:
        yield counter


@pytest.fixture
def name() -> str:
    """An object name no other test uses."""
    return f"object-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def counters(host: DurableObjectHost) -> DurableObjectNamespace:
    return host.namespace("COUNTER")


@pytest.fixture
def stores(host: DurableObjectHost) -> DurableObjectNamespace:
    return host.namespace("STORE")


@pytest.fixture
def alarmed(host: DurableObjectHost) -> DurableObjectNamespace:
    return host.namespace("ALARMED")
