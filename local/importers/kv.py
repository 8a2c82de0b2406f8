"""``ttai import kv``: the JSON file ``wrangler kv bulk put`` takes, written through a KV binding.

The file is an array of ``{"key", "value", "expiration"?, "expiration_ttl"?, "metadata"?, "base64"?}``; it is read
one entry at a time (a value can be 25 MiB), twice: once to learn what it holds (a digest per key, never the
values), once to write what the namespace does not already hold. Every write is the binding's ``put``, so key and
value limits, the S3 overflow of large values, metadata limits and expiry rules are the binding's, and an entry the
binding refuses is reported with the binding's reason. Entries already expired are skipped, as Cloudflare would
refuse them; of two entries with one key the later wins, as a bulk put applies them in order.

Re-running is a no-op: an entry whose key already holds the same value and metadata, with the same absolute
expiration, is not written again; one written with ``expiration_ttl`` keeps the expiry its first import gave it (a
re-run does not extend it). The verification compares, per key of the file, value digest, metadata and expiry;
other keys of the namespace are counted, not compared (it is a cache that also holds our own entries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.importers.progress import Progress
from local.importers.verify import Comparison, Refusal, Report, entry_digest
from ttai.bindings.kv import BULK_GET_MAX, KVError, KVNamespace, iter_all_keys

READ_CHUNK = 1024 * 1024
WORKERS = 8


class BulkFileError(ValueError):
    """The file is not a JSON array of entries (the message says where)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What the first pass keeps of an entry: never its value, only the value's digest."""

    index: int
    sha256: str
    utf8: bool  # the value is text a bulk get returns unchanged (valid UTF-8 without U+FFFD)
    metadata: str | None  # canonical JSON
    expiration: int | None
    ttl: float | None


@dataclass(frozen=True, slots=True)
class Held:
    """What the namespace holds for a key."""

    sha256: str
    metadata: str | None
    expiration: int | None


def import_kv(kv: KVNamespace, path: Path, *, namespace: str = "KV", workers: int = WORKERS) -> Report:
    started = time.monotonic()
    report = Report(title=f"KV import of {path.name}", source=str(path), target=f"namespace {namespace}")
    comparison = Comparison("namespace", namespace, path.name, extra_is_mismatch=False)
    report.comparisons.append(comparison)
    entries = _survey(path, comparison, time.time())
    held, others = _held(kv, entries, workers)
    comparison.notes.append(f"{others:,} other keys in the namespace (not from this file: kept, not compared)")
    writes = {key for key, entry in entries.items() if not _same(entry, held.get(key))}
    comparison.count_written("unchanged", len(entries) - len(writes))
    comparison.count_written("written", 0)
    for key in _write(kv, path, entries, writes, comparison, workers):
        del entries[key]
    for key, entry in entries.items():
        comparison.source.add(key, entry_digest(key, _canonical(entry.sha256, entry.metadata, _expiry(entry))))
    after, _ = _held(kv, entries, workers)
    for key, entry in entries.items():
        found = after.get(key)
        if found is None:
            comparison.missing.add(key)
            continue
        canonical = _canonical(found.sha256, found.metadata, _held_expiry(entry, found))
        comparison.target.add(key, entry_digest(key, canonical))
        if canonical != _canonical(entry.sha256, entry.metadata, _expiry(entry)):
            comparison.different.add(key)
    report.seconds = time.monotonic() - started
    return report


# ------------------------------------------------------------------------------------------ the file


