"""Seed 000's cache tiers and key names, and the cache service's bookkeeping, on an in-memory KV."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytest

from ttai.bindings.kv import BULK_GET_MAX, MIN_EXPIRATION_TTL, KVKey, KVListResult, KVNamespace
from ttai.bindings.kv_rules import _check_key
from ttai.services.cache import CacheKeys, CacheService, CacheStats, CacheTier


class InMemoryKV:
    """Just enough of KVNamespace for CacheService, with every call recorded (no expiry: the clock never moves)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.ttls: dict[str, float | None] = {}
        self.calls: list[str] = []

    def get(self, key: str | Sequence[str], type: str = "text") -> Any:
        self.calls.append("get")
        if isinstance(key, str):
            return self._read(key, type)
        assert len(key) <= BULK_GET_MAX
        return {k: self._read(k, type) for k in key}

    def _read(self, key: str, type_: str) -> Any:
        raw = self.values.get(key)
        return json.loads(raw) if raw is not None and type_ == "json" else raw

    def put(self, key: str, value: str, *, expiration_ttl: float | None = None) -> None:
        self.calls.append("put")
        self.values[key], self.ttls[key] = value, expiration_ttl

    def put_many(self, entries: Mapping[str, str], *, expiration_ttl: float | None = None) -> None:
        self.calls.append("put_many")
        for key, value in entries.items():
            self.values[key], self.ttls[key] = value, expiration_ttl

    def delete(self, key: str) -> None:
        self.calls.append("delete")
        self.values.pop(key, None)

    def list(self, prefix: str | None = None, limit: int = 1000, cursor: str | None = None) -> KVListResult:
        self.calls.append("list")
        names = sorted((k for k in self.values if k.startswith(prefix or "")), key=str.encode)
        return KVListResult(keys=[KVKey(name) for name in names], list_complete=True)


class RecordingMetrics:
    def __init__(self) -> None:
        self.records: list[tuple[CacheTier, int, int]] = []

    def record(self, tier: CacheTier, *, hits: int, misses: int) -> None:
        self.records.append((tier, hits, misses))


@pytest.fixture
def memory_kv() -> InMemoryKV:
    return InMemoryKV()


@pytest.fixture
def cache(memory_kv: InMemoryKV) -> CacheService:
    return CacheService(cast(KVNamespace, memory_kv))


# --------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("tier", "label", "ttl"),
    [
        (CacheTier.HOT, "hot", 60),
        (CacheTier.WARM, "warm", 300),
        (CacheTier.ANALYSIS, "analysis", 900),
        (CacheTier.COLD, "cold", 86_400),
        (CacheTier.SESSION, "session", 86_400),
    ],
)
def test_each_tier_has_seed_000s_ttl(tier: CacheTier, label: str, ttl: int) -> None:
    assert (tier.label, tier.ttl) == (label, ttl)


def test_every_tier_ttl_is_one_kv_accepts() -> None:
    assert all(tier.ttl >= MIN_EXPIRATION_TTL for tier in CacheTier)
    assert len({tier.label for tier in CacheTier}) == len(CacheTier)


# ---------------------------------------------------------------------- keys


def test_keys_follow_category_user_identifier() -> None:
    assert CacheKeys.quote("AAPL") == "quote:AAPL"
    assert CacheKeys.chain("AAPL", "2026-12-18") == "chain:AAPL:2026-12-18"
    assert CacheKeys.chain("AAPL") == "chain:AAPL:all"
    assert CacheKeys.company("AAPL") == "company:AAPL"
    assert CacheKeys.user_analysis("u1", "AAPL") == "user:u1:analysis:AAPL"
    assert CacheKeys.analysis_index("AAPL", "u1") == "index:analysis:AAPL:u1"
    assert CacheKeys.session("u1", "s1") == "user:u1:session:s1"
    assert CacheKeys.watchlist("u1", "tech") == "user:u1:watchlist:tech"
    assert CacheKeys.positions("u1") == "user:u1:positions"


def test_a_symbols_prefixes_cover_its_keys() -> None:
    assert CacheKeys.chain("AAPL", "2026-12-18").startswith(CacheKeys.chain_prefix("AAPL"))
    assert CacheKeys.chain("AAPL").startswith(CacheKeys.chain_prefix("AAPL"))
    assert CacheKeys.analysis_index("AAPL", "u1").startswith(CacheKeys.analysis_index_prefix("AAPL"))


@pytest.mark.parametrize(("symbol", "other"), [("AAPL", "AAPLX"), ("AAPLX", "AAPL"), ("A", "AA")])
def test_a_symbols_prefixes_never_cover_another_symbol_that_starts_the_same(symbol: str, other: str) -> None:
    assert not CacheKeys.chain(other, "2026-12-18").startswith(CacheKeys.chain_prefix(symbol))
    assert not CacheKeys.chain(other).startswith(CacheKeys.chain_prefix(symbol))
    assert not CacheKeys.analysis_index(other, "u1").startswith(CacheKeys.analysis_index_prefix(symbol))


def test_keys_for_long_but_realistic_identifiers_are_valid_kv_keys() -> None:
    user = "u" * 64
    for key in (
        CacheKeys.chain("BRK.B", "2026-12-18"),
        CacheKeys.user_analysis(user, "BRK.B"),
        CacheKeys.analysis_index("BRK.B", user),
        CacheKeys.session(user, "s" * 64),
    ):
        _check_key(key)


