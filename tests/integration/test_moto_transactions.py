"""moto's transactions as local.moto_atomic leaves them: a cancelled TransactWriteItems still changes nothing (the
items it touched are put back one by one instead of the tables being copied), and moto's errors are unchanged."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.moto_atomic import make_dynamodb_requests_atomic
from local.stack import LocalStack


@pytest.fixture
def table(stack: LocalStack, raw_dynamodb: Any) -> str:
    make_dynamodb_requests_atomic()
    name = f"transactions-{uuid.uuid4().hex[:8]}"
    raw_dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
    )
    raw_dynamodb.put_item(TableName=name, Item={"k": {"S": "kept"}, "n": {"N": "1"}})
    raw_dynamodb.put_item(TableName=name, Item={"k": {"S": "removed"}, "n": {"N": "2"}})
    return name


def items(dynamodb: Any, table: str) -> dict[str, Any]:
    found = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["k"]["S"]: item for item in found}


def test_a_cancelled_transaction_changes_no_item(raw_dynamodb: Any, table: str) -> None:
    before = items(raw_dynamodb, table)
    actions = [
        {"Put": {"TableName": table, "Item": {"k": {"S": "new"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": {"k": {"S": "kept"}},
                "UpdateExpression": "SET n = :n",
                "ExpressionAttributeValues": {":n": {"N": "99"}},
            }
        },
        {"Delete": {"TableName": table, "Key": {"k": {"S": "removed"}}}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"k": {"S": "absent"}},
                "ConditionExpression": "attribute_exists(k)",
            }
        },
    ]
    with pytest.raises(ClientError) as cancelled:
        raw_dynamodb.transact_write_items(TransactItems=actions)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert items(raw_dynamodb, table) == before


def test_a_transaction_that_passes_writes_every_item(raw_dynamodb: Any, table: str) -> None:
    raw_dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"k": {"S": "new"}}}},
            {"Delete": {"TableName": table, "Key": {"k": {"S": "removed"}}}},
        ]
    )
    assert sorted(items(raw_dynamodb, table)) == ["kept", "new"]
