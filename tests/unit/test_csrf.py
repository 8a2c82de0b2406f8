"""CSRF on cookie-authenticated writes and the session cookies, with API Gateway-shaped events (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ttai.auth.authorizer import bearer_token
from ttai.http.csrf import forged_write_refusal
from ttai.http.session_cookies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SignInCookie,
    cleared_session_cookies,
    csrf_matches,
    csrf_token,
    request_cookies,
    session_cookies,
)

SESSION = "s-1"


SIGNED_IN = [f"{SESSION_COOKIE}=jwt", f"{CSRF_COOKIE}={csrf_token(SESSION)}"]


def event(method: str, *, cookies: list[str] | None = None, **headers: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "headers": {name.replace("_", "-").lower(): value for name, value in headers.items()},
        "cookies": SIGNED_IN if cookies is None else cookies,
        "requestContext": {"http": {"method": method}, "authorizer": {"lambda": {"session_id": SESSION}}},
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_cookie_write_without_the_sessions_token_is_a_403(method: str) -> None:
    presented: tuple[str | None, ...] = (None, "", csrf_token("s-2"), "é")
    for token in presented:
        refusal = forged_write_refusal(event(method) if token is None else event(method, x_csrf_token=token))
        assert refusal is not None
        assert refusal["statusCode"] == 403
        assert json.loads(refusal["body"])["error"]["code"] == "forbidden"


def test_the_sessions_token_a_read_or_a_bearer_write_pass() -> None:
    assert forged_write_refusal(event("POST", x_csrf_token=csrf_token(SESSION))) is None
    assert forged_write_refusal(event("POST", X_CSRF_Token=f" {csrf_token(SESSION)} ")) is None
    assert forged_write_refusal(event("GET")) is None
    assert forged_write_refusal(event("OPTIONS")) is None
    assert forged_write_refusal(event("DELETE", authorization="Bearer t")) is None
    assert forged_write_refusal(event("POST", cookies=[])) is None  # no session cookie: not cookie-authenticated


def test_the_token_is_tied_to_the_session_and_not_guessable_from_another() -> None:
    assert csrf_token("s-1") != csrf_token("s-2")
    assert len(csrf_token("s-1")) == 43  # 256 bits, base64url without padding
    assert csrf_matches("s-1", csrf_token("s-1"))
    assert not csrf_matches("s-1", None)
    assert not csrf_matches("s-1", csrf_token("s-1")[:-1])


def test_the_authorizer_reads_the_header_first_then_the_session_cookie() -> None:
    cookie_only = {"cookies": ["theme=dark", f"{SESSION_COOKIE}=from-cookie"], "headers": {}}
    assert bearer_token(cookie_only) == "from-cookie"
    assert bearer_token({"headers": {"cookie": f"a=1; {SESSION_COOKIE}=from-header"}}) == "from-header"
    both = {**cookie_only, "headers": {"authorization": "Bearer from-bearer"}}
    assert bearer_token(both) == "from-bearer"
    assert bearer_token({**cookie_only, "headers": {"authorization": "Basic dTpw"}}) is None
    assert bearer_token({"cookies": [f"{SESSION_COOKIE}="], "headers": {}}) is None
    assert bearer_token({"headers": {}}) is None


def test_request_cookies_keep_the_first_of_a_repeated_name() -> None:
    assert request_cookies({"cookies": ["a=1", "a=2", "b=x=y", "junk"]}) == {"a": "1", "b": "x=y"}


def test_the_cookies_set_and_cleared() -> None:
    session, csrf = (str(c) for c in session_cookies("jwt", SESSION, 3600))
    assert session == f"{SESSION_COOKIE}=jwt; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"
    assert csrf == f"{CSRF_COOKIE}={csrf_token(SESSION)}; Path=/; Max-Age=3600; Secure; SameSite=Strict"
    assert [str(c) for c in cleared_session_cookies()] == [
        f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
        f"{CSRF_COOKIE}=; Path=/; Max-Age=0; Secure; SameSite=Strict",
    ]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("abc./dashboard", SignInCookie("abc", "/dashboard")),
        ("abc./", SignInCookie("abc", "/")),
        ("abc.//evil.example", None),
        ("abc.https://evil.example", None),
        ("abc./a/../b", None),
        ("./dashboard", None),
        ("abc", None),
        (None, None),
    ],
)
def test_the_sign_in_cookie_holds_a_state_and_a_path_of_this_site(value: str | None, parsed: object) -> None:
    assert SignInCookie.parse(value) == parsed
