"""API Gateway HTTP API on one machine: HTTP requests become payload-2.0 events for the authorizer and api function.

It behaves as the deployed API does where callers can see it: the authorizer has no identity source (a browser
sends its session cookie, an API client its Authorization header, and API Gateway would answer 401 to a request
lacking any source listed), so it judges every request of an authorized route and nothing is cached; a denial ->
403; a function that raises -> 500 with API Gateway's body; the authorizer's context reaches the api function
under ``requestContext.authorizer.lambda``; the cookies a function returns become Set-Cookie headers; CORS is
answered from the environment's allow-list (``local.cors``). Given identity sources (headers), it answers 401
without calling the authorizer when one is missing and may cache a result per their values for a TTL, as API
Gateway does for such an authorizer.
"""

from __future__ import annotations

import base64
import json as jsonlib
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode

from local.account import ACCOUNT_ID, REGION
from local.cors import CorsPolicy
from local.functions import LocalFunction

API_ID = "localapi"
STAGE = "$default"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


# The HTTP API's routes, in the order API Gateway prefers them (exact before greedy). infra/ declares the same
# public routes; tests/infra/test_local_parity.py keeps the two in step.
ROUTES = (
    Route("GET", "/health", "api", authorized=False),
    Route("GET", "/auth/login", "auth", authorized=False),
    Route("GET", "/auth/callback", "auth", authorized=False),
    Route("GET", "/dashboard", "api", authorized=False),
    Route("GET", "/dashboard/app.js", "api", authorized=False),
    Route("GET", "/dashboard/app.css", "api", authorized=False),
    # The one authorized route of the auth function: it opens the caller's broker tokens, whose key only it holds.
    Route("POST", "/api/v1/positions/sync", "auth", authorized=True),
    Route("ANY", "/{proxy+}", "api", authorized=True),
)
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset((r.method, r.path) for r in ROUTES if not r.authorized)


def match_route(method: str, path: str) -> Route:
    for route in ROUTES:
        if route.path == "/{proxy+}" or (route.path == path and route.method in {method, "ANY"}):
            return route
    raise LookupError(path)  # unreachable: the greedy route matches everything


class _Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON when the response is JSON, else text


class Response(_Reply):
    """What API Gateway sends back: (status, headers, body), and its ``cookies`` (one Set-Cookie header each)."""

    cookies: tuple[str, ...] = ()

    def __new__(cls, status: int, headers: dict[str, str], body: Any, cookies: Iterable[str] = ()) -> Response:
        reply = super().__new__(cls, status, headers, body)
        reply.cookies = tuple(cookies)
        return reply


