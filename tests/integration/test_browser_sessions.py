"""A browser's session through the local gateway: sign-in into cookies (bound to the browser that started it), the
authorizer reading the cookie, CSRF on cookie-authenticated writes, sign-out clearing the cookies, and CORS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest

from local.aws_calls import CallCounter
from local.gateway import Response
from local.stack import LocalStack
from tests.integration.test_signin import follow_provider
from ttai.auth.tokens import verify
from ttai.http.session_cookies import CSRF_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE, csrf_token

SESSION_SECONDS = 86_400


def parsed(response: Response) -> dict[str, dict[str, str]]:
    """The response's Set-Cookie headers: name -> value and attributes (flags as "")."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.cookies:
        name_value, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = name_value.partition("=")
        cookies[name] = {"value": value}
        for attribute in attributes:
            key, _, setting = attribute.partition("=")
            cookies[name][key.lower()] = setting
        assert SimpleCookie(header)  # a header the standard library's parser accepts as well
    return cookies


def browser_sign_in(stack: LocalStack, return_to: str = "/dashboard") -> tuple[Response, Response]:
    """What a browser does: /auth/login?return_to=..., TastyTrade, then the callback with the sign-in cookie."""
    login = stack.http("GET", "/auth/login", query={"return_to": return_to})
    assert login.status == 302
    pending = parsed(login)[SIGN_IN_COOKIE]
    query = follow_provider(login.headers["location"])
    cookie = f"{SIGN_IN_COOKIE}={pending['value']}"
    return login, stack.http("GET", "/auth/callback", query=query, headers={"Cookie": cookie})


class Browser:
    """The session cookies a browser holds once signed in."""

    def __init__(self, stack: LocalStack) -> None:
        _, callback = browser_sign_in(stack)
        cookies = parsed(callback)
        self.session = cookies[SESSION_COOKIE]["value"]
        self.csrf = cookies[CSRF_COOKIE]["value"]

    @property
    def cookie(self) -> str:
        return f"{SESSION_COOKIE}={self.session}; {CSRF_COOKIE}={self.csrf}"


@pytest.fixture(scope="module")
def browser(stack: LocalStack) -> Browser:
    return Browser(stack)


@pytest.fixture
def data_api_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("rds-data"), stack.env.client("dynamodb")) as counter:
        yield counter


def test_a_browser_sign_in_binds_its_state_and_returns_to_the_page_with_the_session_in_cookies(
    stack: LocalStack,
) -> None:
    login, callback = browser_sign_in(stack)
    pending = parsed(login)[SIGN_IN_COOKIE]
    state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    assert pending == {
        "value": f"{state}./dashboard",
        "path": "/",
        "max-age": "600",
        "secure": "",
        "samesite": "Lax",  # sent back on TastyTrade's top-level redirect to the callback
        "httponly": "",
    }
    assert (callback.status, callback.headers["location"], callback.headers["cache-control"]) == (
        303,
        "/dashboard",
        "no-store",
    )
    assert callback.body == ""  # no token in a body a page could read
    cookies = parsed(callback)
    assert set(cookies) == {SESSION_COOKIE, CSRF_COOKIE, SIGN_IN_COOKIE}
    assert cookies[SIGN_IN_COOKIE]["max-age"] == "0"
    session, csrf = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
    claims = verify(stack.secret_value("JWT_SECRET"), session["value"])
    assert abs(int(session["max-age"]) - SESSION_SECONDS) <= 2
    assert claims.expires_at - time.time() == pytest.approx(int(session["max-age"]), abs=2)
    assert {k: v for k, v in session.items() if k not in {"value", "max-age"}} == {
        "path": "/",
        "secure": "",
        "samesite": "Lax",
        "httponly": "",
    }
    assert csrf == {"value": csrf_token(claims.session_id), "path": "/", "max-age": session["max-age"], "secure": "",
                    "samesite": "Strict"}  # fmt: skip  # readable by the page: no HttpOnly


def test_a_callback_this_browser_did_not_start_signs_nothing_in(stack: LocalStack) -> None:
    login = stack.http("GET", "/auth/login", query={"return_to": "/dashboard"})
    mine = parsed(login)[SIGN_IN_COOKIE]["value"]
    # An attacker's own sign-in, its callback link opened in the victim's browser (which holds its own state).
    theirs = follow_provider(stack.http("GET", "/auth/login").headers["location"])
    refused = stack.http("GET", "/auth/callback", query=theirs, headers={"Cookie": f"{SIGN_IN_COOKIE}={mine}"})
    assert refused.status == 401
    assert "not started in this browser" in refused.body["error"]["message"]
    assert refused.cookies == ()
    assert stack.env.KV.get(f"oauth:state:{theirs['state']}") is not None  # the attacker's code was not spent


@pytest.mark.parametrize("return_to", ["https://evil.example/", "//evil.example", "/../x", "/a?b=c", "dashboard"])
def test_return_to_must_be_a_path_of_this_site(stack: LocalStack, return_to: str) -> None:
    response = stack.http("GET", "/auth/login", query={"return_to": return_to})
    assert response.status == 422
    assert response.cookies == ()


