"""Cache misses read through the stand-in TastyTrade: fetched once and cached, 100 symbols a request, one upstream
fetch for concurrent misses across containers, expired tokens refreshed, 429s waited out, and an outage turned
into fast 503s with Retry-After by the breaker every container shares, until it closes again."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from local.aws_calls import CallCounter
from local.fake_oauth import FakeTastyTrade
from local.stack import LocalStack
from ttai.http import deps
from ttai.services.cache import CacheKeys, CacheService, claim_key
from ttai.services.market import MarketDataService
from ttai.services.tastytrade.breaker import KVBreakerStore


@pytest.fixture
def fake(stack: LocalStack) -> Iterator[FakeTastyTrade]:
    assert stack.oauth is not None
    stack.oauth.recover()
    yield stack.oauth
    stack.oauth.recover()


@pytest.fixture
def user(stack: LocalStack) -> str:
    token = stack.token_for(f"reader-{uuid.uuid4().hex[:8]}")
    stack.http("GET", "/api/v1/me", token=token)  # the authorizer's verdict is cached from here on
    return token


@pytest.fixture
def fresh_breaker(stack: LocalStack) -> Iterator[None]:
    """The api function's breaker and client as a new container has them, before and after the test."""
    stack.env.KV.delete(KVBreakerStore.key("tastytrade"))
    deps.breaker.cache_clear()
    deps._market.cache_clear()
    yield
    stack.env.KV.delete(KVBreakerStore.key("tastytrade"))
    deps.breaker.cache_clear()
    deps._market.cache_clear()


_STEMS = itertools.count()
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def listed(fake: FakeTastyTrade, count: int = 1) -> list[str]:
    """Equities only the stand-in knows, a stem no other test of the session used (nothing cached them yet), priced
    10, 11, 12..."""
    n = next(_STEMS)
    stem = f"R{_BASE36[n // 36 % 36]}{_BASE36[n % 36]}"
    symbols = [f"{stem}{i:03d}" for i in range(count)]
    for i, symbol in enumerate(symbols):
        fake.catalog.list_equity(symbol, Decimal(10 + i))
    return symbols


def test_a_miss_fetches_once_and_caches_in_the_hot_tier(stack: LocalStack, fake: FakeTastyTrade, user: str) -> None:
    (symbol,) = listed(fake)
    before = fake.requests["/market-data/by-type"]
    with CallCounter(stack.env.client("dynamodb")) as miss:
        status, _, body = stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": symbol})
    assert status == 200
    assert (body["missing"], body["quotes"][symbol]["last"]) == ([], 10.0)
    assert fake.requests["/market-data/by-type"] == before + 1
    # the authorizer's session read; the request's admission (UpdateItem); cache read, claim, breaker, store
    assert miss.by_operation() == {"BatchGetItem": 1, "PutItem": 1, "GetItem": 2, "BatchWriteItem": 1, "UpdateItem": 1}
    item = stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": f"quote:{symbol}"}}
    )
    assert int(item["Item"]["exp"]["N"]) - time.time() == pytest.approx(60, abs=2)
    with CallCounter(stack.env.client("dynamodb")) as hit:
        again = stack.http("GET", f"/api/v1/quotes/{symbol}", token=user)
    assert again.body == body["quotes"][symbol]
    assert hit.by_operation() == {"GetItem": 2, "UpdateItem": 1}  # the session, the admission, then the hot tier
    assert fake.requests["/market-data/by-type"] == before + 1


def test_250_missing_symbols_are_three_upstream_calls(stack: LocalStack, fake: FakeTastyTrade, user: str) -> None:
    symbols = listed(fake, 250)
    before = fake.requests["/market-data/by-type"]
    status, _, body = stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": ",".join(symbols)})
    assert status == 200
    assert (len(body["quotes"]), body["missing"]) == (250, [])
    assert fake.requests["/market-data/by-type"] == before + 3
    assert stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": ",".join(symbols)}).body == body
    assert fake.requests["/market-data/by-type"] == before + 3


