"""DynamoDB tables on moto as the stack declares them: on demand, string keys, TTL where the layout names one.

Every local table is made here, so a table's shape is written once beside the layout it follows (storage.json)
rather than once per provisioner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ttai.layout import DurableLayout, WebSocketLayout


def create_table(
    dynamodb: Any,
    name: str,
    *,
    key: str,
    sort: str | None = None,
    ttl: str | None = None,
    index_attributes: Mapping[str, str] | None = None,
    indexes: Sequence[Mapping[str, Any]] = (),
) -> None:
    """An on-demand table keyed by the string ``key`` (and ``sort``), its ``indexes`` (global secondary, their key
    attributes typed in ``index_attributes``), with TTL on ``ttl`` when given."""
    attributes = {key: "S", **({sort: "S"} if sort else {}), **(index_attributes or {})}
    schema = [{"AttributeName": key, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
    extra: dict[str, Any] = {"GlobalSecondaryIndexes": [dict(index) for index in indexes]} if indexes else {}
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name_, "AttributeType": kind} for name_, kind in attributes.items()],
        KeySchema=schema,
        **extra,
    )
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})


def create_durable_table(dynamodb: Any, name: str, layout: DurableLayout) -> None:
    """The Durable Objects table with storage.json's key schema and its sparse alarm index (keys only)."""
    create_table(
        dynamodb,
        name,
        key=layout.partition_attr,
        sort=layout.sort_attr,
        index_attributes={layout.alarm_shard_attr: "N", layout.alarm_due_attr: "N"},
        indexes=[
            {
                "IndexName": layout.alarm_index,
                "KeySchema": [
                    {"AttributeName": layout.alarm_shard_attr, "KeyType": "HASH"},
                    {"AttributeName": layout.alarm_due_attr, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def create_connections_table(dynamodb: Any, name: str, layout: WebSocketLayout) -> None:
    """The WebSocket connections table with storage.json's key schema and its TTL attribute."""
    create_table(dynamodb, name, key=layout.partition_attr, sort=layout.sort_attr, ttl=layout.ttl_attr)
