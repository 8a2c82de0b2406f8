"""The market-data cache on KV: seed 000's tiers and key names, get-or-set, bulk reads, symbol invalidation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ttai.bindings.kv import BULK_GET_MAX, INLINE_VALUE_MAX_BYTES, KVNamespace, iter_all_keys
from ttai.tenant_keys import KV_SEPARATOR, user_id_from_segment, user_segment

CLAIM_PREFIX = "claim:"


def claim_key(value_key: str) -> str:
    """Where a read-through claims the fetch of ``value_key`` (``ttai.services.read_through``)."""
    return f"{CLAIM_PREFIX}{value_key}"


class CacheTier(Enum):
    """How long each kind of data may be served from cache (seed 000), in seconds."""

    HOT = ("hot", 60)  # quotes, last price
    WARM = ("warm", 300)  # option chains, greeks
    ANALYSIS = ("analysis", 900)  # expensive computations
    COLD = ("cold", 86_400)  # company info, financials
    SESSION = ("session", 86_400)  # auth state

    def __init__(self, label: str, ttl: int) -> None:
        self.label = label
        self.ttl = ttl


class CacheKeys:
    """Seed 000's key convention: ``{category}:{user_id?}:{identifier}``.

    The user id goes in escaped (``ttai.tenant_keys``): ``alice:bob``'s keys start ``user:alice%3Abob:``, so
    ``user_prefix("alice")`` lists Alice's keys and never theirs. Every user-scoped key starts with user_prefix."""

    @staticmethod
    def user_prefix(user_id: str) -> str:
        """``user:{segment}:``: the prefix of every key of this user, and of no other user's."""
        return f"user:{user_segment(user_id, KV_SEPARATOR)}:"

    @staticmethod
    def quote(symbol: str) -> str:
        return f"quote:{symbol}"

    @staticmethod
    def chain(symbol: str, expiration: str | None = None) -> str:
        return f"chain:{symbol}:{expiration or 'all'}"

    @staticmethod
    def chain_prefix(symbol: str) -> str:
        return f"chain:{symbol}:"

    @staticmethod
    def company(symbol: str) -> str:
        return f"company:{symbol}"

    @staticmethod
    def technical_analysis(symbol: str) -> str:
        """The analysis job's latest call on a symbol (global: every watcher sees the same one)."""
        return f"analysis:{symbol}"

    @staticmethod
    def user_analysis(user_id: str, symbol: str) -> str:
        return f"{CacheKeys.user_prefix(user_id)}analysis:{symbol}"

    @staticmethod
    def analysis_index(symbol: str, user_id: str) -> str:
        """Marks that ``user_id`` has an analysis of ``symbol`` cached, so invalidation can find it by prefix."""
        return f"{CacheKeys.analysis_index_prefix(symbol)}{user_segment(user_id, KV_SEPARATOR)}"

    @staticmethod
    def analysis_index_user(symbol: str, key: str) -> str:
        """The user an ``analysis_index(symbol, user_id)`` key names."""
        return user_id_from_segment(key.removeprefix(CacheKeys.analysis_index_prefix(symbol)))

    @staticmethod
    def analysis_index_prefix(symbol: str) -> str:
        return f"index:analysis:{symbol}:"

    @staticmethod
    def session(user_id: str, session_id: str) -> str:
        return f"{CacheKeys.user_prefix(user_id)}session:{session_id}"

    @staticmethod
    def watchlist(user_id: str, name: str) -> str:
        return f"{CacheKeys.user_prefix(user_id)}watchlist:{name}"

    @staticmethod
    def positions(user_id: str) -> str:
        return f"{CacheKeys.user_prefix(user_id)}positions"


class CacheMetrics(Protocol):
    def record(self, tier: CacheTier, *, hits: int, misses: int) -> None: ...