@pytest.mark.parametrize(("count", "trips"), [(0, 0), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_quote_round_trips_are_one_per_hundred_symbols(count: int, trips: int) -> None:
    assert CacheService.quote_round_trips(count) == trips


# --------------------------------------------------------------------- stats


def test_stats_count_hits_and_misses_per_tier() -> None:
    stats = CacheStats()
    assert stats.hit_rate(CacheTier.HOT) is None
    stats.record(CacheTier.HOT, hits=3, misses=1)
    stats.record(CacheTier.HOT, hits=0, misses=4)
    stats.record(CacheTier.COLD, hits=1, misses=0)
    assert stats.hits == {"hot": 3, "cold": 1}
    assert stats.misses == {"hot": 5, "cold": 0}
    assert stats.hit_rate(CacheTier.HOT) == 3 / 8
    assert stats.hit_rate(CacheTier.COLD) == 1.0
    assert stats.hit_rate(CacheTier.WARM) is None


# ----------------------------------------------------- service on a fake KV


def test_get_or_set_loads_once_on_a_miss_and_stores_for_the_tiers_ttl(
    cache: CacheService, memory_kv: InMemoryKV
) -> None:
    loads: list[str] = []

    def loader() -> dict[str, Any]:
        loads.append("load")
        return {"name": "Apple"}

    assert cache.get_or_set("company:AAPL", CacheTier.COLD, loader) == {"name": "Apple"}
    assert cache.get_or_set("company:AAPL", CacheTier.COLD, loader) == {"name": "Apple"}
    assert loads == ["load"]
    assert memory_kv.ttls["company:AAPL"] == 86_400
    assert (cache.stats.hits, cache.stats.misses) == ({"cold": 1}, {"cold": 1})


def test_get_or_set_does_not_cache_none(cache: CacheService, memory_kv: InMemoryKV) -> None:
    calls = []

    def loader() -> None:
        calls.append(1)

    assert cache.get_or_set("quote:NONE", CacheTier.HOT, loader) is None
    assert cache.get_or_set("quote:NONE", CacheTier.HOT, loader) is None
    assert len(calls) == 2
    assert "put" not in memory_kv.calls


def test_get_or_set_caches_falsy_values_that_are_not_none(cache: CacheService) -> None:
    calls = []

    def loader() -> list[Any]:
        calls.append(1)
        return []

    assert cache.get_or_set("chain:EMPTY:all", CacheTier.WARM, loader) == []
    assert cache.get_or_set("chain:EMPTY:all", CacheTier.WARM, loader) == []
    assert len(calls) == 1


def test_hits_and_misses_reach_the_metrics_recorder(memory_kv: InMemoryKV) -> None:
    metrics = RecordingMetrics()
    cache = CacheService(cast(KVNamespace, memory_kv), metrics=metrics)
    cache.set_quotes({"AAPL": {"last": 1}})
    cache.get_quotes(["AAPL", "MSFT", "AAPL"])
    cache.get_company("AAPL")
    assert metrics.records == [(CacheTier.HOT, 1, 1), (CacheTier.COLD, 0, 1)]
    assert cache.stats.hits == {"hot": 1, "cold": 0}


def test_get_quotes_asks_in_chunks_of_100_unique_symbols(cache: CacheService, memory_kv: InMemoryKV) -> None:
    symbols = [f"S{i}" for i in range(250)]
    cache.set_quotes({"S7": {"last": 7}})
    memory_kv.calls.clear()
    quotes = cache.get_quotes(symbols + symbols[:10])
    assert list(quotes) == symbols
    assert quotes["S7"] == {"last": 7}
    assert quotes["S8"] is None
    assert memory_kv.calls == ["get"] * 3


def test_set_analysis_indexes_it_by_symbol_in_one_write(cache: CacheService, memory_kv: InMemoryKV) -> None:
    cache.set_analysis("u1", "AAPL", {"score": 1})
    assert memory_kv.calls == ["put_many"]
    assert json.loads(memory_kv.values["user:u1:analysis:AAPL"]) == {"score": 1}
    assert memory_kv.values["index:analysis:AAPL:u1"] == ""
    assert memory_kv.ttls["user:u1:analysis:AAPL"] == memory_kv.ttls["index:analysis:AAPL:u1"] == 900


def test_invalidate_symbol_finds_analyses_through_the_index(cache: CacheService, memory_kv: InMemoryKV) -> None:
    cache.set_analysis("u1", "AAPL", {"score": 1})
    cache.set_analysis("u2", "AAPLX", {"score": 2})
    cache.set_chain("AAPL", {"calls": []}, "2026-12-18")
    deleted = cache.invalidate_symbol("AAPL")
    assert set(deleted) == {
        "quote:AAPL",
        "company:AAPL",
        "analysis:AAPL",
        "chain:AAPL:2026-12-18",
        "user:u1:analysis:AAPL",
        "index:analysis:AAPL:u1",
    }
    assert set(memory_kv.values) == {"user:u2:analysis:AAPLX", "index:analysis:AAPLX:u2"}


def test_invalidate_symbol_finds_analyses_of_ids_that_extend_each_other(
    cache: CacheService, memory_kv: InMemoryKV
) -> None:
    cache.set_analysis("alice", "AAPL", {"score": 1})
    cache.set_analysis("alice:bob", "AAPL", {"score": 2})
    cache.set_analysis("alice:bob", "MSFT", {"score": 3})
    deleted = cache.invalidate_symbol("AAPL")
    assert {"user:alice:analysis:AAPL", "user:alice%3Abob:analysis:AAPL", "index:analysis:AAPL:alice%3Abob"} <= set(
        deleted
    )
    assert set(memory_kv.values) == {"user:alice%3Abob:analysis:MSFT", "index:analysis:MSFT:alice%3Abob"}
