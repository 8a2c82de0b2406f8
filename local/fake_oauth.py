"""A stand-in for TastyTrade on 127.0.0.1 (OAuth and the REST API the stack reads), strict where the real one is strict.

OAuth: authorize approves at once (as the customer in ``login=`` or the default one) and redirects with a one-time
code bound to the client, redirect URI and PKCE challenge; the token endpoint checks client credentials, the code,
the redirect URI and the S256 verifier, and rotates the refresh tokens of those grants. A grant created "in the
portal" (``grant``) has a refresh token that stays valid, as TastyTrade's personal grants do.

API, in TastyTrade's ``{"data": ...}`` envelope and documented shapes (``local.tastytrade_catalog``): /customers/me,
/customers/me/accounts, /accounts/{account_number}/positions (another customer's account is a 403),
/market-data/by-type (at most 100 symbols across its parameters; unknown symbols left out),
/option-chains/{symbol}/nested, /option-chains/{symbol} and /instruments/equities/{symbol}. Every request but the
browser's authorize page needs a ``User-Agent`` of the form product/version, or gets nginx's bare 401 page.

Switches for tests: ``fail_next`` (5xx), ``outage``/``recover``, ``throttle_next`` (429, with or without Retry-After),
``expire_tokens``, ``latency``; ``requests`` counts requests per endpoint (its path template) and ``calls`` keeps each
API request's endpoint, query and User-Agent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from local.service import LoopbackHttpService
from local.tastytrade_catalog import Catalog, Customer, account_document, default_customers

CODE_LIFETIME_S = 60
ACCESS_LIFETIME_S = 900  # TastyTrade's access tokens last 15 minutes
MAX_BY_TYPE_SYMBOLS = 100
_USER_AGENT = re.compile(r"^[^\s/]+/[^\s/]+")
_NGINX_401 = (
    b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
Reply = tuple[int, dict[str, str], Any]
_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, template, re.compile("^" + re.sub(r"\{[a-z_]+\}", "([^/]+)", template) + "$"))
    for method, template in (
        ("GET", "/oauth/authorize"),
        ("POST", "/oauth/token"),
        ("GET", "/customers/me"),
        ("GET", "/customers/me/accounts"),
        ("GET", "/accounts/{account_number}/positions"),
        ("GET", "/market-data/by-type"),
        ("GET", "/option-chains/{symbol}/nested"),
        ("GET", "/option-chains/{symbol}"),
        ("GET", "/instruments/equities/{symbol}"),
    )
)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    account: str
    expires: float


@dataclass(frozen=True)
class Call:
    """One request as the stand-in received it."""

    endpoint: str  # the path template, /market-data/by-type
    path: str
    query: dict[str, str]
    user_agent: str | None


@dataclass
class _Fault:
    status: int
    remaining: int | None  # None: until recover()
    endpoint: str | None = None
    retry_after: int | None = None


@dataclass
class _Faults:
    queue: list[_Fault] = field(default_factory=list)

    def take(self, endpoint: str) -> _Fault | None:
        for fault in self.queue:
            if fault.endpoint in (None, endpoint):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.queue.remove(fault)
                return fault
        return None


def _api_error(status: int, code: str, message: str) -> Reply:
    return status, {}, {"error": {"code": code, "message": message}}


class FakeTastyTrade(LoopbackHttpService):
    def __init__(self, client_id: str, client_secret: str, *, catalog: Catalog | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.catalog = catalog or Catalog()
        self.customers: dict[str, Customer]
        self.positions: dict[str, list[dict[str, Any]]]
        self.customers, self.positions = default_customers(self.catalog)
        self.requests: Counter[str] = Counter()
        self.calls: list[Call] = []
        self.latency = 0.0  # seconds every API answer waits (to make concurrent requests overlap)
        self.in_flight = 0
        self.peak_in_flight = 0  # the most API requests answered at once since the last recover()
        self._faults = _Faults()
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}  # rotating refresh tokens (authorization-code grants)
        self._lasting: dict[str, str] = {}  # refresh tokens of grants created in the portal
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            provider: ClassVar[FakeTastyTrade] = fake

        return Handler

    @property
    def api_url(self) -> str:
        return self.base_url

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/customers/me"

    # ----------------------------------------------------------------- switches

    def fail_next(self, count: int = 1, *, status: int = 503, endpoint: str | None = None) -> None:
        """The next ``count`` requests (to ``endpoint`` only, if given) answer ``status``."""
        with self._lock:
            self._faults.queue.append(_Fault(status, count, endpoint))

    def outage(self, status: int = 503) -> None:
        """Every request but the browser's authorize page answers ``status`` until ``recover()``."""
        with self._lock:
            self._faults.queue.append(_Fault(status, None))

    def throttle_next(self, count: int = 1, *, retry_after: int | None = 1, endpoint: str | None = None) -> None:
        """The next ``count`` requests answer 429, with ``Retry-After: retry_after`` unless None (TastyTrade's
        documented 429s carry no such header)."""
        with self._lock:
            self._faults.queue.append(_Fault(429, count, endpoint, retry_after))

    def recover(self) -> None:
        """No more failures or throttling queued, and no latency."""
        with self._lock:
            self._faults.queue.clear()
            self.latency = 0.0
            self.peak_in_flight = 0

    def revoke(self, login: str) -> None:
        """The customer revoked our access: their access and refresh tokens stop working."""
        with self._lock:
            self._access = {t: held for t, held in self._access.items() if held[0] != login}
            self._refresh = {t: owner for t, owner in self._refresh.items() if owner != login}
            self._lasting = {t: owner for t, owner in self._lasting.items() if owner != login}

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (their refresh tokens stay good)."""
        with self._lock:
            self._access = {token: (account, 0.0) for token, (account, _) in self._access.items()}

    # --------------------------------------------------------------------- data

    def add_customer(self, login: str, *, email: str, name: str, accounts: list[str]) -> None:
        """A customer who can sign in as ``login``, owning ``accounts`` (no positions until set)."""
        documents = [account_document(n, nickname=f"Account {n}") for n in accounts]
        with self._lock:
            self.customers[login] = Customer(email, name, documents)
            for number in accounts:
                self.positions.setdefault(number, [])

    def set_positions(self, account_number: str, documents: list[dict[str, Any]]) -> None:
        with self._lock:
            self.positions[account_number] = list(documents)

    def grant(self, login: str, token: str | None = None) -> str:
        """A refresh token as TastyTrade's portal creates one for a customer ("Create Grant"): it does not rotate.
        ``token`` makes a given value the grant (the local stack's generated secret)."""
        token = token or secrets.token_urlsafe(32)
        with self._lock:
            self._lasting[token] = login
        return token

    # ------------------------------------------------------------------- OAuth

    def authorize(self, query: dict[str, str]) -> Reply:
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return 400, {}, {"error": "unauthorized_client"}
        if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43:
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE with S256 is required"}
        account = query.get("login", next(iter(self.customers)))
        if account not in self.customers:
            return 400, {}, {"error": "access_denied"}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                self.client_id, query["redirect_uri"], query["code_challenge"], account, time.time() + CODE_LIFETIME_S
            )
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, None

    def token(self, authorization: str, form: dict[str, str]) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {}, {"error": "invalid_client"}
        grant_type = form.get("grant_type")
        rotating = True
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)  # one use only
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if (
                    grant is None
                    or grant.expires < time.time()
                    or grant.redirect_uri != form.get("redirect_uri")
                    or grant.challenge != challenge
                ):
                    return 400, {}, {"error": "invalid_grant"}
                account = grant.account
            elif grant_type == "refresh_token":
                presented = form.get("refresh_token", "")
                lasting = self._lasting.get(presented)
                rotated = None if lasting else self._refresh.pop(presented, None)  # rotated on use
                if lasting is None and rotated is None:
                    return 400, {}, {"error": "invalid_grant"}
                account = lasting or rotated or ""
                rotating = lasting is None
            else:
                return 400, {}, {"error": "unsupported_grant_type"}
            access = secrets.token_urlsafe(32)
            self._access[access] = (account, time.time() + ACCESS_LIFETIME_S)
            if rotating:
                refresh = secrets.token_urlsafe(32)
                self._refresh[refresh] = account
        body = {"access_token": access, "expires_in": ACCESS_LIFETIME_S, "token_type": "Bearer"}
        if rotating:
            body["refresh_token"] = refresh
        return 200, {}, body

    # --------------------------------------------------------------------- API

    def customer_of(self, authorization: str) -> str | None:
        """The customer a bearer token belongs to, while it is valid."""
        with self._lock:
            held = self._access.get(authorization.removeprefix("Bearer "))
        if held is None or held[1] <= time.time():
            return None
        return held[0]

    def answer(self, endpoint: str, args: tuple[str, ...], customer: str, query: dict[str, str]) -> Reply:
        """The API's answer to ``customer`` (whose token checked out) at ``endpoint`` with its path ``args``."""
        handlers = {
            "/customers/me": self._me,
            "/customers/me/accounts": self._accounts,
            "/accounts/{account_number}/positions": self._positions,
            "/market-data/by-type": self._by_type,
            "/instruments/equities/{symbol}": self._equity,
            "/option-chains/{symbol}/nested": self._nested_chain,
            "/option-chains/{symbol}": self._option_chain,
        }
        return handlers[endpoint](customer, args, query)

    def _me(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        profile = self.customers[customer]
        return 200, {}, {"data": {"external-id": customer, "email": profile.email, "name": profile.name}}

    def _accounts(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        items = [{"account": a, "authority-level": "owner"} for a in self.customers[customer].accounts]
        return 200, {}, {"data": {"items": items}, "context": "/customers/me/accounts"}

    def _positions(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        number = args[0]
        if number not in {a["account-number"] for a in self.customers[customer].accounts}:
            return _api_error(403, "not_permitted", "User not permitted access")
        with self._lock:
            items = list(self.positions.get(number, []))
        return 200, {}, {"data": {"items": items}, "context": f"/accounts/{number}/positions"}

    def _equity(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        equity = self.catalog.equity(args[0])
        if equity is None:
            return _api_error(404, "record_not_found", f"No equity {args[0]}")
        return 200, {}, {"data": equity, "context": f"/instruments/equities/{args[0]}"}

    def _nested_chain(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        return self._chain(args[0], self.catalog.nested_chain(args[0]))

    def _option_chain(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        return self._chain(args[0], self.catalog.option_instruments(args[0]))

    @staticmethod
    def _chain(symbol: str, items: list[dict[str, Any]] | None) -> Reply:
        if items is None:
            return _api_error(404, "record_not_found", f"No option chain for {symbol}")
        return 200, {}, {"data": {"items": items}, "context": f"/option-chains/{symbol}"}

    def _by_type(self, customer: str, args: tuple[str, ...], query: dict[str, str]) -> Reply:
        now = datetime.now(UTC)
        asked = [
            (parameter, symbol)
            for parameter in ("equity", "index", "equity-option", "future", "future-option", "cryptocurrency")
            for symbol in query.get(parameter, "").split(",")
            if symbol
        ]
        if len(asked) > MAX_BY_TYPE_SYMBOLS:
            return _api_error(400, "invalid_request", f"at most {MAX_BY_TYPE_SYMBOLS} symbols across all types")
        items = [item for p, s in asked if (item := self.catalog.market_data(p, s, now)) is not None]
        return 200, {}, {"data": {"items": items}, "context": "/market-data/by-type"}


class _Handler(BaseHTTPRequestHandler):
    provider: ClassVar[FakeTastyTrade]

    def _reply(self, status: int, headers: dict[str, str], body: Any) -> None:
        raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self, method: str) -> None:
        fake = self.provider
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = next(((t, m) for verb, t, p in _ROUTES if verb == method and (m := p.match(url.path))), None)
        if route is None:
            self._reply(404, {}, {"error": {"code": "not_found", "message": "no such route"}})
            return
        endpoint, match = route
        with fake._lock:
            fake.requests[endpoint] += 1
        if endpoint == "/oauth/authorize":  # the browser's page: no User-Agent rule, no faults
            self._reply(*fake.authorize(query))
            return
        user_agent = self.headers.get("User-Agent")
        with fake._lock:
            fake.calls.append(Call(endpoint, url.path, query, user_agent))
            fault = fake._faults.take(endpoint)
        if not user_agent or not _USER_AGENT.match(user_agent):
            self._reply(401, {}, _NGINX_401)
            return
        if fault is not None:
            retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._reply(fault.status, retry, {"error": {"code": "unavailable", "message": "try again later"}})
            return
        if endpoint == "/oauth/token":
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            self._reply(*fake.token(self.headers.get("Authorization", ""), form))
            return
        customer = fake.customer_of(self.headers.get("Authorization", ""))
        if customer is None:
            self._reply(*_api_error(401, "invalid_token", "This token is invalid or has expired"))
            return
        with fake._lock:
            fake.in_flight += 1
            fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
        try:
            if fake.latency:
                time.sleep(fake.latency)
            args = tuple(unquote(group) for group in match.groups())
            reply = fake.answer(endpoint, args, customer, query)
        finally:
            with fake._lock:
                fake.in_flight -= 1
        self._reply(*reply)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the counters instead."""
