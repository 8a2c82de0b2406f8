"""KV's ``cacheTtl`` on AWS: a read cache per container, standing in for the edge cache a Cloudflare location keeps.

A ``get(key, cache_ttl=n)`` may be answered from what this container read of the key in the last ``n`` seconds
(at least 60, Cloudflare's minimum), found or missing, as a Cloudflare location answers from its cache; a read without
``cache_ttl`` always goes to DynamoDB, fresher than Cloudflare (which caches every read for 60 s) and never staler.
An entry never outlives the key's own expiration, and this container's own ``put`` / ``delete`` of a key drop its
entry, so a container reads its own writes; writes by other containers show once the entry's ``cache_ttl`` has passed
(Cloudflare's documented eventual consistency, bounded the same way). Entries are keyed by table and key, kept least
recently used first out, and bounded in number and in bytes of value. Hits and misses are counted here and emitted
as the ``KvReadCacheHits`` / ``KvReadCacheMisses`` metrics (flushed by each handler's ``log_metrics``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

MIN_CACHE_TTL = 60  # seconds: Cloudflare refuses a smaller cacheTtl
MAX_ENTRIES = 10_000
MAX_VALUE_BYTES = 32 * 1024 * 1024  # the values held at once, so a Lambda's memory is not the cache's to take


class _Entry(NamedTuple):
    stored: Any  # what the binding read: its item, or None for a key read as missing
    until: float  # served while time.time() < until
    size: int


class KVReadCache:
    """Reads of KV keys kept for their ``cache_ttl``: ``lookup``, ``store``, ``forget``; ``hits`` / ``misses``."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_VALUE_BYTES, emit: bool = True) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._emit = emit
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, table: str, key: str, now: float) -> tuple[bool, Any]:
        """``(True, stored)`` for a live entry (``stored`` None: the key was read as missing), else ``(False, None)``.
        Counts the hit or miss."""
        with self._lock:
            entry = self._entries.get((table, key))
            if entry is not None and now >= entry.until:
                self._drop((table, key))
                entry = None
            if entry is None:
                self.misses += 1
            else:
                self._entries.move_to_end((table, key))
                self.hits += 1
        self._record(hit=entry is not None)
        return (True, entry.stored) if entry is not None else (False, None)

    def store(
        self, table: str, key: str, stored: Any, *, now: float, ttl: float, expires: float | None, size: int
    ) -> None:
        """Keep what a read found (or None: missing) for ``ttl`` seconds, and never past ``expires``."""
        until = now + ttl if expires is None else min(now + ttl, expires)
        if until <= now or size > self._max_bytes:
            return
        with self._lock:
            self._drop((table, key))
            self._entries[(table, key)] = _Entry(stored, until, size)
            self._bytes += size
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)

    def forget(self, table: str, key: str) -> None:
        """Drop ``key``'s entry: this container wrote or deleted it."""
        with self._lock:
            self._drop((table, key))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, name: tuple[str, str]) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._bytes -= entry.size

    def _record(self, *, hit: bool) -> None:
        if not self._emit:
            return
        from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415 - only reads with cache_ttl pay

        from ttai.observability import metrics  # noqa: PLC0415

        metrics.add_metric(name="KvReadCacheHits" if hit else "KvReadCacheMisses", unit=MetricUnit.Count, value=1)


def check_cache_ttl(value: object, error: type[Exception]) -> float:
    """``cache_ttl`` as seconds: a finite number of at least 60; ``error`` otherwise (Cloudflare refuses it too)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(f"cache_ttl must be a finite number of seconds, got {value!r}")
    if value < MIN_CACHE_TTL:
        raise error(f"cache_ttl of {value} s is invalid: the minimum is {MIN_CACHE_TTL} seconds")
    return float(value)


# One per container (process), shared by every KVNamespace in it, as one Cloudflare location's cache is.
CONTAINER_READ_CACHE = KVReadCache()