def test_20_concurrent_misses_for_one_symbol_make_one_upstream_call(stack: LocalStack, fake: FakeTastyTrade) -> None:
    (symbol,) = listed(fake)
    fake.latency = 0.3  # the first fetch is still running when the other 19 miss
    before = fake.requests["/market-data/by-type"]
    start = threading.Barrier(20)
    answers: list[float | None] = []

    def container() -> None:
        # Each thread is a container of its own: its own service, client and breaker; only KV is shared.
        market = MarketDataService(CacheService(stack.env.KV), deps._tastytrade_market(stack.env))
        start.wait()
        quote = market.quotes([symbol]).quotes.get(symbol)
        answers.append(quote.last if quote else None)

    threads = [threading.Thread(target=container) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [10.0] * 20
    assert fake.requests["/market-data/by-type"] == before + 1


def test_an_expired_token_is_refreshed_and_the_request_succeeds(
    stack: LocalStack, fake: FakeTastyTrade, user: str, fresh_breaker: None
) -> None:
    first, second = listed(fake, 2)
    assert stack.http("GET", f"/api/v1/quotes/{first}", token=user).status == 200
    refreshes = fake.requests["/oauth/token"]
    fake.expire_tokens()
    status, _, body = stack.http("GET", f"/api/v1/quotes/{second}", token=user)
    assert (status, body["last"]) == (200, 11.0)
    assert fake.requests["/oauth/token"] == refreshes + 1


def test_a_429_is_waited_out(stack: LocalStack, fake: FakeTastyTrade, user: str, fresh_breaker: None) -> None:
    first, second = listed(fake, 2)
    assert stack.http("GET", f"/api/v1/quotes/{first}", token=user).status == 200  # the grant's token is fetched
    before = fake.requests["/market-data/by-type"]
    fake.throttle_next(retry_after=1)
    status, _, body = stack.http("GET", f"/api/v1/quotes/{second}", token=user)
    assert (status, body["last"]) == (200, 11.0)
    assert fake.requests["/market-data/by-type"] == before + 2


def test_an_outage_opens_the_breaker_and_it_closes_again(
    stack: LocalStack, fake: FakeTastyTrade, user: str, fresh_breaker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    symbols = listed(fake, 4)
    assert stack.http("GET", f"/api/v1/quotes/{symbols[0]}", token=user).status == 200
    fake.outage()
    first = stack.http("GET", f"/api/v1/quotes/{symbols[1]}", token=user)  # three attempts
    assert (first.status, first.headers["retry-after"]) == (503, "5")
    assert first.body["error"]["code"] == "unavailable"
    assert "TastyTrade" in first.body["error"]["message"]
    opened = stack.http("GET", f"/api/v1/quotes/{symbols[1]}", token=user)  # the fifth failure in a row opens it
    assert (opened.status, opened.headers["retry-after"]) == (503, "30")
    calls = sum(fake.requests.values())
    refused = stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": ",".join(symbols[1:])})
    assert refused.status == 503
    assert 29 <= int(refused.headers["retry-after"]) <= 30
    assert sum(fake.requests.values()) == calls  # nothing reached TastyTrade while it is open
    fake.recover()
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)
    status, _, body = stack.http("GET", f"/api/v1/quotes/{symbols[2]}", token=user)  # the trial
    assert (status, body["last"]) == (200, 12.0)
    assert stack.env.KV.get(KVBreakerStore.key("tastytrade")) is None
    assert stack.http("GET", f"/api/v1/quotes/{symbols[3]}", token=user).status == 200


def test_chains_and_company_information_read_through_to_their_tiers(
    stack: LocalStack, fake: FakeTastyTrade, user: str
) -> None:
    expiration = min(o.expiration for o in fake.catalog.options.values() if o.underlying == "SPY")
    day = expiration.isoformat()
    stack.env.KV.delete(CacheKeys.chain("SPY", day))
    status, _, chain = stack.http("GET", "/api/v1/chains/SPY", token=user, query={"expiration": day})
    assert status == 200
    assert chain["underlying_price"] == 585.3
    assert {c["expiration"] for c in chain["contracts"]} == {day}
    assert len(chain["contracts"]) == 18
    assert all(c["bid"] is not None and c["open_interest"] is not None for c in chain["contracts"])
    stored = stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": f"chain:SPY:{day}"}}
    )["Item"]
    assert int(stored["exp"]["N"]) - time.time() == pytest.approx(300, abs=2)  # warm tier

    stack.env.KV.delete(CacheKeys.chain("SPY"))
    every = stack.http("GET", "/api/v1/chains/SPY", token=user).body
    assert len({c["expiration"] for c in every["contracts"]}) == 3
    assert all(c["bid"] is None for c in every["contracts"])  # only one expiration's chain comes priced

    stack.env.KV.delete(CacheKeys.company("TSLA"))
    assert stack.http("GET", "/api/v1/company/TSLA", token=user).body["name"] == "TESLA INC"
    assert stack.env.KV.get(CacheKeys.company("TSLA"), "json")["exchange"] == "XNAS"


def test_what_tastytrade_does_not_list_is_a_404_and_not_asked_again_while_marked(
    stack: LocalStack, fake: FakeTastyTrade, user: str
) -> None:
    symbol = f"N{uuid.uuid4().hex[:4].upper()}"
    assert stack.http("GET", f"/api/v1/chains/{symbol}", token=user).status == 404
    asked = fake.requests["/option-chains/{symbol}/nested"]
    assert stack.http("GET", f"/api/v1/chains/{symbol}", token=user).status == 404
    assert stack.http("GET", f"/api/v1/company/{symbol}", token=user).status == 404
    assert stack.http("GET", f"/api/v1/company/{symbol}", token=user).status == 404
    assert fake.requests["/option-chains/{symbol}/nested"] == asked
    assert fake.requests["/instruments/equities/{symbol}"] >= 1


def test_a_cache_without_a_source_reports_misses_as_before(stack: LocalStack, fake: FakeTastyTrade) -> None:
    (symbol,) = listed(fake)
    before = sum(fake.requests.values())
    assert MarketDataService(CacheService(stack.env.KV)).quotes([symbol]).missing == [symbol]
    assert sum(fake.requests.values()) == before


def test_invalidating_a_symbol_drops_the_claim_its_last_fetch_left(
    stack: LocalStack, fake: FakeTastyTrade, user: str
) -> None:
    (symbol,) = listed(fake)
    assert stack.http("GET", f"/api/v1/quotes/{symbol}", token=user).status == 200
    assert stack.env.KV.get(claim_key(CacheKeys.quote(symbol)), "json") == "pending"  # left to expire
    CacheService(stack.env.KV).invalidate_symbol(symbol)
    assert stack.env.KV.get(claim_key(CacheKeys.quote(symbol))) is None
    before = fake.requests["/market-data/by-type"]
    assert stack.http("GET", f"/api/v1/quotes/{symbol}", token=user).body["last"] == 10.0
    assert fake.requests["/market-data/by-type"] == before + 1  # fetched again at once, not waited for
