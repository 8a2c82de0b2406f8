"""What routes need, built once per container from the environment."""

from __future__ import annotations

from functools import cache

from ttai.env import Env
from ttai.observability import PowertoolsCacheMetrics
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService


@cache
def _market(env: Env) -> MarketDataService:
    return MarketDataService(CacheService(env.KV, metrics=PowertoolsCacheMetrics()))


def market() -> MarketDataService:
    return _market(Env.from_environ())
