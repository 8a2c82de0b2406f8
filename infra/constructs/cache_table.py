"""The KV namespace: a DynamoDB table laid out as storage.json says, and the S3 bucket that takes oversized values."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import house_table, removal_policy
from infra.nag import acknowledge, logical_id, wildcard_finding
from infra.storage_layout import KeyAttribute, KvBinding, KvLayout

ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}

# The S3 action families CDK's grant_read / grant_put / grant_delete use; each stays inside the overflow prefix.
_OBJECT_READ_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
_OBJECT_WRITE_ACTIONS = ("s3:Abort*", "s3:DeleteObject*")


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=ATTRIBUTE_TYPES[key.type])


class CacheTable(Construct):
    """DynamoDB table (on demand, PITR, TTL, the list index) plus the overflow bucket and its access-log bucket."""

    TABLE_ENV = "TTAI_KV_TABLE"
    OVERFLOW_BUCKET_ENV = "TTAI_KV_OVERFLOW_BUCKET"

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: KvLayout) -> None:
        super().__init__(scope, construct_id)
        self._layout = layout
        removal = removal_policy(config)

        self.table = house_table(
            self, "Table", config, partition_key=_attribute(layout.partition_key), ttl_attribute=layout.ttl_attribute
        )
        index = layout.list_index
        self.table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_attribute(index.partition_key),
            sort_key=_attribute(index.sort_key),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(index.non_key_attributes),
        )

        # Buckets follow the environment's removal policy but get no auto-delete custom resource: that would add
        # a Node.js function with a managed-policy role to every stack. Destroying dev needs emptied buckets.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logging cannot deliver to SSE-KMS
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(config.log_retention_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal,
        )

        expiry_rules = [
            s3.LifecycleRule(
                id=f"expire-overflow-within-{days}-days",
                prefix=layout.overflow_prefix,
                tag_filters={layout.overflow_expiry_tag: str(days)},
                expiration=cdk.Duration.days(days),
            )
            for days in sorted(set(layout.overflow_expiry_days))
        ]
        self.overflow = s3.Bucket(
            self,
            "Overflow",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # No versioning: an overflow object is the body of one KV item, whose DynamoDB record (with PITR) is
            # the source of truth. Versions would keep every overwritten and expired value alive past the
            # expiry rules below, which is what a cache must not do.
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="overflow/",
            lifecycle_rules=[
                *expiry_rules,
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
            ],
            removal_policy=removal,
        )

    @property
    def overflow_objects(self) -> str:
        """The key pattern holding overflow values: grants reach no further into the bucket."""
        return f"{self._layout.overflow_prefix}*"

    def bind(self, grantee: iam.IGrantable, binding: KvBinding) -> dict[str, str]:
        """Grant the binding's access and return the variables the KV binding reads: the table, and the overflow
        bucket only with overflow (a function without it reads and writes items only)."""
        if binding.access == "read":
            self._grant_read(grantee, include_overflow=binding.overflow)
        else:
            self._grant_read_write(grantee, include_overflow=binding.overflow)
        variables = {self.TABLE_ENV: self.table.table_name}
        if binding.overflow:
            variables[self.OVERFLOW_BUCKET_ENV] = self.overflow.bucket_name
        return variables

    def _grant_read(self, grantee: iam.IGrantable, *, include_overflow: bool) -> None:
        """Read items (table and list index); with include_overflow, also read overflow values."""
        self.table.grant_read_data(grantee)
        self._acknowledge_index_wildcard(grantee)
        if include_overflow:
            self.overflow.grant_read(grantee, self.overflow_objects)
            self._acknowledge_overflow_wildcards(grantee, _OBJECT_READ_ACTIONS)

    def _grant_read_write(self, grantee: iam.IGrantable, *, include_overflow: bool) -> None:
        """Read, write and delete items; with include_overflow, also their overflow values."""
        self.table.grant_read_write_data(grantee)
        self._acknowledge_index_wildcard(grantee)
        if not include_overflow:
            return
        self.overflow.grant_read(grantee, self.overflow_objects)
        self.overflow.grant_put(grantee, self.overflow_objects)
        self.overflow.grant_delete(grantee, self.overflow_objects)
        self._acknowledge_overflow_wildcards(grantee, _OBJECT_READ_ACTIONS + _OBJECT_WRITE_ACTIONS)

    def _acknowledge_index_wildcard(self, grantee: iam.IGrantable) -> None:
        table_id = logical_id(cast(dynamodb.CfnTable, self.table.node.default_child))
        self._acknowledge(
            grantee,
            wildcard_finding("Resource", f"<{table_id}.Arn>/index/*"),
            "Queries the KV table's list index; DynamoDB names index ARNs table/index/NAME and CDK grants "
            "them as one pattern scoped to this table.",
        )

    def _acknowledge_overflow_wildcards(self, grantee: iam.IGrantable, actions: tuple[str, ...]) -> None:
        bucket_id = logical_id(cast(s3.CfnBucket, self.overflow.node.default_child))
        self._acknowledge(
            grantee,
            wildcard_finding("Resource", f"<{bucket_id}.Arn>/{self.overflow_objects}"),
            "Overflow values are objects with generated keys under the overflow prefix; access is scoped to "
            "that prefix of this one bucket.",
        )
        for action in actions:
            self._acknowledge(
                grantee,
                wildcard_finding("Action", action),
                f"{action} is the action family CDK's bucket grants use (object, version and tagging variants); "
                "the statement names only this bucket and its overflow prefix.",
            )

    @staticmethod
    def _acknowledge(grantee: iam.IGrantable, finding: str, reason: str) -> None:
        # Only a role of ours can carry the acknowledgment; any other grantee keeps the finding, so nag says so.
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            acknowledge(principal, f"AwsSolutions-IAM5[{finding}]", reason)
