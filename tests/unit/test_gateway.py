"""The local API Gateway's contract with the functions, checked with stand-in handlers (no sockets)."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from local.cors import CorsPolicy
from local.functions import LocalFunction
from local.gateway import LocalGateway


class Recorder:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.result = result
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        self.events.append(event)
        if self.error:
            raise self.error
        return self.result


def gateway(
    authorizer: Recorder, api: Recorder, ttl: int = 0, identity_sources: tuple[str, ...] = (), cors: Any = None
) -> LocalGateway:
    return LocalGateway(
        identity_sources=identity_sources,
        authorizer_cache_ttl=ttl,
        cors=cors,
        authorizer=LocalFunction("authorizer", "unused", handler=authorizer),
        api=LocalFunction("api", "unused", handler=api),
        auth=LocalFunction("auth", "unused", handler=Recorder(OK)),
    )


ALLOW = {"isAuthorized": True, "context": {"user_id": "user-1", "session_id": "s1", "scopes": ""}}
OK = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}


def test_the_api_event_is_payload_2_0_with_the_authorizer_context() -> None:
    authorizer, api = Recorder(ALLOW), Recorder(OK)
    response = gateway(authorizer, api).request(
        "get",
        "/api/v1/quotes",
        token="t0k",
        query={"symbols": ["AAPL", "MSFT"], "x": "1"},
        headers={"X-Trace": "abc", "Cookie": "a=1; b=2"},
    )
    assert response == (200, {"content-type": "application/json"}, {"ok": True})
    event = api.events[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["rawPath"] == "/api/v1/quotes"
    assert event["rawQueryString"] == "symbols=AAPL&symbols=MSFT&x=1"
    assert event["queryStringParameters"] == {"symbols": "AAPL,MSFT", "x": "1"}
    assert event["headers"]["x-trace"] == "abc"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["authorizer"] == {"lambda": ALLOW["context"]}
    auth_event = authorizer.events[0]
    assert (auth_event["type"], auth_event["identitySource"]) == ("REQUEST", None)  # the API lists no source
    assert auth_event["headers"]["authorization"] == "Bearer t0k"
    assert auth_event["cookies"] == ["a=1", "b=2"]


def test_binary_bodies_arrive_base64_encoded() -> None:
    api = Recorder(OK)
    gateway(Recorder(ALLOW), api).request("PUT", "/api/v1/x", token="t", body=b"\xff\xfe")
    assert api.events[0]["isBase64Encoded"] is True
    assert base64.b64decode(api.events[0]["body"]) == b"\xff\xfe"


def test_public_routes_skip_the_authorizer() -> None:
    authorizer, api = Recorder(ALLOW), Recorder(OK)
    assert gateway(authorizer, api).request("GET", "/health").status == 200
    assert authorizer.events == []
    assert "authorizer" not in api.events[0]["requestContext"]


def test_without_identity_sources_every_request_is_judged_by_the_authorizer() -> None:
    authorizer, api = Recorder({"isAuthorized": False}), Recorder(OK)
    local = gateway(authorizer, api)
    assert local.request("GET", "/api/v1/quotes/AAPL").status == 403  # no credential at all: the authorizer denies
    assert local.request("GET", "/x", headers={"Cookie": "__Host-ttai_session=t; theme=dark"}).status == 403
    assert len(authorizer.events) == 2
    assert api.events == []
    cookie_event = authorizer.events[1]
    assert cookie_event["identitySource"] is None
    assert cookie_event["cookies"] == ["__Host-ttai_session=t", "theme=dark"]


def test_a_missing_identity_source_is_401_and_the_authorizer_is_not_called() -> None:
    authorizer, api = Recorder(ALLOW), Recorder(OK)
    assert gateway(authorizer, api, identity_sources=("Authorization",)).request("GET", "/api/v1/quotes/AAPL") == (
        401,
        {"content-type": "application/json"},
        {"message": "Unauthorized"},
    )
    assert authorizer.events == api.events == []


def test_caching_needs_an_identity_source_as_api_gateway_does() -> None:
    with pytest.raises(ValueError, match="without identity sources cannot cache"):
        gateway(Recorder(ALLOW), Recorder(OK), ttl=60)


def test_the_cookies_a_function_returns_become_set_cookie_headers() -> None:
    answer = {**OK, "cookies": ["a=1; Path=/; Secure; HttpOnly", "b=2; Path=/"]}
    response = gateway(Recorder(ALLOW), Recorder(answer)).request("GET", "/health")
    assert response.cookies == ("a=1; Path=/; Secure; HttpOnly", "b=2; Path=/")
    assert "set-cookie" not in response.headers


def test_a_denial_is_403_and_the_api_is_not_called() -> None:
    api = Recorder(OK)
    assert gateway(Recorder({"isAuthorized": False}), api).request("GET", "/x", token="t").status == 403
    assert api.events == []


@pytest.mark.parametrize("which", ["authorizer", "api"])
def test_a_function_that_raises_is_a_500(which: str, capsys: pytest.CaptureFixture[str]) -> None:
    failing = Recorder(error=RuntimeError("boom"))
    authorizer, api = (failing, Recorder(OK)) if which == "authorizer" else (Recorder(ALLOW), failing)
    assert gateway(authorizer, api).request("GET", "/x", token="t") == (
        500,
        {"content-type": "application/json"},
        {"message": "Internal Server Error"},
    )
    assert "boom" in capsys.readouterr().err


def test_authorizer_results_are_cached_per_token_until_the_ttl_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    authorizer = Recorder(ALLOW)
    local = gateway(authorizer, Recorder(OK), ttl=300, identity_sources=("Authorization",))
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    local.request("GET", "/x", token="a")
    local.request("GET", "/x", token="a")
    local.request("GET", "/x", token="b")
    assert len(authorizer.events) == 2
    monkeypatch.setattr(time, "monotonic", lambda: now + 301)
    local.request("GET", "/x", token="a")
    assert len(authorizer.events) == 3


def test_a_bare_return_value_is_sent_as_json_with_200() -> None:
    assert gateway(Recorder(ALLOW), Recorder({"hello": "world"})).request("GET", "/x", token="t") == (
        200,
        {"content-type": "application/json"},
        {"hello": "world"},
    )


POLICY = CorsPolicy(
    allow_origins=frozenset({"https://app.example"}),
    allow_methods=("GET", "POST"),
    allow_headers=("authorization", "content-type"),
    expose_headers=("retry-after",),
    max_age_seconds=300,
)
PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}


def test_a_preflight_is_answered_from_the_allow_list_before_routing() -> None:
    authorizer, api = Recorder(ALLOW), Recorder(OK)
    local = gateway(authorizer, api, cors=POLICY)
    allowed = local.request("OPTIONS", "/api/v1/journal", headers=PREFLIGHT)
    assert allowed == (
        204,
        {
            "access-control-allow-origin": "https://app.example",
            "access-control-allow-methods": "GET,POST",
            "access-control-allow-headers": "authorization,content-type",
            "access-control-max-age": "300",
        },
        "",
    )
    foreign = local.request("OPTIONS", "/api/v1/journal", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert foreign == (204, {}, "")
    assert authorizer.events == api.events == []


def test_answers_carry_the_policys_cors_headers_for_a_listed_origin_only() -> None:
    api = Recorder({**OK, "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}})
    local = gateway(Recorder(ALLOW), api, cors=POLICY)
    listed = local.request("GET", "/x", token="t", headers={"Origin": "https://app.example"})
    assert listed.headers == {
        "content-type": "application/json",
        "access-control-allow-origin": "https://app.example",
        "access-control-expose-headers": "retry-after",
    }
    foreign = local.request("GET", "/x", token="t", headers={"Origin": "https://evil.example"})
    assert foreign.headers == {"content-type": "application/json"}  # the function's "*" is not passed on


def test_without_cors_an_options_request_is_routed_like_any_other() -> None:
    authorizer = Recorder({"isAuthorized": False})
    assert gateway(authorizer, Recorder(OK)).request("OPTIONS", "/api/v1/journal", headers=PREFLIGHT).status == 403
    assert len(authorizer.events) == 1


def test_the_allow_lists_of_cdk_json() -> None:
    dev = CorsPolicy.of_environment("dev")
    assert dev is not None
    assert dev.allow_origins == {"http://localhost:5173", "http://127.0.0.1:5173"}
    assert CorsPolicy.of_environment("staging") is None
    assert CorsPolicy.of_environment("prod") is None
