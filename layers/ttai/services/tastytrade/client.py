"""A small client of TastyTrade's REST API over the standard library's HTTP.

Every request carries the User-Agent TastyTrade requires and a bearer token from a TokenSource; a 401 gets one
forced refresh and a second try. 5xx answers, timeouts and dropped connections are retried with exponential backoff
and full jitter, a 429 after its Retry-After (TastyTrade documents none, so backoff then), all within one time budget
per call, so a caller waits a bounded time. A circuit breaker shared by every container (``breaker``) turns a
failing TastyTrade into a fast TastyTradeUnavailable with the seconds to wait.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ttai.auth.oauth import USER_AGENT, OAuthError
from ttai.observability import logger
from ttai.services.tastytrade.breaker import Admission, CircuitBreaker
from ttai.services.tastytrade.documents import (
    AccountAuthority,
    CurrentPosition,
    EquityInstrument,
    MarketDataItem,
    NestedOptionChain,
    OptionInstrument,
)
from ttai.services.tastytrade.errors import (
    TastyTradeNotFound,
    TastyTradeRejected,
    TastyTradeUnavailable,
    TastyTradeUnusable,
)
from ttai.services.tastytrade.symbols import by_type_requests
from ttai.services.tastytrade.tokens import TokenSource

MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a full option chain of a busy underlying runs to a few MB
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3  # attempts per call (a 401's refresh-and-retry is not counted)
    attempt_timeout: float = 5.0  # seconds to connect and read one answer
    budget: float = 10.0  # seconds one call may take in all, waits included (the api function has 20)
    backoff_base: float = 0.2  # the first retry waits up to this long, each next one up to twice as long
    backoff_cap: float = 2.0
    max_wait: float = 5.0  # the longest Retry-After a call sits out; longer ones answer unavailable at once
    retry_after: int = 5  # what a caller is told to wait when TastyTrade gave no hint


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class TransportFailure(Exception):
    """No answer at all: unreachable, reset, timed out, or too large to read."""


class Transport(Protocol):
    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer: ...


def urllib_transport(url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
    """One GET; any HTTP status is an answer, anything else a TransportFailure that names no URL or token."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310 - configured https base
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw_headers, body = response.status, response.headers, response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        status, raw_headers = exc.code, exc.headers
        try:
            body = exc.read(MAX_RESPONSE_BYTES + 1)
        except (OSError, http.client.HTTPException):
            body = b""
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise TransportFailure(type(getattr(exc, "reason", exc)).__name__) from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise TransportFailure("response too large")
    return HttpAnswer(status, {k.lower(): v for k, v in raw_headers.items()}, body)


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP-date), or None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


