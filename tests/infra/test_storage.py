"""The R2 bucket in every environment: layout, protection, lifecycle tiers, logging and per-prefix grants."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.storage_layout import StorageLayout
from tests.infra._template import (
    Resource,
    actions_of,
    as_list,
    resources,
    statements_of_function,
    statements_on,
    ttai_function_ids,
    variable_target,
    variables_of,
)

pytestmark = pytest.mark.slow

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _bucket_id(template: Template) -> str:
    return variable_target(template, "api", "TTAI_R2_BUCKET")


def _bucket(template: Template) -> dict[str, Any]:
    return resources(template, "AWS::S3::Bucket")[_bucket_id(template)]


def _rules(template: Template) -> dict[str, Resource]:
    return {rule["Id"]: rule for rule in _bucket(template)["Properties"]["LifecycleConfiguration"]["Rules"]}


def _object_patterns(statement: dict[str, Any], bucket_id: str) -> set[str]:
    """The key patterns a statement grants in the bucket ("" for the bucket itself)."""
    patterns = set()
    for resource in as_list(statement["Resource"]):
        if resource == {"Fn::GetAtt": [bucket_id, "Arn"]}:
            patterns.add("")
            continue
        head, tail = resource["Fn::Join"][1]
        assert head == {"Fn::GetAtt": [bucket_id, "Arn"]}
        patterns.add(tail.removeprefix("/"))
    return patterns


def _grants(template: Template, function: str) -> dict[str, set[str]]:
    """Action -> key patterns the function is granted in the bucket."""
    bucket_id = _bucket_id(template)
    granted: dict[str, set[str]] = {}
    for statement in statements_on(statements_of_function(template, function), bucket_id):
        for action in actions_of(statement):
            granted.setdefault(action, set()).update(_object_patterns(statement, bucket_id))
    return granted


class TestBucket:
    def test_private_encrypted_versioned_and_tls_only(self, template: Template):
        bucket_id = _bucket_id(template)
        properties = _bucket(template)["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL
        [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        [policy] = [
            policy["Properties"]["PolicyDocument"]
            for policy in resources(template, "AWS::S3::BucketPolicy").values()
            if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
        ]
        assert any(
            statement["Effect"] == "Deny"
            and statement["Action"] == "s3:*"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policy["Statement"]
        )

    def test_access_is_logged_to_a_separate_bucket_that_is_itself_protected(self, template: Template):
        bucket_id = _bucket_id(template)
        logging = _bucket(template)["Properties"]["LoggingConfiguration"]
        log_bucket_id = logging["DestinationBucketName"]["Ref"]
        assert log_bucket_id != bucket_id
        assert logging["LogFilePrefix"] == "storage/"
        log_bucket = resources(template, "AWS::S3::Bucket")[log_bucket_id]["Properties"]
        assert log_bucket["PublicAccessBlockConfiguration"] == BLOCK_ALL
        assert "LoggingConfiguration" not in log_bucket  # a log bucket logging to itself would loop
        [log_policy] = [
            policy["Properties"]["PolicyDocument"]
            for policy in resources(template, "AWS::S3::BucketPolicy").values()
            if policy["Properties"]["Bucket"] == {"Ref": log_bucket_id}
        ]
        delivery = [
            statement
            for statement in log_policy["Statement"]
            if statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        ]
        assert any(
            {"Fn::GetAtt": [bucket_id, "Arn"]} == statement["Condition"]["ArnLike"]["aws:SourceArn"]
            for statement in delivery
        )

    def test_lifecycle_follows_the_layout(self, template: Template, layout: StorageLayout):
        lifecycle = layout.bucket.lifecycle
        rules = _rules(template)
        for rule in rules.values():
            assert rule["Status"] == "Enabled"
        exports = rules["exports-to-infrequent-access-then-expire"]
        assert exports["Prefix"] == "users/"
        assert exports["TagFilters"] == [{"Key": lifecycle.export_tag.key, "Value": lifecycle.export_tag.value}]
        assert exports["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
        assert exports["ExpirationInDays"] == 365
        backups = rules["backups-to-glacier"]
        assert backups["Prefix"] == layout.bucket.prefixes["backups"] == "backups/"
        assert backups["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 30}]
        assert "ExpirationInDays" not in backups
        versions = rules["expire-noncurrent-versions"]
        assert "Prefix" not in versions
        assert versions["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
        assert versions["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True

    def test_the_exports_rule_reaches_only_tagged_objects_under_the_users_prefix(self, layout: StorageLayout):
        # The literal root of users/{user_id}/exports/; uploads share it, and only the tag tells exports apart.
        assert layout.bucket.prefix("exports") == layout.bucket.prefix("uploads") == "users/"
        assert layout.bucket.lifecycle.export_tag.key == "ttai-kind"

    def test_removal_follows_the_environment(self, template: Template, config: EnvironmentConfig):
        bucket = _bucket(template)
        assert bucket["DeletionPolicy"] == ("Retain" if config.retain else "Delete")
        # No auto-delete custom resource: it would bring a Node.js function into every stack.
        assert not resources(template, "Custom::S3AutoDeleteObjects")


class TestGrants:
    def test_the_api_reads_exports_erases_users_keeps_workflow_values_and_writes_user_knowledge(
        self, template: Template
    ):
        # No route reads the shared knowledge/ documents: the api is granted nothing there (storage.json functions.api);
        # a user's own documents it only writes (the consumer reads them to index them).
        granted = _grants(template, "api")
        assert granted == {
            "s3:GetObject": {"users/*/exports/*", "workflows/*"},
            "s3:GetObjectVersion": {"users/*/exports/*", "workflows/*"},
            # Writes under workflows/ (values too big for a checkpoint) and a user's knowledge/. Exports are the
            # workflow's to write.
            "s3:PutObject": {"workflows/*", "users/*/knowledge/*"},
            "s3:PutObjectTagging": {"workflows/*", "users/*/knowledge/*"},
            "s3:AbortMultipartUpload": {"workflows/*", "users/*/knowledge/*", "users/*"},
            "s3:ListMultipartUploadParts": {"workflows/*", "users/*/knowledge/*"},
            "s3:DeleteObject": {"users/*"},
            "s3:DeleteObjectVersion": {"users/*"},
            "s3:ListBucket": {""},
            "s3:ListBucketVersions": {""},
            "s3:ListBucketMultipartUploads": {""},
        }

    def test_listing_needs_a_prefix_the_api_may_read(self, template: Template):
        bucket_id = _bucket_id(template)
        [listing] = [
            statement
            for statement in statements_on(statements_of_function(template, "api"), bucket_id)
            if "s3:ListBucket" in actions_of(statement)
        ]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}

    @pytest.mark.parametrize(
        ("function", "purposes", "lists"),
        [
            ("analysis_workflow", {"workflows/*"}, False),
            ("screener_workflow", {"workflows/*"}, False),
            ("export_workflow", {"workflows/*", "users/*/exports/*"}, True),
            ("backup_workflow", {"workflows/*", "backups/*"}, False),
        ],
    )
    def test_each_workflow_writes_and_reads_back_only_what_its_steps_write(
        self, template: Template, function: str, purposes: set[str], lists: bool
    ):
        writes = ("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
        reads = ("s3:GetObject", "s3:GetObjectVersion")
        expected = dict.fromkeys((*writes, *reads), purposes)
        if lists:  # the account archive lists the user's objects
            expected |= {
                action: {""} for action in ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
            }
        assert _grants(template, function) == expected

    def test_the_consumer_only_reads_users_knowledge_documents(self, template: Template):
        reads = ("s3:GetObject", "s3:GetObjectVersion")
        assert _grants(template, "consumer") == {action: {"users/*/knowledge/*"} for action in reads}

    def test_no_other_function_touches_the_bucket(self, template: Template):
        for function in ttai_function_ids(template):
            if function not in {"api", "consumer"} and not function.endswith("_workflow"):
                assert _grants(template, function) == {}, function
                assert "TTAI_R2_BUCKET" not in variables_of(template, function), function

    def test_the_consumer_cannot_write_the_bucket_only_its_kv_overflow(self, template: Template):
        overflow_id = variable_target(template, "consumer", "TTAI_KV_OVERFLOW_BUCKET")
        for statement in statements_of_function(template, "consumer"):
            writes = {action for action in actions_of(statement) if action.startswith(("s3:Put", "s3:Delete"))}
            if writes:
                # KV values too large for an item: the overflow bucket's prefix, the KV binding's own business.
                assert json.dumps(statement["Resource"]).count(overflow_id) >= 1
                assert _bucket_id(template) not in json.dumps(statement["Resource"])
