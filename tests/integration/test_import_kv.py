"""``import_kv``: a ``wrangler kv bulk put`` file through the KV binding (moto DynamoDB, S3 for large values)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local.aws_calls import CallCounter
from local.importers.kv import import_kv
from local.importers.verify import EXIT_INCOMPLETE, EXIT_OK
from local.stack import LocalStack
from tests.cloudflare_fixtures import KV_BULK
from ttai.bindings.kv import KVNamespace


def _bulk_file(
    tmp_path: Path, key_prefix: str, extra: Sequence[dict[str, Any]] = ()
) -> tuple[Path, list[dict[str, Any]]]:
    """The committed bulk file with every key under this test's prefix (the namespace is shared by the session)."""
    entries = [{**e, "key": key_prefix + e["key"]} for e in json.loads(KV_BULK.read_text(encoding="utf-8"))]
    entries += [{**e, "key": key_prefix + e["key"]} for e in extra]
    path = tmp_path / "bulk.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path, entries


def test_the_bulk_file_arrives_through_the_binding_expired_entries_skipped(
    kv: KVNamespace, tmp_path: Path, key_prefix: str
) -> None:
    path, entries = _bulk_file(tmp_path, key_prefix)
    report = import_kv(kv, path)
    (namespace,) = report.comparisons
    assert report.exit_code == EXIT_OK, "\n".join(report.lines())
    expired = [e for e in entries if e.get("expiration", 2**40) < 2_000_000_000]
    assert namespace.skipped == {"already expired": len(expired)}
    assert len(expired) == 40
    assert namespace.written == {"unchanged": 0, "written": len(entries) - len(expired)}
    assert namespace.source.count == namespace.target.count == 201
    assert namespace.matched
    binary = next(e for e in entries if e.get("base64"))
    assert kv.get(binary["key"], "bytes") == base64.b64decode(binary["value"])
    with_metadata = next(e for e in entries if e.get("metadata"))
    assert kv.get_with_metadata(with_metadata["key"]).metadata == {"v": 2, "tags": ["a", "ü"]}
    assert kv.get(expired[0]["key"]) is None
    listed = {k.name: k.expiration for k in kv.list(prefix=key_prefix).keys}
    absolute = next(e for e in entries if e.get("expiration", 0) > 2_000_000_000)
    assert listed[absolute["key"]] == absolute["expiration"]
    relative = next(e for e in entries if "expiration_ttl" in e)
    assert listed[relative["key"]] is not None


def test_a_rerun_writes_nothing_and_a_changed_value_is_written_again(
    stack: LocalStack, kv: KVNamespace, tmp_path: Path, key_prefix: str
) -> None:
    path, entries = _bulk_file(tmp_path, key_prefix)
    import_kv(kv, path)
    before = {k.name: k.expiration for k in kv.list(prefix=key_prefix).keys}
    with CallCounter(stack.env.client("dynamodb"), stack.env.client("s3")) as calls:
        again = import_kv(kv, path)
    assert calls.calls["PutItem"] == 0
    assert calls.calls["BatchWriteItem"] == 0
    assert again.comparisons[0].written == {"unchanged": 201, "written": 0}
    assert again.exit_code == EXIT_OK
    # A TTL entry keeps the expiry its first import gave it: a re-run does not extend it.
    assert {k.name: k.expiration for k in kv.list(prefix=key_prefix).keys} == before
    entries[0]["value"] = "changed in Cloudflare"
    path.write_text(json.dumps(entries), encoding="utf-8")
    changed = import_kv(kv, path)
    assert changed.comparisons[0].written == {"unchanged": 200, "written": 1}
    assert kv.get(entries[0]["key"]) == "changed in Cloudflare"


def test_limits_are_the_bindings_large_values_overflow_and_refusals_are_reported(
    kv: KVNamespace, tmp_path: Path, key_prefix: str, overflow_objects: Any
) -> None:
    large = "v" * (500 * 1024)  # over a DynamoDB item: the binding puts it in S3
    extra: list[dict[str, Any]] = [
        {"key": "large", "value": large},
        {"key": "k" * 600, "value": "a key over 512 bytes"},
        {"key": "soon", "value": "expires in 10 s", "expiration_ttl": 10},
        {"key": "twice", "value": "first"},
        {"key": "twice", "value": "second"},
        {"key": "bad-base64", "value": "***", "base64": True},
    ]
    objects = overflow_objects()
    path, _ = _bulk_file(tmp_path, key_prefix, extra)
    report = import_kv(kv, path)
    (namespace,) = report.comparisons
    assert report.exit_code == EXIT_INCOMPLETE
    assert namespace.matched
    reasons = {r.key.removeprefix(key_prefix): r.reason for r in namespace.refused.items}
    assert "512 bytes" in reasons["k" * 600]
    assert "minimum is 60 seconds" in reasons["soon"]
    assert "not base64" in reasons["bad-base64 (entry 246)"]
    assert kv.get(key_prefix + "large") == large
    assert len(overflow_objects() - objects) == 1
    assert kv.get(key_prefix + "twice") == "second"
    assert namespace.skipped["an earlier entry with the same key (the later one wins)"] == 1
