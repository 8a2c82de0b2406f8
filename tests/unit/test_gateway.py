"""The local API Gateway's contract with the functions, checked with stand-in handlers (no sockets)."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

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


def gateway(authorizer: Recorder, api: Recorder, ttl: int = 0) -> LocalGateway:
    return LocalGateway(
        authorizer_cache_ttl=ttl,
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
    assert (auth_event["type"], auth_event["identitySource"]) == ("REQUEST", ["Bearer t0k"])


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


def test_no_authorization_header_is_401_and_the_authorizer_is_not_called() -> None:
    authorizer, api = Recorder(ALLOW), Recorder(OK)
    assert gateway(authorizer, api).request("GET", "/api/v1/quotes/AAPL") == (
        401,
        {"content-type": "application/json"},
        {"message": "Unauthorized"},
    )
    assert authorizer.events == api.events == []


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
    local = gateway(authorizer, Recorder(OK), ttl=300)
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
