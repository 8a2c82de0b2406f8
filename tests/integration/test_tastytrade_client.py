"""The TastyTrade client against the stand-in over real HTTP: market data, chains and instruments with the stack's
own grant, a signed-in user's accounts and positions with their sealed tokens, and the failure policy (expired
tokens, 429s, an outage and the breaker in the KV table that every container reads)."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from local.fake_oauth import FakeTastyTrade
from local.stack import LocalStack
from local.tastytrade_catalog import position_document
from tests.integration.test_signin import follow_provider, signin_service, stored_tokens
from ttai.auth.oauth import USER_AGENT, OAuthClient, OAuthError
from ttai.errors import Unauthorized
from ttai.services.tastytrade import convert
from ttai.services.tastytrade.breaker import CircuitBreaker, KVBreakerStore
from ttai.services.tastytrade.client import RetryPolicy, TastyTradeClient
from ttai.services.tastytrade.errors import TastyTradeNotFound, TastyTradeRejected, TastyTradeUnavailable
from ttai.services.tastytrade.tokens import ServiceTokens, TokenSource, UserTokens


@pytest.fixture
def fake(stack: LocalStack) -> Iterator[FakeTastyTrade]:
    """The stack's stand-in, with no failure, throttle or latency left behind for the next test."""
    assert stack.oauth is not None
    stack.oauth.recover()
    yield stack.oauth
    stack.oauth.recover()


