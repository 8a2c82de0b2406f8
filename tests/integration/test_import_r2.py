"""``import_r2``: a second moto bucket, playing R2's S3 API, copied into the R2 binding's bucket."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.importers.r2 import SOURCE_ETAG_TAG, import_r2
from local.importers.verify import EXIT_INCOMPLETE, EXIT_OK
from local.stack import LocalStack
from ttai.bindings.r2 import R2Bucket, R2ObjectBody

BIG = 9 * 1024 * 1024  # over the 8 MiB the binding sends in one request: its copy is a multipart upload


@pytest.fixture
def source(stack: LocalStack) -> Iterator[tuple[Any, str]]:
    """A bucket of its own on the stack's moto server, filled as a Worker's R2 bucket would be."""
    s3 = stack.client("s3")
    name = f"cf-r2-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for n in range(12):
        s3.put_object(
            Bucket=name,
            Key=f"users/5WT{n:05d}/exports/analysis-{n}.csv",
            Body=b"symbol,rsi\nAAPL,33.1\n" * (n + 1),
            ContentType="text/csv",
            CacheControl="private, max-age=60",
            Metadata={"owner": f"5WT{n:05d}", "generated_by": "worker"},
        )
    s3.put_object(
        Bucket=name,
        Key="knowledge/options/greeks.md",
        Body="# Greeks\nΔ, Γ, Θ".encode(),
        ContentType="text/markdown; charset=utf-8",
        ContentLanguage="en",
        ContentDisposition='inline; filename="greeks.md"',
        ContentEncoding="identity",
        Expires=datetime(2030, 1, 1, tzinfo=UTC),
    )
    s3.put_object(Bucket=name, Key="backups/d1-backup-2024-01-15.sql", Body=os.urandom(BIG))
    upload = s3.create_multipart_upload(Bucket=name, Key="embeddings/knowledge/chunks.json")
    parts = []
    for number, size in ((1, 5 * 1024 * 1024), (2, 1000)):
        done = s3.upload_part(
            Bucket=name, Key="embeddings/knowledge/chunks.json", PartNumber=number,
            UploadId=upload["UploadId"], Body=os.urandom(size),
        )  # fmt: skip
        parts.append({"PartNumber": number, "ETag": done["ETag"]})
    s3.complete_multipart_upload(
        Bucket=name,
        Key="embeddings/knowledge/chunks.json",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    yield s3, name
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys]})
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def target(stack: LocalStack) -> Iterator[R2Bucket]:
    """An empty bucket behind an R2 binding, as the stack provisions its own (the stack's is shared by the session)."""
    s3 = stack.client("s3")
    name = f"r2-target-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield R2Bucket(name, s3=stack.env.client("s3"))
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        if doomed:
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed})


def _body(obj: R2ObjectBody | Any) -> bytes:
    assert isinstance(obj, R2ObjectBody)
    return obj.bytes()


def test_objects_arrive_with_their_metadata_and_bytes_and_a_rerun_copies_nothing(
    stack: LocalStack, source: tuple[Any, str], target: R2Bucket
) -> None:
    s3, name = source
    target.put("exports/ours.csv", "written on AWS")  # the target may hold more than the source
    report = import_r2(target, s3, name)
    (prefix,) = report.comparisons
    assert report.exit_code == EXIT_OK, "\n".join(report.lines())
    assert prefix.written == {"copied": 15, "unchanged": 0}
    assert prefix.source.count == prefix.target.count == 15
    assert prefix.extra.items == ["exports/ours.csv"]
    csv = target.head("users/5WT00003/exports/analysis-3.csv")
    assert csv is not None
    assert csv.custom_metadata == {"owner": "5WT00003", "generated_by": "worker"}
    assert csv.http_metadata is not None
    assert csv.http_metadata.cache_control == "private, max-age=60"
    greeks = target.get("knowledge/options/greeks.md")
    assert isinstance(greeks, R2ObjectBody)
    assert greeks.http_metadata is not None
    assert greeks.http_metadata.content_disposition == 'inline; filename="greeks.md"'
    assert greeks.http_metadata.cache_expiry == datetime(2030, 1, 1, tzinfo=UTC)
    assert greeks.text() == "# Greeks\nΔ, Γ, Θ"
    backup = s3.get_object(Bucket=name, Key="backups/d1-backup-2024-01-15.sql")["Body"].read()
    copied = target.get("backups/d1-backup-2024-01-15.sql")
    assert hashlib.sha256(_body(copied)).digest() == hashlib.sha256(backup).digest()
    tags = stack.client("s3").get_object_tagging(Bucket=target.bucket, Key="backups/d1-backup-2024-01-15.sql")
    assert {"Key": SOURCE_ETAG_TAG, "Value": hashlib.md5(backup, usedforsecurity=False).hexdigest()} in tags["TagSet"]

    with CallCounter(target.s3, s3) as calls:
        again = import_r2(target, s3, name)
    assert again.comparisons[0].written == {"copied": 0, "unchanged": 15}
    assert again.exit_code == EXIT_OK
    for write in ("PutObject", "CreateMultipartUpload", "UploadPart", "GetObject"):
        assert calls.calls[write] == 0, write
    # Per object one HeadObject on each side; a tag read only where the copy's etag cannot equal the source's.
    assert calls.calls["HeadObject"] == 30
    assert calls.calls["GetObjectTagging"] == 2


def test_a_prefix_and_a_change_at_the_source_copy_only_what_they_should(
    source: tuple[Any, str], target: R2Bucket
) -> None:
    s3, name = source
    first = import_r2(target, s3, name, prefix="users/")
    assert first.comparisons[0].written["copied"] == 12
    assert target.head("knowledge/options/greeks.md") is None
    s3.copy_object(
        Bucket=name,
        Key="users/5WT00001/exports/analysis-1.csv",
        CopySource={"Bucket": name, "Key": "users/5WT00001/exports/analysis-1.csv"},
        Metadata={"owner": "5WT00001", "generated_by": "worker", "reviewed": "yes"},
        MetadataDirective="REPLACE",
        ContentType="text/csv",
    )
    again = import_r2(target, s3, name, prefix="users/")
    assert again.comparisons[0].written == {"copied": 1, "unchanged": 11}
    copied = target.head("users/5WT00001/exports/analysis-1.csv")
    assert copied is not None
    assert copied.custom_metadata is not None
    assert copied.custom_metadata["reviewed"] == "yes"


def test_metadata_r2_would_refuse_is_reported_and_the_rest_still_arrives(
    source: tuple[Any, str], target: R2Bucket
) -> None:
    s3, name = source
    s3.put_object(Bucket=name, Key="users/too-much-metadata.txt", Body=b"x", Metadata={"note": "n" * 2100})
    report = import_r2(target, s3, name, prefix="users/")
    (prefix,) = report.comparisons
    assert report.exit_code == EXIT_INCOMPLETE
    assert prefix.matched
    (refusal,) = prefix.refused.items
    assert refusal.key == "users/too-much-metadata.txt"
    assert "2048" in refusal.reason
    assert target.head("users/too-much-metadata.txt") is None
    assert prefix.written["copied"] == 12