def iter_entries(path: Path) -> Iterator[tuple[int, Any]]:
    """The file's array elements with their index, parsed one at a time (at most one value is held)."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as handle:
        buffer = handle.read(READ_CHUNK)
        at = _skip(buffer, 0)
        if at >= len(buffer) or buffer[at] != "[":
            raise BulkFileError(f"{path}: a bulk file is a JSON array of entries")
        at += 1
        index = 0
        while True:
            buffer, at = buffer[at:], 0
            buffer, at = _fill(handle, buffer, at)
            if at < len(buffer) and buffer[at] == "]":
                return
            want = READ_CHUNK
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, at)
                    break
                except json.JSONDecodeError as exc:
                    more = handle.read(want)
                    if not more:
                        raise BulkFileError(f"{path}: entry {index} is not valid JSON ({exc.msg})") from None
                    buffer += more
                    want *= 2  # a large value: read further each time rather than re-parse in small steps
            yield index, value
            index += 1
            buffer, at = _fill(handle, buffer, end)
            if at < len(buffer) and buffer[at] == ",":
                at += 1
            elif at < len(buffer) and buffer[at] == "]":
                return
            else:
                raise BulkFileError(f"{path}: expected ',' or ']' after entry {index - 1}")


def _skip(buffer: str, at: int) -> int:
    while at < len(buffer) and buffer[at] in " \t\r\n":
        at += 1
    return at


def _fill(handle: Any, buffer: str, at: int) -> tuple[str, int]:
    at = _skip(buffer, at)
    while at >= len(buffer):
        more = handle.read(READ_CHUNK)
        if not more:
            raise BulkFileError("the bulk file ends before its array does")
        buffer, at = more, _skip(more, 0)
    return buffer, at


def value_bytes(entry: dict[str, Any]) -> bytes:
    value = entry["value"]
    if entry.get("base64"):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("base64 is true but the value is not base64") from None
    return str(value).encode("utf-8")


def _checked(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("an entry is a JSON object")
    if not isinstance(raw.get("key"), str) or not isinstance(raw.get("value"), str):
        raise ValueError("an entry needs a string key and a string value")
    for name in ("expiration", "expiration_ttl"):
        if (
            name in raw
            and raw[name] is not None
            and (isinstance(raw[name], bool) or not isinstance(raw[name], int | float))
        ):
            raise ValueError(f"{name} must be a number of seconds")
    if "base64" in raw and not isinstance(raw["base64"], bool):
        raise ValueError("base64 must be true or false")
    return raw


def _survey(path: Path, comparison: Comparison, now: float) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    with Progress(f"reading {path.name}", unit="entries") as bar:
        for index, raw in iter_entries(path):
            bar.advance()
            comparison.read += 1
            key = str(raw["key"]) if isinstance(raw, dict) and isinstance(raw.get("key"), str) else f"#{index}"
            try:
                entry = _checked(raw)
                body = value_bytes(entry)
                metadata = _metadata(entry.get("metadata"))
            except ValueError as exc:
                comparison.refused.add(Refusal(f"{key} (entry {index})", str(exc)))
                continue
            if key in entries:
                comparison.skip("an earlier entry with the same key (the later one wins)")
                del entries[key]
            expiration = entry.get("expiration")
            if expiration is not None and expiration <= now:
                comparison.skip("already expired")
                continue
            entries[key] = Entry(
                index=index,
                sha256=hashlib.sha256(body).hexdigest(),
                utf8=_text_safe(body),
                metadata=metadata,
                expiration=int(expiration) if expiration is not None else None,
                ttl=entry.get("expiration_ttl"),
            )
    return entries


def _metadata(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _text_safe(body: bytes) -> bool:
    try:
        return "\ufffd" not in body.decode("utf-8")
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------------------------------ the namespace


def _held(kv: KVNamespace, entries: dict[str, Entry], workers: int) -> tuple[dict[str, Held], int]:
    """What the namespace holds for the file's keys, and how many other keys it has."""
    expirations: dict[str, int | None] = {}
    others = 0
    for listed in iter_all_keys(kv):
        if listed.name in entries:
            expirations[listed.name] = listed.expiration
        else:
            others += 1
    held: dict[str, Held] = {}
    present = [k for k in entries if k in expirations]
    text_keys = [k for k in present if entries[k].utf8]
    for start in range(0, len(text_keys), BULK_GET_MAX):
        chunk = text_keys[start : start + BULK_GET_MAX]
        for key, found in kv.get_with_metadata(chunk, "text").items():
            if found is not None:
                digest = hashlib.sha256(str(found.value).encode("utf-8")).hexdigest()
                held[key] = Held(digest, _metadata(found.metadata), expirations[key])
    binary = [k for k in present if not entries[k].utf8]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for key, found in zip(binary, pool.map(lambda k: kv.get_with_metadata(k, "bytes"), binary), strict=True):
            if found.value is not None:
                held[key] = Held(hashlib.sha256(found.value).hexdigest(), _metadata(found.metadata), expirations[key])
    return held, others


def _same(entry: Entry, held: Held | None) -> bool:
    if held is None or held.sha256 != entry.sha256 or held.metadata != entry.metadata:
        return False
    if entry.ttl is not None:
        return held.expiration is not None  # the expiry the first import gave it stands
    return held.expiration == entry.expiration


def _write(
    kv: KVNamespace, path: Path, entries: dict[str, Entry], writes: set[str], comparison: Comparison, workers: int
) -> set[str]:
    """Put the entries in ``writes`` (a few at a time, values read from the file as they go); returns the keys the
    binding refused."""

    def put(raw: dict[str, Any]) -> None:
        kv.put(
            raw["key"],
            value_bytes(raw) if raw.get("base64") else raw["value"],
            expiration=raw.get("expiration"),
            expiration_ttl=raw.get("expiration_ttl"),
            metadata=raw.get("metadata"),
        )

    refused: set[str] = set()
    in_flight: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, Progress("writing", total=len(writes), unit="entries") as bar:
        for index, raw in iter_entries(path):
            key = raw.get("key") if isinstance(raw, dict) else None
            if not isinstance(key, str) or key not in writes or entries[key].index != index:
                continue
            in_flight[pool.submit(put, raw)] = key
            if len(in_flight) >= 2 * workers:  # bounded: values are read from the file as they are written
                refused |= _collect(in_flight, comparison, bar)
        while in_flight:
            refused |= _collect(in_flight, comparison, bar)
    return refused


def _collect(in_flight: dict[Future[None], str], comparison: Comparison, bar: Progress) -> set[str]:
    refused: set[str] = set()
    done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
    for future in done:
        key = in_flight.pop(future)
        bar.advance()
        error = future.exception()
        if error is None:
            comparison.count_written("written")
        elif isinstance(error, KVError):
            comparison.refused.add(Refusal(key, f"the binding refused it: {error}"))
            refused.add(key)
        else:
            raise error
    return refused


def _expiry(entry: Entry) -> str:
    if entry.ttl is not None:
        return "expires (expiration_ttl)"
    return f"expires at {entry.expiration}" if entry.expiration is not None else "never expires"


def _held_expiry(entry: Entry, held: Held) -> str:
    if entry.ttl is not None and held.expiration is not None:
        return "expires (expiration_ttl)"
    return f"expires at {held.expiration}" if held.expiration is not None else "never expires"


def _canonical(sha256: str, metadata: str | None, expiry: str) -> str:
    return json.dumps([sha256, metadata, expiry], ensure_ascii=False)