class Moment:
    """Wall time for the breaker, moved by tests; the KV binding's own expiry keeps real time."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset


def oauth_client(stack: LocalStack) -> OAuthClient:
    env = stack.env
    return OAuthClient(env.oauth_settings(), env.secret("TASTYTRADE_CLIENT_ID"), env.secret("TASTYTRADE_CLIENT_SECRET"))


def service_tokens(stack: LocalStack, fake: FakeTastyTrade) -> ServiceTokens:
    refresh_token = fake.grant("5WT00001")
    return ServiceTokens(lambda: (oauth_client(stack), refresh_token))


def tastytrade(
    stack: LocalStack,
    fake: FakeTastyTrade,
    tokens: TokenSource | None = None,
    *,
    breaker: str | None = None,
    clock: Moment | None = None,
    slept: list[float] | None = None,
) -> TastyTradeClient:
    """A client as one container would hold it; ``breaker`` names a breaker item shared with other clients."""
    moment = clock or Moment()
    return TastyTradeClient(
        fake.api_url,
        tokens or service_tokens(stack, fake),
        CircuitBreaker(KVBreakerStore(stack.env.KV, clock=moment), breaker or f"test-{uuid.uuid4().hex}", clock=moment),
        policy=RetryPolicy(backoff_base=0.01, backoff_cap=0.02),
        sleep=(slept.append if slept is not None else lambda _: None),
    )


def new_customer(fake: FakeTastyTrade, accounts: int = 2) -> tuple[str, list[str]]:
    login = f"C{uuid.uuid4().hex[:10].upper()}"
    numbers = [f"{login[:6]}{n}" for n in range(accounts)]
    fake.add_customer(login, email=f"{login.lower()}@example.com", name="Test Trader", accounts=numbers)
    return login, numbers


def sign_in_as(stack: LocalStack, login: str) -> None:
    status, headers, _ = stack.http("GET", "/auth/login")
    assert status == 302
    assert stack.http("GET", "/auth/callback", query=follow_provider(f"{headers['location']}&login={login}"))[0] == 200


def test_quotes_of_equities_an_index_and_options_come_in_one_request(stack: LocalStack, fake: FakeTastyTrade) -> None:
    chain = tastytrade(stack, fake).nested_option_chains("SPY")
    put = next(c for c in convert.chain_contracts(chain, None) if c.option_type == "put")
    before = fake.requests["/market-data/by-type"]
    found = tastytrade(stack, fake).market_data(["AAPL", "$SPX", put.symbol, "NOSUCH"])
    assert fake.requests["/market-data/by-type"] == before + 1
    assert sorted(found) == sorted(["AAPL", "$SPX", put.symbol])
    assert (found["$SPX"].instrument_type, found[put.symbol].instrument_type) == ("Index", "Equity Option")
    call = fake.calls[-1]
    assert call.user_agent == USER_AGENT
    assert call.query == {"equity": "AAPL,NOSUCH", "index": "SPX", "equity-option": put.symbol}
    quote = convert.quote_from(found["AAPL"], "AAPL", now=datetime.now(UTC))
    assert quote is not None
    assert quote.last == 190.5
    assert quote.bid is not None
    assert quote.ask is not None
    assert quote.bid < quote.last < quote.ask


def test_250_symbols_take_three_upstream_requests(stack: LocalStack, fake: FakeTastyTrade) -> None:
    symbols = [f"Z{n:04d}" for n in range(250)]
    for n, symbol in enumerate(symbols):
        fake.catalog.list_equity(symbol, Decimal(10 + n))
    before = len(fake.calls)
    found = tastytrade(stack, fake).market_data(symbols)
    requests = [c for c in fake.calls[before:] if c.endpoint == "/market-data/by-type"]
    assert [len(c.query["equity"].split(",")) for c in requests] == [100, 100, 50]
    assert len(found) == 250
    assert str(found["Z0249"].last) == "259.00"


def test_chains_and_instruments_in_their_documented_shapes(stack: LocalStack, fake: FakeTastyTrade) -> None:
    client = tastytrade(stack, fake)
    nested = client.nested_option_chains("AAPL")
    flat = client.option_chain("AAPL")
    contracts = convert.chain_contracts(nested, None)
    assert sorted(c.symbol for c in contracts) == sorted(o.symbol for o in flat)
    assert {o.option_type for o in flat} == {"C", "P"}
    assert client.equity("SPY").is_etf
    with pytest.raises(TastyTradeNotFound):
        client.nested_option_chains("MSFT")
    with pytest.raises(TastyTradeNotFound):
        client.equity("NOSUCH")


def test_an_expired_token_is_refreshed_and_the_request_succeeds(stack: LocalStack, fake: FakeTastyTrade) -> None:
    client = tastytrade(stack, fake)
    client.accounts()
    refreshes = fake.requests["/oauth/token"]
    fake.expire_tokens()
    assert [a.account.account_number for a in client.accounts()] == ["5WT00001", "5WT00002"]
    assert fake.requests["/oauth/token"] == refreshes + 1


def test_a_429_is_waited_out(stack: LocalStack, fake: FakeTastyTrade) -> None:
    slept: list[float] = []
    client = tastytrade(stack, fake, slept=slept)
    client.accounts()  # the token is fetched before the throttle
    before = fake.requests["/customers/me/accounts"]
    fake.throttle_next(retry_after=1)
    assert len(client.accounts()) == 2
    assert slept == [1.0]
    assert fake.requests["/customers/me/accounts"] == before + 2


def test_an_outage_opens_the_breaker_for_every_container_and_it_closes_again(
    stack: LocalStack, fake: FakeTastyTrade
) -> None:
    clock, name = Moment(), f"outage-{uuid.uuid4().hex}"
    first = tastytrade(stack, fake, breaker=name, clock=clock)
    second = tastytrade(stack, fake, breaker=name, clock=clock)
    first.accounts()
    second.accounts()
    fake.outage()
    with pytest.raises(TastyTradeUnavailable):
        first.accounts()  # three attempts
    with pytest.raises(TastyTradeUnavailable) as opened:
        first.accounts()  # two more: the fifth failure in a row opens it
    assert opened.value.retry_after == 30
    calls = sum(fake.requests.values())
    for client in (first, second):
        with pytest.raises(TastyTradeUnavailable) as refused:
            client.market_data(["AAPL"])
        assert 29 <= refused.value.retry_after <= 30
    assert sum(fake.requests.values()) == calls  # nothing reached TastyTrade while open
    fake.recover()
    clock.offset += 31
    assert len(second.accounts()) == 2  # the trial call
    assert stack.env.KV.get(KVBreakerStore.key(name)) is None
    assert len(first.accounts()) == 2


def test_a_user_session_reads_only_that_users_accounts_and_positions(stack: LocalStack, fake: FakeTastyTrade) -> None:
    login, (margin, ira) = new_customer(fake)
    stranger, (theirs, _) = new_customer(fake)
    fake.set_positions(margin, [position_document(margin, "AAPL", 30, average_open_price="150.0")])
    fake.set_positions(ira, [position_document(ira, "AAPL", 10, average_open_price="180.0")])
    sign_in_as(stack, login)
    client = tastytrade(stack, fake, UserTokens(signin_service(stack), login))
    numbers = [a.account.account_number for a in client.accounts()]
    assert numbers == [margin, ira]
    synced = convert.positions_from([p for n in numbers for p in client.positions(n)])
    assert [(p.symbol, p.quantity, p.average_cost) for p in synced.positions] == [("AAPL", 40, Decimal("157.5"))]
    with pytest.raises(TastyTradeRejected) as refused:
        client.positions(theirs)
    assert (refused.value.status, refused.value.code) == (403, "not_permitted")
    assert stranger != login


def test_a_user_token_refused_by_tastytrade_is_refreshed_and_resealed(stack: LocalStack, fake: FakeTastyTrade) -> None:
    login, _ = new_customer(fake)
    sign_in_as(stack, login)
    client = tastytrade(stack, fake, UserTokens(signin_service(stack), login))
    client.accounts()
    before = stored_tokens(stack, login)
    fake.expire_tokens()
    assert len(client.accounts()) == 2
    after = stored_tokens(stack, login)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # the stand-in rotates them, as many providers do


def test_a_failing_token_endpoint_is_not_a_reason_to_sign_in_again(stack: LocalStack, fake: FakeTastyTrade) -> None:
    login, _ = new_customer(fake)
    sign_in_as(stack, login)
    fake.fail_next(status=503, endpoint="/oauth/token")
    with pytest.raises(OAuthError) as failed:
        signin_service(stack).access_token(login, force_refresh=True)
    assert failed.value.transient
    fake.expire_tokens()
    fake.fail_next(status=502, endpoint="/oauth/token")
    client = tastytrade(stack, fake, UserTokens(signin_service(stack), login))
    assert len(client.accounts()) == 2  # the 502 was retried


def test_a_refresh_lost_to_another_container_uses_the_winners_tokens(
    stack: LocalStack, fake: FakeTastyTrade, monkeypatch: pytest.MonkeyPatch
) -> None:
    login, _ = new_customer(fake)
    sign_in_as(stack, login)
    winner, loser = signin_service(stack), signin_service(stack)
    real_refresh = loser._oauth.refresh

    def refresh_after_the_winner(refresh_token: str) -> Any:
        assert winner.access_token(login, force_refresh=True)  # rotates the refresh token the loser holds
        return real_refresh(refresh_token)

    monkeypatch.setattr(loser._oauth, "refresh", refresh_after_the_winner)
    token = loser.access_token(login, force_refresh=True)
    assert token == winner.access_token(login)
    other = signin_service(stack)
    monkeypatch.setattr(other._oauth, "refresh", lambda _: real_refresh("revoked"))
    with pytest.raises(Unauthorized):  # no winner this time: the grant is refused and nobody refreshed it
        other.access_token(login, force_refresh=True)


def test_the_stand_in_refuses_a_request_without_a_product_version_user_agent(fake: FakeTastyTrade) -> None:
    for agent in ("", "curl", "no version/"):
        url = f"{fake.api_url}/market-data/by-type?equity=AAPL"
        request = urllib.request.Request(url, headers={"User-Agent": agent})  # noqa: S310 - the loopback stand-in
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310
        assert refused.value.code == 401
        assert b"nginx" in refused.value.read()