class TastyTradeClient:
    """TastyTrade's REST API for one session (``tokens``), through ``breaker``."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        breaker: CircuitBreaker,
        *,
        policy: RetryPolicy | None = None,
        transport: Transport = urllib_transport,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.breaker = breaker
        self.policy = policy or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter or (lambda ceiling: random.uniform(0, ceiling))  # noqa: S311 - backoff, not secrets

    # --------------------------------------------------------------- endpoints

    def market_data(self, symbols: Iterable[str]) -> dict[str, MarketDataItem]:
        """Market data by our symbol (normalised), in ceil(n/100) GET /market-data/by-type calls. Symbols TastyTrade
        does not know are absent; an item that does not read is skipped (one bad quote spoils no batch)."""
        found: dict[str, MarketDataItem] = {}
        for request in by_type_requests(symbols):
            for raw in self._items(self._get("/market-data/by-type", request.query())):
                try:
                    item = MarketDataItem.model_validate(raw)
                except ValidationError as exc:
                    logger.warning("skipping a market-data item TastyTrade sent", extra={"problems": exc.error_count()})
                    continue
                for ours in request.asked_as.get(item.symbol, ()):
                    found[ours] = item
        return found

    def nested_option_chains(self, symbol: str) -> list[NestedOptionChain]:
        """GET /option-chains/{symbol}/nested: expirations and strikes with each contract's symbol."""
        data = self._get(
            f"/option-chains/{_segment(symbol)}/nested", not_found=f"TastyTrade lists no options on {symbol}"
        )
        return _read_all(NestedOptionChain, self._items(data))

    def option_chain(self, symbol: str) -> list[OptionInstrument]:
        """GET /option-chains/{symbol}: every option of the underlying as an instrument."""
        data = self._get(f"/option-chains/{_segment(symbol)}", not_found=f"TastyTrade lists no options on {symbol}")
        return _read_all(OptionInstrument, self._items(data))

    def equity(self, symbol: str) -> EquityInstrument:
        """GET /instruments/equities/{symbol}."""
        data = self._get(f"/instruments/equities/{_segment(symbol)}", not_found=f"TastyTrade has no equity {symbol}")
        return _read_all(EquityInstrument, [data])[0]

    def accounts(self) -> list[AccountAuthority]:
        """GET /customers/me/accounts: the session's customer's accounts, closed ones included."""
        return _read_all(AccountAuthority, self._items(self._get("/customers/me/accounts")))

    def positions(self, account_number: str) -> list[CurrentPosition]:
        """GET /accounts/{account_number}/positions. Every item must read: a sync that dropped one would close it."""
        data = self._get(
            f"/accounts/{_segment(account_number)}/positions", not_found=f"TastyTrade has no account {account_number}"
        )
        return _read_all(CurrentPosition, self._items(data))

    # ---------------------------------------------------------------- requests

    def _get(self, path: str, query: Mapping[str, str] | None = None, *, not_found: str | None = None) -> Any:
        """The ``data`` of a GET, through the breaker, with refresh-on-401 and retries inside the budget."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query, safe=",/", quote_via=urllib.parse.quote)
        admission = self.breaker.admit()
        deadline = self._clock() + self.policy.budget
        attempt, force_refresh, refreshed = 0, False, False
        while True:
            attempt += 1
            try:
                token = self.tokens.access_token(force_refresh=force_refresh)
            except OAuthError as exc:
                if not exc.transient:
                    raise
                self._failed(admission, attempt, deadline, "the token endpoint failed")
                continue
            headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"}
            remaining = deadline - self._clock()
            try:
                answer = self._transport(url, headers, max(0.1, min(self.policy.attempt_timeout, remaining)))
            except TransportFailure as exc:
                self._failed(admission, attempt, deadline, f"no answer ({exc})")
                continue
            if answer.status == 401 and not refreshed:
                force_refresh = refreshed = True
                attempt -= 1  # a stale token is not TastyTrade failing
                continue
            force_refresh = False
            if answer.status == 429:
                self._throttled(admission, attempt, deadline, answer)
                continue
            if answer.status >= 500:
                self._failed(admission, attempt, deadline, f"TastyTrade answered {answer.status}")
                continue
            self.breaker.succeeded(admission)  # TastyTrade is up, whatever it thought of this request
            if answer.status == 401:
                raise self.tokens.refused()
            if answer.status >= 400:
                raise _rejection(answer, not_found)
            return _data(answer)

    def _failed(self, admission: Admission, attempt: int, deadline: float, what: str) -> None:
        """Count a failed attempt and wait before the next, or raise TastyTradeUnavailable when none is left."""
        opened = self.breaker.failed(admission)
        wait = self._jitter(min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1)))
        if opened is not None or attempt >= self.policy.max_attempts or self._clock() + wait >= deadline:
            logger.warning("TastyTrade call failed", extra={"attempts": attempt, "last": what, "opened": opened})
            raise TastyTradeUnavailable(
                "TastyTrade is not answering; retry later", retry_after=opened or self.policy.retry_after
            )
        self._sleep(wait)

    def _throttled(self, admission: Admission, attempt: int, deadline: float, answer: HttpAnswer) -> None:
        """Sit out a 429 if its wait fits the call's budget; otherwise hold everyone off for it and give up."""
        hinted = retry_after_seconds(answer.headers.get("retry-after"), now=time.time())
        wait = (
            hinted
            if hinted is not None
            else self._jitter(min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1)))
        )
        if attempt >= self.policy.max_attempts or wait > self.policy.max_wait or self._clock() + wait >= deadline:
            period = self.breaker.throttled(admission, wait if hinted is not None else self.policy.retry_after)
            logger.warning("TastyTrade throttled us", extra={"attempts": attempt, "retry_after": period})
            raise TastyTradeUnavailable("TastyTrade is throttling requests; retry later", retry_after=period)
        self._sleep(wait)

    @staticmethod
    def _items(data: Any) -> list[Any]:
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise TastyTradeUnusable("TastyTrade answered a list request without items")
        return items


def _segment(value: str) -> str:
    """A path segment: OCC spaces and the slash of BRK/B escaped."""
    return urllib.parse.quote(value, safe="")


def _data(answer: HttpAnswer) -> Any:
    try:
        payload = json.loads(answer.body)
    except ValueError:
        raise TastyTradeUnusable(f"TastyTrade answered {answer.status} with something that is not JSON") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise TastyTradeUnusable(f"TastyTrade answered {answer.status} without its data envelope")
    return payload["data"]


def _error_code(body: bytes) -> str | None:
    """The ``code`` of TastyTrade's ``{"error": {"code", "message"}}``; None for an HTML or empty error page."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code[:64] if isinstance(code, str) else None


def _rejection(answer: HttpAnswer, not_found: str | None) -> TastyTradeRejected:
    code = _error_code(answer.body)
    if answer.status == 404:
        return TastyTradeNotFound(not_found or "TastyTrade has no such thing", status=404, code=code)
    return TastyTradeRejected(f"TastyTrade refused the request ({answer.status})", status=answer.status, code=code)


def _read_all(model: type[M], raw: Iterable[Any]) -> list[M]:
    try:
        return [model.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise TastyTradeUnusable(
            f"TastyTrade answered a {model.__name__} we cannot read: {exc.error_count()} problem(s)"
        ) from None
