"""The R2 bucket: one S3 bucket with seed 000's prefixes, seed 004's lifecycle tiers, and per-prefix grants.

Encryption is S3-managed (SSE-S3), as for the KV overflow bucket. Every object is encrypted at rest either way;
with SSE-KMS every reader (and every presigned download, signed by the api role) would also need the key, each
request would be a KMS call, and no party outside this account reads the bucket, which is what a key policy
would guard. Access is decided by the bucket's IAM grants below, each scoped to the prefixes its function uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.nag import acknowledge, logical_id, wildcard_finding
from infra.storage_layout import USER_OBJECTS, BucketLayout, R2Binding

# What reading, writing and deleting objects take: no wildcards, so nothing beyond these comes with a grant.
# GetObjectVersion: after a multipart upload the binding reads the new version back (HeadObject with its id).
OBJECT_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
# Multipart uploads need PutObject (create, upload part, complete) plus these two; tagging happens on put.
OBJECT_WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
# A versioned bucket keeps deleted objects as noncurrent versions, and an unfinished upload keeps its parts:
# erasing a user's data removes both.
OBJECT_DELETE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload")
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
OBJECT_ACTIONS = {"read": OBJECT_READ_ACTIONS, "write": OBJECT_WRITE_ACTIONS, "delete": OBJECT_DELETE_ACTIONS}


class Storage(Construct):
    """The bucket behind env.R2 (TTAI_R2_BUCKET), logging its access to the stack's access-log bucket."""

    BUCKET_ENV = "TTAI_R2_BUCKET"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: BucketLayout,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._layout = layout
        lifecycle = layout.lifecycle
        tag = lifecycle.export_tag
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # An overwritten or deleted document, export or backup stays recoverable for a while.
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="storage/",
            lifecycle_rules=[
                # Exports live under users/{user_id}/exports/, which no literal prefix names: the runtime tags
                # them on put (storage.json bucket.lifecycle.export_tag) and the rule matches users/ plus the tag.
                s3.LifecycleRule(
                    id="exports-to-infrequent-access-then-expire",
                    prefix=layout.prefix("exports"),
                    tag_filters={tag.key: tag.value},
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(lifecycle.exports_infrequent_access_after_days),
                        )
                    ],
                    expiration=cdk.Duration.days(lifecycle.exports_expire_after_days),
                ),
                s3.LifecycleRule(
                    id="backups-to-glacier",
                    prefix=layout.prefix("backups"),
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(lifecycle.backups_glacier_after_days),
                        )
                    ],
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=cdk.Duration.days(lifecycle.noncurrent_versions_expire_after_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        lifecycle.abort_incomplete_uploads_after_days
                    ),
                ),
                # Once its versions have expired, a deleted object's marker is all that is left: remove it too.
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
            ],
            # No auto-delete custom resource (as for the overflow bucket): destroying dev needs an emptied bucket.
            removal_policy=removal_policy(config),
        )

    @property
    def user_prefix(self) -> str:
        """users/: where every object a user owns lives (exports, uploads), whatever the purpose."""
        owned = {
            self._layout.prefix(purpose) for purpose, prefix in self._layout.prefixes.items() if "{user_id}" in prefix
        }
        if len(owned) != 1:
            msg = f"storage.json: the per-user prefixes must share one literal root, not {sorted(owned)}"
            raise ValueError(msg)
        return owned.pop()

    def objects(self, scope: str) -> str:
        """The key pattern of a scope's objects: users/*/exports/* for exports ({user_id} matches any id), users/*
        for user_objects (everything any user owns)."""
        if scope == USER_OBJECTS:
            return f"{self.user_prefix}*"
        return self._layout.prefixes[scope].replace("{user_id}", "*") + "*"

    def bind(self, grantee: iam.IGrantable, binding: R2Binding) -> dict[str, str]:
        """Grant each operation of the binding on its scopes' objects; returns the variable env.R2 reads.

        One statement per operation, naming every scope that has it, in the order the spec first names them.
        Listing is granted on the bucket with the scopes' patterns as its s3:prefix condition: a list must ask for
        a prefix inside them."""
        operations = dict.fromkeys(operation for granted in binding.prefixes.values() for operation in granted)
        for operation in operations:
            patterns = [self.objects(scope) for scope, granted in binding.prefixes.items() if operation in granted]
            if operation == "list":
                self._grant_list(grantee, patterns)
            else:
                self._grant_patterns(grantee, OBJECT_ACTIONS[operation], patterns)
        return {self.BUCKET_ENV: self.bucket.bucket_name}

    def _grant_list(self, grantee: iam.IGrantable, patterns: Sequence[str]) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(LIST_ACTIONS),
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(patterns)}},
            )
        )

    def _grant_patterns(self, grantee: iam.IGrantable, actions: Sequence[str], patterns: Sequence[str]) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=[self.bucket.arn_for_objects(pattern) for pattern in patterns],
            )
        )
        principal = grantee.grant_principal
        if not isinstance(principal, Construct):
            return
        bucket_id = logical_id(cast(s3.CfnBucket, self.bucket.node.default_child))
        for pattern in patterns:
            acknowledge(
                principal,
                f"AwsSolutions-IAM5[{wildcard_finding('Resource', f'<{bucket_id}.Arn>/{pattern}')}]",
                f"Objects have generated keys under {pattern} of this one bucket; the runtime scopes each "
                "request to the verified user's own prefix, and IAM cannot name those keys in advance.",
            )
