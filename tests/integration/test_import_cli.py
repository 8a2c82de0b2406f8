"""``ttai import kv | d1 | r2`` against a running stack, found through its state file as `make dev` writes it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from local import cli
from local.stack import LocalStack
from tests.cloudflare_fixtures import D1_EXPORT, DAMAGED, KV_BULK


@pytest.fixture
def state_file(stack: LocalStack, tmp_path: Path) -> Path:
    assert stack.postgres is not None
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"environ": stack.environ, "postgres_uri": stack.postgres.uri}))
    return path


def _ttai(state_file: Path, *args: str) -> int:
    return cli.main(["--state-file", str(state_file), "import", *args])


def test_d1_into_a_database_of_its_own_prints_the_report_and_writes_it_as_json(
    stack: LocalStack, state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"cli_import_{uuid.uuid4().hex[:8]}"
    report_file = tmp_path / "report.json"
    assert _ttai(state_file, "d1", str(D1_EXPORT), "--database", name, "--report", str(report_file)) == 3
    out = capsys.readouterr().out
    assert "table positions" in out
    assert "refused 9: breaks positions_check" in out
    assert "verified, but not everything was imported" in out
    report = json.loads(report_file.read_text())
    refused = {
        c["name"]: {r["key"] for r in c["refused"]["rows"]} for c in report["comparisons"] if c["refused"]["count"]
    }
    assert refused == {table: {str(k) for k in keys} for table, keys in DAMAGED.items()}
    assert all(c["status"] in {"ok", "ok, refused"} for c in report["comparisons"])
    db = stack.create_database(name)  # the database the command created and filled
    assert db.prepare("SELECT count(*) AS n FROM positions").first("n") == 1459
    # Again: every table was imported from this dump, nothing is written, the verdict is the same.
    assert _ttai(state_file, "d1", str(D1_EXPORT), "--database", name) == 3
    assert "already imported from this dump" in capsys.readouterr().out
    # Written again, as a delta run would be: nothing differs, nothing is gone from the dump.
    assert _ttai(state_file, "d1", str(D1_EXPORT), "--database", name, "--no-resume", "--prune") == 3
    assert "table positions: inserted 0, updated 0, unchanged 1,459" in capsys.readouterr().out


def test_d1_refuses_the_stacks_own_database_which_holds_rows_no_import_wrote(
    stack: LocalStack, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.token_for(f"cli-{uuid.uuid4().hex[:8]}")  # a user and a session the import would overwrite by id
    assert _ttai(state_file, "d1", str(D1_EXPORT)) == 2
    assert "already hold rows no import wrote" in capsys.readouterr().err


def test_kv_and_a_missing_file(
    state_file: Path, tmp_path: Path, key_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [{**e, "key": key_prefix + e["key"]} for e in json.loads(KV_BULK.read_text(encoding="utf-8"))]
    bulk = tmp_path / "bulk.json"
    bulk.write_text(json.dumps(entries))
    assert _ttai(state_file, "kv", str(bulk), "--namespace", "KV") == 0
    assert "namespace KV <- bulk.json" in capsys.readouterr().out
    assert _ttai(state_file, "kv", str(tmp_path / "absent.json")) == 2
    assert "absent.json" in capsys.readouterr().err
    assert _ttai(state_file, "kv", str(bulk), "--namespace", "DB") == 2
    assert "DB is not a KV binding" in capsys.readouterr().err


def test_r2_reads_its_source_with_keys_of_its_own(
    stack: LocalStack, state_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3: Any = stack.client("s3")
    bucket = f"cf-cli-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    prefix = f"cli-{uuid.uuid4().hex[:8]}/"
    s3.put_object(Bucket=bucket, Key=f"{prefix}a.txt", Body=b"a", Metadata={"k": "v"}, ContentType="text/plain")
    endpoint = stack.endpoint_url  # the moto server: the source is another bucket on it
    args = ("r2", "--endpoint", endpoint, "--bucket", bucket, "--prefix", prefix, "--region", "us-east-1")
    monkeypatch.delenv("R2_ACCESS_KEY_ID", raising=False)
    assert _ttai(state_file, *args) == 2
    assert "R2_ACCESS_KEY_ID" in capsys.readouterr().err
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "testing")  # moto takes any keys; R2 gives an API token's
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "testing")
    assert _ttai(state_file, *args) == 0
    assert "copied 1, unchanged 0" in capsys.readouterr().out
    assert stack.env.R2.head(f"{prefix}a.txt") is not None
