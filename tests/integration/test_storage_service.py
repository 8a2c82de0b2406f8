"""Seed 000's StorageService on S3 (moto): knowledge documents, a user's exports, and download links."""

from __future__ import annotations

import urllib.request
import uuid

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.r2 import InvalidMetadata
from ttai.errors import InvalidField, NotFound
from ttai.services.storage import StorageService


@pytest.fixture
def owner() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


def test_knowledge_documents(stack: LocalStack) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}"
    r2 = stack.env.R2
    r2.put(f"knowledge/{topic}/options/greeks.md", "# Greeks\nΔ, Γ")
    r2.put(f"knowledge/{topic}/options/strategies.md", "# Strategies")
    r2.put(f"knowledge/{topic}/trading/risk.md", "# Risk")
    storage = StorageService(r2)
    assert storage.get_knowledge_doc(f"{topic}/options/greeks.md") == "# Greeks\nΔ, Γ"
    assert storage.get_knowledge_doc(f"{topic}/missing.md") is None
    assert storage.list_knowledge_docs(f"{topic}/options/") == [
        f"knowledge/{topic}/options/greeks.md",
        f"knowledge/{topic}/options/strategies.md",
    ]
    assert len(storage.list_knowledge_docs(f"{topic}/")) == 3
    for bad in ("../users/x", "/etc/passwd", f"{topic}/../x", "", f"{topic}/options/greeks.md\n"):
        with pytest.raises(InvalidField):
            storage.get_knowledge_doc(bad)


def test_exports_saved_read_listed_and_linked(stack: LocalStack, owner: str, aws_calls: CallCounter) -> None:
    storage = StorageService(stack.env.R2, owner)
    saved = storage.save_export("report.md", "# Report")
    assert saved.content_type == "text/markdown"
    assert saved.size == len("# Report")
    head = stack.env.R2.head(f"users/{owner}/exports/report.md")
    assert head is not None
    assert head.http_metadata is not None
    assert head.http_metadata.content_type == "text/markdown"
    storage.save_export("data.bin", iter([b"\x00\x01", b"\x02"]))
    assert storage.get_export("data.bin") == b"\x00\x01\x02"
    assert storage.get_export("absent.csv") is None
    page = storage.list_exports()
    assert [(f.name, f.content_type) for f in page.items] == [
        ("data.bin", "application/octet-stream"),
        ("report.md", "text/markdown"),
    ]
    assert page.next_cursor is None

    aws_calls.calls.clear()
    link = storage.export_url("report.md")
    assert aws_calls.by_operation() == {"HeadObject": 1}  # presigning is local: no call
    with urllib.request.urlopen(link.url, timeout=10) as response:  # noqa: S310 - the local stack's S3
        assert response.read() == b"# Report"
    with pytest.raises(NotFound):
        storage.export_url("absent.csv")
    with pytest.raises(NotFound):  # a name is matched whole: "$" alone would take a final line break
        storage.save_export("report.md\n", "# Report")
    # Another user's service cannot reach these names: the same name is a different key.
    assert StorageService(stack.env.R2, f"{owner}-other").get_export("report.md") is None


def test_every_export_carries_the_tag_its_lifecycle_rule_selects(stack: LocalStack, owner: str) -> None:
    storage = StorageService(stack.env.R2, owner)
    storage.save_export("small.csv", "a,b\n")
    # A stream over one part's size goes up as a multipart upload: the tag must be set when it starts.
    storage.save_export("large.csv", iter([b"x" * (5 * 1024 * 1024), b"y" * (4 * 1024 * 1024)]))
    s3 = stack.client("s3")
    bucket = stack.environ["TTAI_R2_BUCKET"]
    for name in ("small.csv", "large.csv"):
        tags = s3.get_object_tagging(Bucket=bucket, Key=f"users/{owner}/exports/{name}")["TagSet"]
        assert tags == [{"Key": "ttai-kind", "Value": "export"}], name


def test_tags_beyond_what_s3_allows_are_refused_before_any_call(stack: LocalStack, owner: str) -> None:
    r2 = stack.env.R2
    with pytest.raises(InvalidMetadata):
        r2.put(f"users/{owner}/x", "x", tags={f"k{i}": "v" for i in range(11)})
    with pytest.raises(InvalidMetadata):
        r2.put(f"users/{owner}/x", "x", tags={"k": "v" * 257})
    assert r2.head(f"users/{owner}/x") is None


def test_a_service_without_a_user_has_no_exports(stack: LocalStack) -> None:
    with pytest.raises(NotFound):
        StorageService(stack.env.R2).list_exports()
