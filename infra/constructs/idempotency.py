"""Powertools idempotency records: a DynamoDB table keyed and expired as storage.json `idempotency` says."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import house_table
from infra.storage_layout import IdempotencyBinding, IdempotencyLayout

# Exactly what Powertools' DynamoDB persistence layer calls: a conditional put that claims a key, reading a
# record back, completing it, and deleting it when the handler failed. No scans, queries or batch writes.
RECORD_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class IdempotencyTable(Construct):
    """On demand, PITR, the same AWS-managed encryption as the KV table, TTL on the records' expiry."""

    TABLE_ENV = "TTAI_IDEMPOTENCY_TABLE"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: IdempotencyLayout
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = house_table(
            self,
            "Table",
            config,
            # Powertools writes the key as a string ("<function>#<hash of the payload>").
            partition_key=dynamodb.Attribute(name=layout.partition_key, type=dynamodb.AttributeType.STRING),
            ttl_attribute=layout.ttl_attribute,
        )

    def bind(self, grantee: iam.IGrantable, binding: IdempotencyBinding) -> dict[str, str]:
        """Claim, read, complete and delete records; returns the variable the consumer's persistence layer reads."""
        self.table.grant(grantee, *RECORD_ACTIONS)
        return {self.TABLE_ENV: self.table.table_name}
