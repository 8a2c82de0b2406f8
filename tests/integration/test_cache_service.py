"""The market-data cache on KV over moto: tier TTLs, cache-aside, stats, symbol invalidation, calls per operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.aws_calls import CallCounter
from tests.conftest import Clock
from ttai.bindings.kv import INLINE_VALUE_MAX_BYTES, KVNamespace
from ttai.layout import storage_layout
from ttai.services.cache import CacheKeys, CacheService, CacheTier

RawItem = Callable[[str], dict[str, Any] | None]
OverflowObjects = Callable[[], set[str]]

TTL_ATTR = storage_layout().kv.ttl_attr


@pytest.fixture
def cache(kv: KVNamespace) -> CacheService:
    return CacheService(kv)


@pytest.fixture
def symbol() -> str:
    """A ticker no other test uses (cache keys have no test prefix of their own)."""
    return f"Z{uuid.uuid4().hex[:8].upper()}"


def _expires_at(raw_item: RawItem, key: str) -> int:
    item = raw_item(key)
    assert item is not None, f"{key} was not written"
    return int(item[TTL_ATTR]["N"])


def _quote(symbol: str, last: float = 100.0) -> dict[str, Any]:
    return {"symbol": symbol, "last": last}


# ===================================================================== tiers


def test_each_kind_of_data_is_stored_for_its_tiers_ttl(
    cache: CacheService, raw_item: RawItem, clock: Clock, symbol: str
) -> None:
    cache.set_quotes({symbol: _quote(symbol)})
    cache.set_chain(symbol, {"calls": []}, "2026-12-18")
    cache.set_analysis("u1", symbol, {"score": 0.7})
    cache.set_company(symbol, {"name": "Zed Corp"})
    cache.set(CacheKeys.session("u1", symbol), {"scopes": []}, CacheTier.SESSION)

    now = int(clock.now)
    assert _expires_at(raw_item, CacheKeys.quote(symbol)) == now + 60
    assert _expires_at(raw_item, CacheKeys.chain(symbol, "2026-12-18")) == now + 300
    assert _expires_at(raw_item, CacheKeys.user_analysis("u1", symbol)) == now + 900
    assert _expires_at(raw_item, CacheKeys.analysis_index(symbol, "u1")) == now + 900
    assert _expires_at(raw_item, CacheKeys.company(symbol)) == now + 86_400
    assert _expires_at(raw_item, CacheKeys.session("u1", symbol)) == now + 86_400


def test_each_tier_stops_serving_at_its_ttl(cache: CacheService, clock: Clock, symbol: str) -> None:
    cache.set_quotes({symbol: _quote(symbol)})
    cache.set_chain(symbol, {"calls": []})
    cache.set_analysis("u1", symbol, {"score": 0.7})

    clock.travel(59)
    assert cache.get_quote(symbol) == _quote(symbol)
    clock.travel(1)
    assert cache.get_quote(symbol) is None
    assert cache.get_quotes([symbol]) == {symbol: None}
    assert cache.get_chain(symbol) == {"calls": []}

    clock.travel(240)
    assert cache.get_chain(symbol) is None
    assert cache.get_analysis("u1", symbol) == {"score": 0.7}

    clock.travel(600)
    assert cache.get_analysis("u1", symbol) is None


# ================================================================ cache-aside


def test_get_or_set_calls_the_loader_once_on_a_miss_and_never_on_a_hit(
    cache: CacheService, raw_item: RawItem, clock: Clock, symbol: str
) -> None:
    loads: list[str] = []

    def load_company() -> dict[str, Any]:
        loads.append(symbol)
        return {"name": "Zed Corp", "sector": "Tech"}

    key = CacheKeys.company(symbol)
    assert cache.get_or_set(key, CacheTier.COLD, load_company) == {"name": "Zed Corp", "sector": "Tech"}
    assert loads == [symbol]
    assert _expires_at(raw_item, key) == clock.now + 86_400

    assert cache.get_or_set(key, CacheTier.COLD, load_company) == {"name": "Zed Corp", "sector": "Tech"}
    assert cache.get_company(symbol) == {"name": "Zed Corp", "sector": "Tech"}
    assert loads == [symbol]

    clock.travel(86_400)  # expired: the next read loads again
    cache.get_or_set(key, CacheTier.COLD, load_company)
    assert loads == [symbol, symbol]


def test_get_or_set_does_not_cache_none(cache: CacheService, raw_item: RawItem, symbol: str) -> None:
    loads: list[str] = []

    def load_nothing() -> None:
        loads.append(symbol)

    key = CacheKeys.quote(symbol)
    assert cache.get_or_set(key, CacheTier.HOT, load_nothing) is None
    assert cache.get_or_set(key, CacheTier.HOT, load_nothing) is None
    assert loads == [symbol, symbol]
    assert raw_item(key) is None


def test_a_failing_loader_caches_nothing(cache: CacheService, raw_item: RawItem, symbol: str) -> None:
    def load_broken() -> Any:
        raise TimeoutError("upstream quote feed")

    with pytest.raises(TimeoutError):
        cache.get_or_set(CacheKeys.quote(symbol), CacheTier.HOT, load_broken)
    assert raw_item(CacheKeys.quote(symbol)) is None


def test_stats_count_hits_and_misses_per_tier(cache: CacheService, symbol: str) -> None:
    cache.set_quotes({symbol: _quote(symbol)})
    cache.set_company(symbol, {"name": "Zed Corp"})

    cache.get_quote(symbol)  # hot hit
    cache.get_quotes([symbol, f"{symbol}A", f"{symbol}B"])  # hot: 1 hit, 2 misses
    cache.get_company(symbol)  # cold hit
    cache.get_chain(symbol)  # warm miss
    cache.get_or_set(CacheKeys.chain(symbol), CacheTier.WARM, lambda: {"calls": []})  # warm miss, then stored
    cache.get_chain(symbol)  # warm hit

    assert cache.stats.hits == {"hot": 2, "cold": 1, "warm": 1}
    assert cache.stats.misses == {"hot": 2, "cold": 0, "warm": 2}
    assert cache.stats.hit_rate(CacheTier.HOT) == 0.5
    assert cache.stats.hit_rate(CacheTier.ANALYSIS) is None


# ============================================================== invalidation


def test_invalidate_symbol_drops_everything_cached_for_it_and_nothing_for_a_symbol_that_starts_the_same(
    cache: CacheService, kv: KVNamespace, raw_item: RawItem, overflow_objects: OverflowObjects, symbol: str
) -> None:
    other = f"{symbol}X"  # "AAPL" vs "AAPLX": a prefix of the symbol, not of its keys
    before = overflow_objects()
    for ticker in (symbol, other):
        cache.set_quotes({ticker: _quote(ticker)})
        cache.set_company(ticker, {"name": ticker})
        cache.set_chain(ticker, {"calls": [ticker]}, "2026-12-18")
        cache.set_analysis("u1", ticker, {"of": ticker})
        kv.put(CacheKeys.technical_analysis(ticker), '{"sentiment": "neutral"}', expiration_ttl=900)
    cache.set_chain(symbol, {"calls": []}, "2027-01-15")
    cache.set_chain(symbol, {"strikes": "9" * INLINE_VALUE_MAX_BYTES})  # big enough to live in S3
    cache.set_analysis("u2", symbol, {"of": symbol})
    assert len(overflow_objects() - before) == 1

    deleted = cache.invalidate_symbol(symbol)

    gone = {
        CacheKeys.quote(symbol),
        CacheKeys.company(symbol),
        CacheKeys.technical_analysis(symbol),
        CacheKeys.chain(symbol, "2026-12-18"),
        CacheKeys.chain(symbol, "2027-01-15"),
        CacheKeys.chain(symbol),
        CacheKeys.user_analysis("u1", symbol),
        CacheKeys.user_analysis("u2", symbol),
        CacheKeys.analysis_index(symbol, "u1"),
        CacheKeys.analysis_index(symbol, "u2"),
    }
    assert set(deleted) == gone
    assert [key for key in gone if raw_item(key) is not None] == []
    assert overflow_objects() == before  # the big chain's S3 object went with it

    kept = {
        CacheKeys.quote(other),
        CacheKeys.company(other),
        CacheKeys.technical_analysis(other),
        CacheKeys.chain(other, "2026-12-18"),
        CacheKeys.user_analysis("u1", other),
        CacheKeys.analysis_index(other, "u1"),
    }
    assert [key for key in kept if raw_item(key) is None] == []
    assert cache.get_chain(other, "2026-12-18") == {"calls": [other]}
    assert cache.get_analysis("u1", other) == {"of": other}
    assert [k.name for k in kv.list(prefix=CacheKeys.analysis_index_prefix(other)).keys] == [
        CacheKeys.analysis_index(other, "u1")
    ]


def test_invalidating_a_symbol_with_nothing_cached_is_harmless(cache: CacheService, symbol: str) -> None:
    cache.set_quotes({f"{symbol}X": _quote(f"{symbol}X")})
    assert set(cache.invalidate_symbol(symbol)) == {
        CacheKeys.quote(symbol),
        CacheKeys.company(symbol),
        CacheKeys.technical_analysis(symbol),
    }
    assert cache.get_quote(f"{symbol}X") == _quote(f"{symbol}X")


# ====================================================== calls per operation


def test_a_cache_hit_or_miss_is_one_get_item(cache: CacheService, aws_calls: CallCounter, symbol: str) -> None:
    cache.set_company(symbol, {"name": "Zed Corp"})
    aws_calls.calls.clear()
    assert cache.get_company(symbol) == {"name": "Zed Corp"}
    assert aws_calls.by_operation() == {"GetItem": 1}
    aws_calls.calls.clear()
    assert cache.get_quote(symbol) is None
    assert aws_calls.by_operation() == {"GetItem": 1}


def test_quotes_for_250_symbols_are_read_in_exactly_3_batch_gets(
    cache: CacheService, aws_calls: CallCounter, symbol: str
) -> None:
    symbols = [f"{symbol}{i:03d}" for i in range(250)]
    cached = symbols[::7]
    cache.set_quotes({s: _quote(s, i) for i, s in enumerate(cached)})
    aws_calls.calls.clear()

    quotes = cache.get_quotes(symbols)

    assert aws_calls.by_operation() == {"BatchGetItem": 3}
    assert list(quotes) == symbols
    assert {s for s, q in quotes.items() if q is not None} == set(cached)
    assert quotes[cached[3]] == _quote(cached[3], 3)
    assert (cache.stats.hits["hot"], cache.stats.misses["hot"]) == (len(cached), 250 - len(cached))


def test_60_quotes_are_written_in_3_batch_writes(cache: CacheService, aws_calls: CallCounter, symbol: str) -> None:
    quotes = {f"{symbol}{i:02d}": _quote(f"{symbol}{i:02d}", i) for i in range(60)}
    cache.set_quotes(quotes)
    assert aws_calls.by_operation() == {"BatchWriteItem": 3}
    assert cache.get_quotes(quotes) == quotes


def test_an_analysis_and_its_index_entry_are_one_write(
    cache: CacheService, aws_calls: CallCounter, symbol: str
) -> None:
    cache.set_analysis("u1", symbol, {"score": 1})
    assert aws_calls.by_operation() == {"BatchWriteItem": 1}


def test_invalidation_lists_by_query_and_never_scans(cache: CacheService, aws_calls: CallCounter, symbol: str) -> None:
    cache.set_chain(symbol, {"calls": []}, "2026-12-18")
    cache.set_analysis("u1", symbol, {"score": 1})
    aws_calls.calls.clear()
    deleted = cache.invalidate_symbol(symbol)
    shards = storage_layout().kv.list_shards
    # and the read-through claims of the quote, the company and the one chain (ttai.services.read_through)
    assert aws_calls.by_operation() == {"Query": 2 * shards, "DeleteItem": len(deleted) + 3}
