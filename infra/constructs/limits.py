"""Per-user request limits and fast session revocation: the limits table (storage.json `limits`) and its binding."""

from __future__ import annotations

import json

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import house_table
from infra.storage_layout import LimitsBinding, LimitsLayout

# All a function does there: one conditional UpdateItem per authorized request (take a token, refused for a revoked
# session), and UpdateItems that mark the sessions it ends. It never reads, scans or deletes.
ITEM_ACTIONS = ("dynamodb:UpdateItem",)
AUTHORIZER_CACHE_SECONDS = 0  # infra.config.ApiSettings: the HTTP API's authorizer caches nothing


class LimitsTable(Construct):
    """On demand, PITR, AWS-managed encryption, TTL on the items' expiry, as every table of the stack."""

    TABLE_ENV = "TTAI_LIMITS_TABLE"
    # The buckets of cdk.json's `limits`, and how long a revocation mark must hold past the authorizer's cache.
    LIMITS_ENV = "TTAI_LIMITS"

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: LimitsLayout) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.table = house_table(
            self,
            "Table",
            config,
            partition_key=dynamodb.Attribute(name=layout.partition_key, type=dynamodb.AttributeType.STRING),
            ttl_attribute=layout.ttl_attribute,
        )

    def limits_variable(self) -> str:
        """TTAI_LIMITS: compact JSON, as ttai.auth.admission.Limits.parse reads it."""
        limits = self._config.limits
        return json.dumps(
            {
                "user": limits.user.model_dump(),
                "service": limits.service.model_dump(),
                # How long an ended session's mark must hold past now: the authorizer caches nothing (its answers
                # have no identity source to be cached by), so only the requests already past it.
                "revocation_seconds": AUTHORIZER_CACHE_SECONDS,
            },
            separators=(",", ":"),
        )

    def bind(self, grantee: iam.IGrantable, binding: LimitsBinding) -> dict[str, str]:
        """Update items only; returns the table's name and the limits the function admits requests by."""
        del binding  # one access level
        self.table.grant(grantee, *ITEM_ACTIONS)
        return {self.TABLE_ENV: self.table.table_name, self.LIMITS_ENV: self.limits_variable()}
