"""The KV bulk file reader and the verification report's checksums and exit codes (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.importers import kv
from local.importers.kv import BulkFileError, iter_entries, value_bytes
from local.importers.verify import (
    EXIT_INCOMPLETE,
    EXIT_MISMATCH,
    EXIT_OK,
    Comparison,
    Refusal,
    Report,
    Tally,
    entry_digest,
)
from tests.cloudflare_fixtures import KV_BULK


def test_the_bulk_file_is_read_one_entry_at_a_time_even_when_a_value_outgrows_the_read_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kv, "READ_CHUNK", 7)  # far smaller than any entry: every entry spans several reads
    entries = [{"key": "a", "value": "x" * 500}, {"key": "b", "value": 'ü, ] [ " ,', "metadata": {"n": [1, 2]}}]
    path = tmp_path / "bulk.json"
    path.write_text(" \n" + json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    assert [entry for _, entry in iter_entries(path)] == entries
    path.write_text("[]")
    assert list(iter_entries(path)) == []


def test_the_committed_bulk_file_holds_every_shape_wrangler_takes() -> None:
    entries = [entry for _, entry in iter_entries(KV_BULK)]
    assert len(entries) == 241
    assert any(e.get("base64") for e in entries)
    assert any("expiration_ttl" in e for e in entries)
    assert any("metadata" in e for e in entries)
    binary = next(e for e in entries if e.get("base64"))
    assert len(value_bytes(binary)) == 64 + 1  # the generator's second entry: 65 random bytes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"key": "a"}', "a JSON array"),
        ('[{"key": "a", "value": "b"} {"key": "c"}]', "expected ',' or ']' after entry 0"),
        ('[{"key": "a", "value": "b"}, {"key": ', "entry 1 is not valid JSON"),
        ('[{"key": "a", "value": "b"}', "ends before its array does"),
    ],
)
def test_a_file_that_is_not_an_array_of_entries_is_refused_saying_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BulkFileError, match=message):
        list(iter_entries(path))


def test_a_base64_value_that_is_not_base64_is_an_error_of_that_entry() -> None:
    assert value_bytes({"key": "k", "value": "aGk=", "base64": True}) == b"hi"
    with pytest.raises(ValueError, match="not base64"):
        value_bytes({"key": "k", "value": "not base64!", "base64": True})


def test_a_checksum_does_not_depend_on_the_order_entries_arrive_in() -> None:
    items = [(f"key{n}", entry_digest(f"key{n}", f"content {n}")) for n in range(50)]
    forwards, backwards = Tally(), Tally()
    for key, digest in items:
        forwards.add(key, digest)
    for key, digest in reversed(items):
        backwards.add(key, digest)
    assert forwards.matches(backwards)
    assert forwards.checksum == backwards.checksum
    assert not forwards.differing_buckets(backwards)


def test_differing_buckets_point_at_the_entries_that_differ() -> None:
    source, target = Tally(), Tally()
    for n in range(200):
        source.add(f"k{n}", entry_digest(f"k{n}", "same"))
        target.add(f"k{n}", entry_digest(f"k{n}", "changed" if n == 17 else "same"))
    assert source.count == target.count
    assert not source.matches(target)
    (bucket,) = source.differing_buckets(target)
    target.remove("k17", entry_digest("k17", "changed"))
    target.add("k17", entry_digest("k17", "same"))
    assert source.matches(target)
    assert bucket not in source.differing_buckets(target)


def _report(*comparisons: Comparison) -> Report:
    return Report("t", "src", "dst", comparisons=list(comparisons))


def _equal(name: str) -> Comparison:
    comparison = Comparison("table", name, name)
    for tally in (comparison.source, comparison.target):
        tally.add("1", entry_digest("1", "row"))
    return comparison


def test_exit_codes_say_verified_mismatched_or_verified_with_something_left_out() -> None:
    assert _report(_equal("users")).exit_code == EXIT_OK
    refused = _equal("alerts")
    refused.refused.add(Refusal("13", "breaks alerts_condition_check"))
    assert _report(_equal("users"), refused).exit_code == EXIT_INCOMPLETE
    mismatched = _equal("positions")
    mismatched.target.add("2", entry_digest("2", "row"))
    assert _report(refused, mismatched).exit_code == EXIT_MISMATCH
    unmapped = _report(_equal("users"))
    unmapped.unmapped["legacy_table"] = "3 rows left behind"
    assert unmapped.exit_code == EXIT_INCOMPLETE
    text = "\n".join(_report(refused, mismatched).lines())
    assert "refused 13: breaks alerts_condition_check" in text
    assert "MISMATCH" in text


def test_a_kv_or_r2_target_may_hold_more_than_the_source() -> None:
    comparison = _equal("KV")
    comparison.extra_is_mismatch = False
    comparison.extra.add("cache:ours")
    report = _report(comparison)
    assert report.exit_code == EXIT_OK
    assert "only in the target (kept; not from this source): cache:ours" in "\n".join(report.lines())
    assert report.as_json()["comparisons"][0]["extra"] == {"count": 1, "keys": ["cache:ours"], "is_mismatch": False}