def test_without_return_to_the_callback_answers_json_and_sets_no_cookie(stack: LocalStack) -> None:
    login = stack.http("GET", "/auth/login")
    assert login.cookies == ()
    callback = stack.http("GET", "/auth/callback", query=follow_provider(login.headers["location"]))
    assert callback.status == 200
    assert callback.body["token_type"] == "Bearer"
    assert callback.cookies == ()


def test_the_session_cookie_authenticates_reads(stack: LocalStack, browser: Browser) -> None:
    status, _, body = stack.http("GET", "/api/v1/me", headers={"Cookie": f"theme=dark; {browser.cookie}"})
    assert status == 200
    assert body["id"] == "5WT00001"
    assert stack.http("GET", "/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}=forged"}).status == 403


def test_a_cookie_write_without_its_csrf_token_is_403_and_writes_nothing(
    stack: LocalStack, browser: Browser, data_api_calls: CallCounter
) -> None:
    body = {"symbols": ["AAPL"]}
    for headers in (
        {"Cookie": browser.cookie},
        {"Cookie": browser.cookie, "X-CSRF-Token": "x" * 43},
        {"Cookie": browser.cookie, "X-CSRF-Token": csrf_token("another-session")},
        {"Cookie": browser.cookie, "X-CSRF-Token": browser.csrf, "Authorization": "Basic dTpw"},
        {"Cookie": browser.cookie, "Idempotency-Key": "forged-1"},
    ):
        status, response_headers, answer = stack.http("PUT", "/api/v1/watchlists/forged", json=body, headers=headers)
        if "Authorization" in headers:
            assert status == 403  # judged on the header, which is no bearer token: the authorizer denies it
            continue
        assert status == 403
        assert answer["error"]["code"] == "forbidden"
        assert "X-CSRF-Token" in answer["error"]["message"]
        assert response_headers["x-content-type-options"] == "nosniff"  # the security headers stay
    # Only the authorizer's session reads and each request's admission (the limits table's UpdateItem, which comes
    # before the CSRF check): no statement, no idempotency record, no write. The Basic header is denied before any.
    assert data_api_calls.by_operation() == {"GetItem": 4, "UpdateItem": 4}
    cookie = {"Cookie": browser.cookie}
    assert stack.http("GET", "/api/v1/watchlists/forged", headers=cookie).status == 404


def test_a_cookie_write_with_its_csrf_token_and_a_bearer_write_without_one_succeed(
    stack: LocalStack, browser: Browser
) -> None:
    headers = {"Cookie": browser.cookie, "X-CSRF-Token": browser.csrf}
    assert stack.http("PUT", "/api/v1/watchlists/kept", json={"symbols": ["MSFT"]}, headers=headers).status == 200
    # A bearer write needs no CSRF token, even from a client that also holds the cookie.
    status, _, _ = stack.http(
        "PUT", "/api/v1/watchlists/by-bearer", token=browser.session, json={"symbols": []}, headers={"Cookie": "a=b"}
    )
    assert status == 200
    names = stack.http("GET", "/api/v1/watchlists", headers={"Cookie": browser.cookie}).body["items"]
    assert {"kept", "by-bearer"} <= {item["name"] for item in names}


def test_sign_out_revokes_the_session_and_clears_both_cookies(stack: LocalStack) -> None:
    browser = Browser(stack)
    refused = stack.http("POST", "/auth/logout", headers={"Cookie": browser.cookie})
    assert refused.status == 403  # a cookie write: the CSRF token is needed to sign out too
    signed_out = stack.http("POST", "/auth/logout", headers={"Cookie": browser.cookie, "X-CSRF-Token": browser.csrf})
    assert signed_out.status == 204
    cleared = parsed(signed_out)
    assert {name: cleared[name]["max-age"] for name in cleared} == {SESSION_COOKIE: "0", CSRF_COOKIE: "0"}
    assert cleared[SESSION_COOKIE]["value"] == cleared[CSRF_COOKIE]["value"] == ""
    assert stack.http("GET", "/api/v1/me", headers={"Cookie": browser.cookie}).status == 403


def test_cors_answers_from_devs_allow_list(stack: LocalStack) -> None:
    preflight = {"Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "DELETE"}
    status, headers, _ = stack.http("OPTIONS", "/api/v1/watchlists/x", headers=preflight)
    assert status == 204
    assert headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert "DELETE" in headers["access-control-allow-methods"].split(",")
    assert headers["access-control-max-age"] == "600"
    status, headers, _ = stack.http("OPTIONS", "/api/v1/watchlists/x", headers={**preflight, "Origin": "null"})
    assert status == 204
    assert not any(name.startswith("access-control-") for name in headers)
    token = stack.token_for("cors-reader")
    listed = stack.http("GET", "/api/v1/watchlists", token=token, headers={"Origin": "http://localhost:5173"})
    assert listed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert listed.headers["access-control-expose-headers"] == "retry-after,idempotent-replayed"
    foreign = stack.http("GET", "/api/v1/watchlists", token=token, headers={"Origin": "https://evil.example"})
    assert foreign.status == 200  # answered (CORS is the browser's to enforce), but with no header allowing it
    assert not any(name.startswith("access-control-") for name in foreign.headers)