@dataclass
class CacheStats:
    """In-process hit/miss counts per tier (also what the Powertools metrics recorder is fed)."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)

    def record(self, tier: CacheTier, *, hits: int, misses: int) -> None:
        self.hits[tier.label] = self.hits.get(tier.label, 0) + hits
        self.misses[tier.label] = self.misses.get(tier.label, 0) + misses

    def hit_rate(self, tier: CacheTier) -> float | None:
        total = self.hits.get(tier.label, 0) + self.misses.get(tier.label, 0)
        return None if total == 0 else self.hits.get(tier.label, 0) / total


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


class CacheService:
    def __init__(self, kv: KVNamespace, *, metrics: CacheMetrics | None = None) -> None:
        self.kv = kv
        self.stats = CacheStats()
        self._metrics = metrics

    def _record(self, tier: CacheTier, *, hits: int, misses: int) -> None:
        self.stats.record(tier, hits=hits, misses=misses)
        if self._metrics is not None:
            self._metrics.record(tier, hits=hits, misses=misses)

    # ----------------------------------------------------------------- generic

    def get(self, key: str, tier: CacheTier) -> Any:
        """The cached JSON value or None; one GetItem."""
        value = self.kv.get(key, "json")
        self._record(tier, hits=int(value is not None), misses=int(value is None))
        return value

    def set(self, key: str, value: Any, tier: CacheTier) -> None:
        self.kv.put(key, _dumps(value), expiration_ttl=tier.ttl)

    def get_or_set(self, key: str, tier: CacheTier, loader: Callable[[], Any]) -> Any:
        """Cache-aside: the cached value, else ``loader()`` stored for the tier's TTL (None is not cached)."""
        value = self.get(key, tier)
        if value is None:
            value = loader()
            if value is not None:
                self.set(key, value, tier)
        return value

    # ------------------------------------------------------------------ quotes

    def get_quote(self, symbol: str) -> Any:
        return self.get(CacheKeys.quote(symbol), CacheTier.HOT)

    def get_quotes(self, symbols: Iterable[str]) -> dict[str, Any]:
        """Quotes by symbol (None when not cached), in ceil(n/100) BatchGetItem round trips."""
        unique = list(dict.fromkeys(symbols))
        found: dict[str, Any] = {}
        for start in range(0, len(unique), BULK_GET_MAX):
            chunk = unique[start : start + BULK_GET_MAX]
            values = self.kv.get([CacheKeys.quote(s) for s in chunk], "json")
            for symbol in chunk:
                found[symbol] = values[CacheKeys.quote(symbol)]
        hits = sum(v is not None for v in found.values())
        self._record(CacheTier.HOT, hits=hits, misses=len(found) - hits)
        return found

    def set_quotes(self, quotes: Mapping[str, Any]) -> None:
        """Write quotes to the hot tier in ceil(n/25) BatchWriteItem calls."""
        self.kv.put_many(
            {CacheKeys.quote(symbol): _dumps(quote) for symbol, quote in quotes.items()},
            expiration_ttl=CacheTier.HOT.ttl,
        )

    @staticmethod
    def quote_round_trips(count: int) -> int:
        return math.ceil(count / BULK_GET_MAX)

    # ------------------------------------------------------ chains and company

    def get_chain(self, symbol: str, expiration: str | None = None) -> Any:
        return self.get(CacheKeys.chain(symbol, expiration), CacheTier.WARM)

    def set_chain(self, symbol: str, chain: Any, expiration: str | None = None) -> None:
        self.set(CacheKeys.chain(symbol, expiration), chain, CacheTier.WARM)

    def get_company(self, symbol: str) -> Any:
        return self.get(CacheKeys.company(symbol), CacheTier.COLD)

    def set_company(self, symbol: str, info: Any) -> None:
        self.set(CacheKeys.company(symbol), info, CacheTier.COLD)

    # ---------------------------------------------------------------- analyses

    def get_analysis(self, user_id: str, symbol: str) -> Any:
        return self.get(CacheKeys.user_analysis(user_id, symbol), CacheTier.ANALYSIS)

    def set_analysis(self, user_id: str, symbol: str, analysis: Any) -> None:
        """Cache a user's latest analysis of a symbol, indexed by symbol so invalidation finds it.

        One BatchWriteItem; an analysis too large for an item goes through put(), which moves it to S3."""
        key, value = CacheKeys.user_analysis(user_id, symbol), _dumps(analysis)
        index = {CacheKeys.analysis_index(symbol, user_id): ""}
        if len(value.encode("utf-8")) > INLINE_VALUE_MAX_BYTES:
            self.kv.put(key, value, expiration_ttl=CacheTier.ANALYSIS.ttl)
        else:
            index[key] = value
        self.kv.put_many(index, expiration_ttl=CacheTier.ANALYSIS.ttl)

    # ------------------------------------------------------------ invalidation

    def invalidate_symbol(self, symbol: str) -> list[str]:
        """Drop everything cached for ``symbol`` (seed 001's "earnings released"): quote, company, every chain,
        the analysis job's latest call, and every user's cached analysis of it. Returns the keys deleted."""
        keys = [CacheKeys.quote(symbol), CacheKeys.company(symbol), CacheKeys.technical_analysis(symbol)]
        chains = [k.name for k in iter_all_keys(self.kv, CacheKeys.chain_prefix(symbol))]
        keys += chains
        # The read-through claims of these values go too (not counted in what is returned): one left from the last
        # fetch would make the next miss wait for a value that is not coming.
        claims = [claim_key(k) for k in (CacheKeys.quote(symbol), CacheKeys.company(symbol), *chains)]
        for entry in iter_all_keys(self.kv, CacheKeys.analysis_index_prefix(symbol)):
            keys += [CacheKeys.user_analysis(CacheKeys.analysis_index_user(symbol, entry.name), symbol), entry.name]
        for key in keys + claims:
            # One at a time: chains can be large enough to live in S3, and delete() removes that object too.
            self.kv.delete(key)
        return keys
