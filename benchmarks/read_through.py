"""TastyTrade as the cache's source, on the local stack and its stand-in: AWS and upstream calls for a quote miss and
a hit, the same for 250 missing symbols, and the time a miss adds here (the stand-in answers on 127.0.0.1 at once:
the real service adds its own round trips, and a TLS handshake per request)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from benchmarks.measure import Meter, percentile, sample_ms
from benchmarks.report import Row
from local.fake_oauth import FakeTastyTrade
from local.stack import LocalStack

GROUP = "TastyTrade read-through"
SAMPLES = 40


_STEMS = iter(f"B{a}{b}" for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ")  # a stem per call: no symbol is cached yet


def _listed(fake: FakeTastyTrade, count: int) -> list[str]:
    stem = next(_STEMS)
    symbols = [f"{stem}{n:03d}" for n in range(count)]
    for n, symbol in enumerate(symbols):
        fake.catalog.list_equity(symbol, Decimal(10 + n))
    return symbols


def _upstream(fake: FakeTastyTrade) -> int:
    return sum(n for endpoint, n in fake.requests.items() if not endpoint.startswith("/oauth/"))


def run() -> list[Row]:
    rows: list[Row] = []
    with LocalStack() as stack:
        fake = stack.oauth
        assert fake is not None
        count = Meter.for_stack(stack)
        user = stack.token_for("bench-reader")
        stack.http("GET", "/api/v1/me", token=user)  # the authorizer's answer is cached from here on
        first, miss, many = _listed(fake, 1), _listed(fake, 1)[0], _listed(fake, 250)
        stack.http("GET", f"/api/v1/quotes/{first[0]}", token=user)  # the grant's secrets and token, once a container

        for name, path, query, budget, upstream_budget in (
            ("GET /api/v1/quotes/{s}, miss", f"/api/v1/quotes/{miss}", None, 4, 1),
            ("GET /api/v1/quotes/{s}, hit", f"/api/v1/quotes/{miss}", None, 1, 0),
            ("GET /api/v1/quotes?symbols= (250 missing)", "/api/v1/quotes", {"symbols": ",".join(many)}, None, 3),
        ):
            before = _upstream(fake)
            count(f"{name} (read-through)", partial(stack.http, "GET", path, token=user, query=query), budget)
            sent = _upstream(fake) - before
            expected = f"= {upstream_budget}"
            rows.append(Row(GROUP, f"{name}: TastyTrade requests", sent, "requests", expected, sent == upstream_budget))

        fresh = iter(_listed(fake, SAMPLES))
        misses = sample_ms(lambda: stack.http("GET", f"/api/v1/quotes/{next(fresh)}", token=user), SAMPLES)
        hits = sample_ms(lambda: stack.http("GET", f"/api/v1/quotes/{miss}", token=user), SAMPLES, warm_up=2)
        added = percentile(misses, 50) - percentile(hits, 50)
        rows += [
            Row(GROUP, "quote hit: p50", percentile(hits, 50), "ms"),
            Row(GROUP, "quote hit: p95", percentile(hits, 95), "ms"),
            Row(GROUP, "quote miss, read through the local stand-in: p50", percentile(misses, 50), "ms"),
            Row(GROUP, "quote miss, read through the local stand-in: p95", percentile(misses, 95), "ms"),
            Row(GROUP, "time a miss adds here (p50 miss - p50 hit)", added, "ms"),
        ]
        rows += count.rows
    return rows
