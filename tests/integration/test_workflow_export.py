"""ExportWorkflow on the SDK's local runner against the stack: a file written a part per step, each part's
position checkpointed, a failed part retried alone, an export that fails for good leaving no upload behind."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
import uuid
from collections import Counter
from typing import Any

import pytest

from local.stack import LocalStack
from local.workflows import LocalWorkflows
from ttai.bindings.r2 import R2MultipartUpload
from ttai.services.cache import CacheKeys
from ttai.services.export_file import PART_BYTES, FileReader
from ttai.tenant_keys import user_object_prefix

NOTE = "n" * 2_000  # about 2 KB of CSV a row: 3,000 rows make two parts


def _user(stack: LocalStack, journal_rows: int) -> str:
    user = f"exporter-{uuid.uuid4().hex[:8]}"
    stack.token_for(user)
    stack.env.DB.prepare(
        "INSERT INTO trade_journal (user_id, symbol, strategy, legs, entry_date, entry_price, notes)"
        " SELECT ?1, 'MSFT', 'csp', '[]'::jsonb, DATE '2026-01-01' + (g % 300), 1.5 + g, ?3 || g"
        " FROM generate_series(1, ?2::int) AS g"
    ).bind(user, journal_rows, NOTE).run()
    return user


def _download(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a presigned URL to the local stack
        body: bytes = response.read()
    return body


def _open_uploads(stack: LocalStack, user: str) -> list[str]:
    uploads = stack.client("s3").list_multipart_uploads(Bucket=stack.environ["TTAI_R2_BUCKET"]).get("Uploads", [])
    prefix = user_object_prefix("exports", user)
    return [u["Key"] for u in uploads if u["Key"].startswith(prefix)]


@pytest.fixture
def fills(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """How many times each part was filled, by the section it started in and how many items it came after."""
    counts: Counter[int] = Counter()
    real = FileReader.fill

    def counted(self: FileReader, plan: Any, position: Any, target: int = PART_BYTES) -> Any:
        counts[position.items] += 1
        return real(self, plan, position, target)

    monkeypatch.setattr(FileReader, "fill", counted)
    return counts


def test_a_long_journal_export_is_written_a_part_per_step_and_a_failed_upload_is_retried_alone(
    stack: LocalStack, ttai_workflows: LocalWorkflows, fills: Counter[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _user(stack, 3_000)
    uploads: Counter[int] = Counter()
    upload_part = R2MultipartUpload.upload_part

    def flaky(self: R2MultipartUpload, number: int, value: Any) -> Any:
        uploads[number] += 1
        if number == 2 and uploads[number] == 1:
            raise ConnectionError("S3 reset the connection")
        return upload_part(self, number, value)

    monkeypatch.setattr(R2MultipartUpload, "upload_part", flaky)

    instance = ttai_workflows.binding("EXPORT_WORKFLOW").create(
        params={"user": user, "dataset": "journal", "format": "csv"}
    )
    status = ttai_workflows.wait_for(instance, "complete", "errored", timeout=60)

    assert status["status"] == "complete", status
    output = status["output"]
    assert output["rows"] == 3_000
    assert output["content_type"] == "text/csv"
    assert uploads == {1: 1, 2: 2}  # part 1 uploaded once; part 2 failed once and was retried
    second_part_starts = [items for items in fills if items > 0]
    assert len(second_part_starts) == 1  # the second part began where the first ended...
    assert fills[second_part_starts[0]] == 2  # ...and was filled again only for its retry
    body = _download(output["url"])
    assert len(body) == output["size"] > PART_BYTES
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert len({r["id"] for r in rows}) == 3_000
    assert rows[0]["notes"] == NOTE + "1"
    listed = stack.http("GET", "/api/v1/exports", token=stack.token_for(user)).body["items"]
    assert output["name"] in {item["name"] for item in listed}
    assert _open_uploads(stack, user) == []


def test_an_export_whose_part_fails_for_good_aborts_its_upload(
    stack: LocalStack, ttai_workflows: LocalWorkflows, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _user(stack, 3_000)
    upload_part = R2MultipartUpload.upload_part

    def second_part_fails(self: R2MultipartUpload, number: int, value: Any) -> Any:
        if number == 2:
            raise ConnectionError("S3 reset the connection")
        return upload_part(self, number, value)

    monkeypatch.setattr(R2MultipartUpload, "upload_part", second_part_fails)

    instance = ttai_workflows.binding("EXPORT_WORKFLOW").create(
        params={"user": user, "dataset": "journal", "format": "json"}
    )
    status = ttai_workflows.wait_for(instance, "errored", "complete", timeout=60)

    assert status["error"] == {"name": "ConnectionError", "message": "S3 reset the connection"}
    assert _open_uploads(stack, user) == []
    assert stack.http("GET", "/api/v1/exports", token=stack.token_for(user)).body["items"] == []


def test_the_account_archive_as_a_workflow(stack: LocalStack, ttai_workflows: LocalWorkflows) -> None:
    user = _user(stack, 3)

    instance = ttai_workflows.binding("EXPORT_WORKFLOW").create(
        params={"user": user, "dataset": "account", "format": "json"}
    )
    status = ttai_workflows.wait_for(instance, "complete", "errored", timeout=30)

    assert status["status"] == "complete", status
    archive = json.loads(_download(status["output"]["url"]))
    assert archive["user_id"] == user
    assert [j["notes"] for j in archive["tables"]["trade_journal"]] == [NOTE + "1", NOTE + "2", NOTE + "3"]
    assert any(entry["key"].startswith(CacheKeys.session(user, "")) for entry in archive["cache"])
    assert status["output"]["name"].startswith("account-")


def test_an_archive_asked_for_as_csv_is_refused_without_writing(
    stack: LocalStack, ttai_workflows: LocalWorkflows
) -> None:
    user = _user(stack, 1)

    instance = ttai_workflows.binding("EXPORT_WORKFLOW").create(
        params={"user": user, "dataset": "account", "format": "csv"}
    )
    status = ttai_workflows.wait_for(instance, "errored", "complete")

    assert status["error"]["name"] == "InvalidParams"
    assert "the account archive is a JSON document" in status["error"]["message"]
    assert stack.http("GET", "/api/v1/exports", token=stack.token_for(user)).body["items"] == []
