"""The TastyTrade client's policy on a scripted transport: headers, retries and their waits, 429s, 401 refreshes,
request batching, and how answers become errors. No sockets: the transport is a list of answers."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ttai.auth.oauth import USER_AGENT, OAuthError
from ttai.errors import TtaiError, Unauthorized, Unavailable
from ttai.services.tastytrade.breaker import BreakerState, CircuitBreaker
from ttai.services.tastytrade.client import (
    HttpAnswer,
    RetryPolicy,
    TastyTradeClient,
    TransportFailure,
    retry_after_seconds,
)
from ttai.services.tastytrade.errors import (
    TastyTradeNotFound,
    TastyTradeRejected,
    TastyTradeUnavailable,
    TastyTradeUnusable,
)


@dataclass
class Clock:
    now: float = 1_000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class MemoryStore:
    states: dict[str, BreakerState] = field(default_factory=dict)
    reads: int = 0

    def read(self, name: str) -> BreakerState | None:
        self.reads += 1
        return self.states.get(name)

    def write(self, name: str, state: BreakerState) -> None:
        self.states[name] = state

    def clear(self, name: str) -> None:
        self.states.pop(name, None)


@dataclass
class Tokens:
    issued: list[str] = field(default_factory=lambda: ["token-1"])
    forced: int = 0
    fail_next: list[OAuthError] = field(default_factory=list)

    def access_token(self, *, force_refresh: bool = False) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        if force_refresh:
            self.forced += 1
            self.issued.append(f"token-{len(self.issued) + 1}")
        return self.issued[-1]

    def refused(self) -> TtaiError:
        return Unauthorized("sign in again")


@dataclass
class Script:
    """Answers in order (an exception is raised instead of answered); records every request."""

    answers: list[HttpAnswer | Exception]
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        self.requests.append((url, dict(headers), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(data: Any) -> HttpAnswer:
    return HttpAnswer(200, {}, json.dumps({"data": data, "context": "/x"}).encode())


def status(code: int, headers: dict[str, str] | None = None, body: Any = None) -> HttpAnswer:
    raw = json.dumps(body).encode() if body is not None else b"<html>nginx</html>"
    return HttpAnswer(code, headers or {}, raw)


ACCOUNTS = {"items": [{"account": {"account-number": "5WT0001", "is-closed": False}, "authority-level": "owner"}]}


def client(
    script: Script, clock: Clock, *, tokens: Tokens | None = None, store: MemoryStore | None = None, **policy: Any
) -> TastyTradeClient:
    breaker = CircuitBreaker(store or MemoryStore(), clock=clock)
    return TastyTradeClient(
        "https://api.example.test/",
        tokens or Tokens(),
        breaker,
        policy=RetryPolicy(**policy),
        transport=script,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda ceiling: ceiling,  # the longest wait full jitter allows
    )


def test_every_request_carries_the_user_agent_the_bearer_token_and_json() -> None:
    script, clock = Script([ok(ACCOUNTS)]), Clock()
    accounts = client(script, clock).accounts()
    assert [a.account.account_number for a in accounts] == ["5WT0001"]
    url, headers, timeout = script.requests[0]
    assert url == "https://api.example.test/customers/me/accounts"
    assert headers == {"Authorization": "Bearer token-1", "User-Agent": USER_AGENT, "Accept": "application/json"}
    assert timeout == RetryPolicy().attempt_timeout


def test_the_user_agent_is_product_slash_the_project_version() -> None:
    version = tomllib.loads(Path("pyproject.toml").read_text())["project"]["version"]
    assert f"ttai/{version}" == USER_AGENT
    assert re.fullmatch(r"[^\s/]+/[^\s/]+", USER_AGENT)


def test_a_5xx_or_no_answer_is_retried_after_exponential_waits_then_succeeds() -> None:
    script, clock = Script([status(503), TransportFailure("TimeoutError"), ok(ACCOUNTS)]), Clock()
    assert len(client(script, clock).accounts()) == 1
    assert len(script.requests) == 3
    assert clock.slept == [0.2, 0.4]  # backoff_base x 2^n, at the jitter's ceiling


def test_after_the_last_attempt_the_caller_is_told_to_come_back_later() -> None:
    script, clock = Script([status(500), status(502), status(504)]), Clock()
    with pytest.raises(TastyTradeUnavailable) as failure:
        client(script, clock).accounts()
    assert failure.value.retry_after == RetryPolicy().retry_after
    assert failure.value.dependency == "TastyTrade"
    assert isinstance(failure.value, Unavailable)
    assert len(script.requests) == 3


def test_retries_stop_when_the_next_wait_would_pass_the_budget() -> None:
    script, clock = Script([status(503), status(503), ok(ACCOUNTS)]), Clock()
    with pytest.raises(TastyTradeUnavailable):
        client(script, clock, budget=0.5).accounts()
    assert len(script.requests) == 2  # waited 0.2; the next 0.4 would end past 0.5
    assert clock.slept == [0.2]


def test_each_attempt_gets_at_most_what_is_left_of_the_budget() -> None:
    script, clock = Script([status(503), ok(ACCOUNTS)]), Clock()
    client(script, clock, budget=3.0, attempt_timeout=5.0).accounts()
    assert [timeout for _, _, timeout in script.requests] == [3.0, pytest.approx(2.8)]


def test_a_429_is_waited_out_for_its_retry_after() -> None:
    script, clock = Script([status(429, {"retry-after": "2"}), ok(ACCOUNTS)]), Clock()
    assert len(client(script, clock).accounts()) == 1
    assert clock.slept == [2.0]


def test_a_429_without_retry_after_backs_off_as_tastytrade_documents_none() -> None:
    script, clock = Script([status(429), status(429), ok(ACCOUNTS)]), Clock()
    client(script, clock).accounts()
    assert clock.slept == [0.2, 0.4]


def test_a_429_longer_than_a_request_can_wait_holds_every_container_off_for_it() -> None:
    store, clock = MemoryStore(), Clock()
    script = Script([status(429, {"retry-after": "40"})])
    with pytest.raises(TastyTradeUnavailable) as throttled:
        client(script, clock, store=store).accounts()
    assert throttled.value.retry_after == 40
    assert clock.slept == []
    state = store.states["tastytrade"]
    assert (state.reason, state.until - clock.now) == ("throttled", 40)
    # another container (its own client and breaker, the same store) does not call at all
    other = Script([])
    with pytest.raises(TastyTradeUnavailable) as refused:
        client(other, clock, store=store).accounts()
    assert refused.value.retry_after == 40
    assert other.requests == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7", now=0) == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500) == 0.0
    assert retry_after_seconds("soon", now=0) is None
    assert retry_after_seconds(None, now=0) is None


def test_a_401_gets_one_forced_refresh_and_the_request_succeeds() -> None:
    tokens, clock = Tokens(), Clock()
    script = Script([status(401, body={"error": {"code": "invalid_token", "message": "expired"}}), ok(ACCOUNTS)])
    assert len(client(script, clock, tokens=tokens).accounts()) == 1
    assert tokens.forced == 1
    assert [h["Authorization"] for _, h, _ in script.requests] == ["Bearer token-1", "Bearer token-2"]
    assert clock.slept == []


def test_a_fresh_token_refused_again_is_the_sources_refusal() -> None:
    tokens, clock = Tokens(), Clock()
    with pytest.raises(Unauthorized, match="sign in again"):
        client(Script([status(401), status(401)]), clock, tokens=tokens).accounts()
    assert tokens.forced == 1


def test_a_failing_token_endpoint_is_retried_and_a_refused_grant_is_not() -> None:
    tokens, clock = Tokens(fail_next=[OAuthError("the provider failed", transient=True)]), Clock()
    script = Script([ok(ACCOUNTS)])
    assert len(client(script, clock, tokens=tokens).accounts()) == 1
    assert clock.slept == [0.2]
    refused = Tokens(fail_next=[OAuthError("the provider refused: invalid_grant")])
    with pytest.raises(OAuthError, match="invalid_grant"):
        client(Script([]), clock, tokens=refused).accounts()


def test_250_symbols_are_three_by_type_requests_of_at_most_100() -> None:
    symbols = [f"S{n:03d}" for n in range(248)] + ["$SPX", "^SPX", "SPY   261218P00580000"]
    script = Script([ok({"items": []}) for _ in range(3)])
    client(script, Clock()).market_data(symbols)
    counts = []
    for url, _, _ in script.requests:
        assert url.startswith("https://api.example.test/market-data/by-type?")
        query = url.split("?", 1)[1]
        counts.append(sum(len(part.split("=", 1)[1].split(",")) for part in query.split("&")))
    assert counts == [100, 100, 50]  # $SPX and ^SPX are one index symbol, SPX
    assert "index=SPX" in script.requests[2][0]
    assert "equity-option=SPY%20%20%20261218P00580000" in script.requests[2][0]


def test_market_data_maps_answers_back_to_the_symbols_asked_and_skips_an_unreadable_item() -> None:
    items = [
        {"symbol": "SPX", "instrument-type": "Index", "last": "5853.0"},
        {"symbol": "AAPL", "instrument-type": "Equity", "last": "190.5"},
        {"instrument-type": "Equity", "last": "1"},  # no symbol: skipped, not fatal
    ]
    found = client(Script([ok({"items": items})]), Clock()).market_data(["$SPX", "^SPX", "AAPL", "MSFT"])
    assert sorted(found) == ["$SPX", "AAPL", "^SPX"]
    assert str(found["^SPX"].last) == "5853.0"


def test_a_404_is_not_found_and_other_4xx_keep_only_their_code() -> None:
    body = {"error": {"code": "record_not_found", "message": "internal detail we never pass on"}}
    with pytest.raises(TastyTradeNotFound) as missing:
        client(Script([status(404, body=body)]), Clock()).equity("ZZZZ")
    assert (missing.value.status, missing.value.code) == (404, "record_not_found")
    assert "internal detail" not in str(missing.value)
    forbidden = {"error": {"code": "not_permitted", "message": "User not permitted access"}}
    with pytest.raises(TastyTradeRejected) as refused:
        client(Script([status(403, body=forbidden)]), Clock()).positions("5WT0002")
    assert (refused.value.status, refused.value.code) == (403, "not_permitted")
    assert "permitted" not in str(refused.value)


def test_path_segments_are_escaped() -> None:
    script = Script([ok({"symbol": "BRK/B"})])
    client(script, Clock()).equity("BRK/B")
    assert script.requests[0][0].endswith("/instruments/equities/BRK%2FB")


def test_an_answer_without_the_envelope_or_a_position_that_does_not_read_is_unusable() -> None:
    with pytest.raises(TastyTradeUnusable):
        client(Script([HttpAnswer(200, {}, b"<html></html>")]), Clock()).accounts()
    with pytest.raises(TastyTradeUnusable):
        client(Script([ok({"things": []})]), Clock()).accounts()
    broken = {"items": [{"account-number": "5WT0001", "symbol": "AAPL", "instrument-type": "Equity"}]}
    with pytest.raises(TastyTradeUnusable, match="CurrentPosition"):
        client(Script([ok(broken)]), Clock()).positions("5WT0001")


def test_failed_attempts_open_the_breaker_and_then_no_request_is_sent() -> None:
    store, clock = MemoryStore(), Clock()
    script = Script([status(503)] * 5)
    tastytrade = client(script, clock, store=store)  # failures are counted in the container that sees them
    with pytest.raises(TastyTradeUnavailable):
        tastytrade.accounts()  # 3 attempts
    assert "tastytrade" not in store.states
    with pytest.raises(TastyTradeUnavailable) as opened:
        tastytrade.accounts()  # the 5th failed attempt in a row opens it
    assert len(script.requests) == 5
    with pytest.raises(TastyTradeUnavailable) as refused:
        client(Script([]), clock, store=store).accounts()
    assert opened.value.retry_after == refused.value.retry_after == 30