class LocalGateway:
    """The HTTP API in front of the three functions it integrates (the local stack's, each with its variables)."""

    def __init__(
        self,
        *,
        authorizer: LocalFunction,
        api: LocalFunction,
        auth: LocalFunction,
        identity_sources: tuple[str, ...] = (),
        authorizer_cache_ttl: int = 0,
        cors: CorsPolicy | None = None,
    ) -> None:
        """``identity_sources`` are header names (``$request.header.<name>``); without any, API Gateway refuses a
        cache TTL, and so does this."""
        if authorizer_cache_ttl and not identity_sources:
            raise ValueError("an authorizer without identity sources cannot cache its results (API Gateway refuses)")
        self.authorizer = authorizer
        self.api = api
        self.auth = auth
        self.functions = {"api": self.api, "auth": self.auth}
        self.identity_sources = tuple(name.lower() for name in identity_sources)
        self.authorizer_cache_ttl = authorizer_cache_ttl
        self.cors = cors
        self._cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------- entry points

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: Mapping[str, str | Iterable[str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> Response:
        """A request as a client would make it (``json`` is serialized; ``token`` becomes a Bearer header)."""
        all_headers = {k.lower(): v for k, v in (headers or {}).items()}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        raw_body: bytes | None = body.encode() if isinstance(body, str) else body
        if json is not None:
            raw_body = jsonlib.dumps(json).encode()
            all_headers.setdefault("content-type", "application/json")
        pairs: list[tuple[str, str]] = []
        for name, value in (query or {}).items():
            values = [value] if isinstance(value, str) else list(value)
            pairs += [(name, v) for v in values]
        return self.handle(method, quote(path, safe="/%"), urlencode(pairs), all_headers, raw_body)

    def handle(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes | None,
        source_ip: str = "127.0.0.1",
    ) -> Response:
        """A request as it arrives on the wire; returns what API Gateway would send back."""
        method = method.upper()
        headers = {k.lower(): v for k, v in headers.items()}
        if self.cors is not None and self.cors.is_preflight(method, headers):
            return Response(204, self.cors.preflight_headers(headers), "")  # answered before routing, no authorizer
        response = self._route(method, raw_path, raw_query, headers, body, source_ip)
        if self.cors is not None:
            response = Response(
                response.status, self.cors.response_headers(headers, response.headers), response.body, response.cookies
            )
        return response

    def _route(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: dict[str, str],
        body: bytes | None,
        source_ip: str,
    ) -> Response:
        route = match_route(method, raw_path)
        route_key = route.key
        context = self._request_context(method, raw_path, headers, source_ip, route_key)
        authorizer_context = None
        if route.authorized:
            identity = tuple(headers.get(name) for name in self.identity_sources)
            if not all(identity):
                return _gateway_error(401, "Unauthorized")
            try:
                verdict = self._authorize(
                    tuple(str(value) for value in identity), method, raw_path, raw_query, headers, context, route_key
                )
            except Exception:  # noqa: BLE001 - API Gateway turns any authorizer failure into a 500
                traceback.print_exc()
                return _gateway_error(500, "Internal Server Error")
            if not verdict.get("isAuthorized"):
                return _gateway_error(403, "Forbidden")
            authorizer_context = {"lambda": dict(verdict.get("context") or {})}
        event = self._event(method, raw_path, raw_query, headers, body, context, route_key)
        if authorizer_context is not None:
            event["requestContext"]["authorizer"] = authorizer_context
        try:
            result = self.functions[route.function](event)
        except Exception:  # noqa: BLE001 - an unhandled function error is a 500 from API Gateway
            traceback.print_exc()
            return _gateway_error(500, "Internal Server Error")
        return _to_response(result)

    # ----------------------------------------------------------------- events

    def _authorize(
        self,
        identity: tuple[str, ...],
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        context: dict[str, Any],
        route_key: str,
    ) -> dict[str, Any]:
        now = time.monotonic()
        caching = self.authorizer_cache_ttl > 0 and bool(identity)
        if caching:
            with self._cache_lock:
                cached = self._cache.get(identity)
                if cached and cached[0] > now:
                    return cached[1]
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{raw_path}",
            "identitySource": list(identity) or None,
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": dict(headers),
            "queryStringParameters": _query_parameters(raw_query),
            "requestContext": context,
        }
        cookies = _cookies(headers)
        if cookies:
            event["cookies"] = cookies
        verdict = self.authorizer(event)
        if not isinstance(verdict, dict):
            raise TypeError("authorizer returned a non-object response")
        if caching:
            with self._cache_lock:
                self._cache[identity] = (now + self.authorizer_cache_ttl, verdict)
        return verdict

    def _request_context(
        self, method: str, raw_path: str, headers: Mapping[str, str], source_ip: str, route_key: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": STAGE,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }

    def _event(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes | None,
        context: dict[str, Any],
        route_key: str,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": dict(headers),
            "requestContext": context,
            "isBase64Encoded": False,
        }
        cookies = _cookies(headers)
        if cookies:
            event["cookies"] = cookies
        params = _query_parameters(raw_query)
        if params:
            event["queryStringParameters"] = params
        if route_key.endswith("{proxy+}"):
            event["pathParameters"] = {"proxy": raw_path.lstrip("/")}
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        return event


def _cookies(headers: Mapping[str, str]) -> list[str]:
    """Payload 2.0's ``cookies``: the Cookie header's pairs."""
    return [c.strip() for c in headers.get("cookie", "").split(";") if c.strip()]


def _query_parameters(raw_query: str) -> dict[str, str] | None:
    """Payload 2.0 joins repeated parameters with commas."""
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in params.items()} or None


def _gateway_error(status: int, message: str) -> Response:
    return Response(status, {"content-type": "application/json"}, {"message": message})


def _to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 lets a function return a bare body: API Gateway sends it as JSON with 200.
        return Response(200, {"content-type": "application/json"}, result)
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    raw = result.get("body") or ""
    if result.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    body: Any = raw
    if "json" in headers.get("content-type", "") and raw:
        body = jsonlib.loads(raw)
    cookies = [str(cookie) for cookie in result.get("cookies") or ()]
    return Response(int(result["statusCode"]), headers, body, cookies)
