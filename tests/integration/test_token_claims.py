"""Tokens signed with the right key but with malformed claims (issue 11, defect 5): always a 403, never a 500, and
no AWS call, because every claim's JSON type is checked before it is used.

Before the fix ``"exp": "99999999999"`` passed PyJWT (which reads it with ``int()``) and then crashed the
authorizer comparing a string with ``time.time()``: API Gateway answered 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.auth import tokens
from ttai.observability import logger

REMOVED = object()  # a claim left out
CLAIM_NAMES = ["iss", "aud", "sub", "jti", "iat", "exp", "scope", "nbf"]


def valid_claims(now: int) -> dict[str, Any]:
    return {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "claims-user",
        "jti": "c" * 32,
        "iat": now,
        "exp": now + 3600,
        "scope": "",
    }


def signed(stack: LocalStack, payload: bytes | dict[str, Any]) -> str:
    """A compact JWS of ``payload`` (any JSON, or raw bytes) signed with the stack's key, as issue() would sign."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jwt.PyJWS().encode(raw, stack.env.secret("JWT_SECRET").encode(), algorithm="HS256")


def request(stack: LocalStack, token: str) -> tuple[int, Any, dict[str, int]]:
    """``GET /api/v1/me`` with ``token``: its status, its body, and the AWS calls made meanwhile by operation (to every
    service the authorizer could reach: sessions in DynamoDB, the signing key, the database)."""
    clients = [stack.env.client(name) for name in ("dynamodb", "secretsmanager", "rds-data")]
    with CallCounter(*clients) as calls:
        status, _, body = stack.http("GET", "/api/v1/me", token=token)
    return status, body, calls.by_operation()


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    caplog.set_level(logging.DEBUG, logger=logger.name)
    render = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return lambda: "\n".join(f"{render.format(record)} {vars(record)!r}" for record in caplog.records)


def test_the_reported_token_with_a_string_exp_is_a_403_without_any_aws_call(
    stack: LocalStack, log_text: Callable[[], str]
) -> None:
    token = signed(stack, {**valid_claims(int(time.time())), "exp": "99999999999"})
    assert request(stack, token) == (403, {"message": "Forbidden"}, {})
    logged = log_text()
    assert "invalid token: exp is not a whole number of seconds" in logged  # the reason, for operators
    assert token not in logged


def test_the_counter_sees_the_authorizers_calls(stack: LocalStack) -> None:
    # Well-formed claims, no session: denied after one lookup. So no calls below means none, not a blind counter.
    token = signed(stack, valid_claims(int(time.time())))
    assert request(stack, token) == (403, {"message": "Forbidden"}, {"GetItem": 1})


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "99999999999"),
        ("exp", True),
        ("exp", 1.5e9),
        ("exp", [2**40]),
        ("exp", 10**30),
        ("exp", None),
        ("iat", "0"),
        ("iat", False),
        ("iat", {"n": 1}),
        ("iat", -1),
        ("nbf", "now"),
        ("sub", 42),
        ("sub", ["claims-user"]),
        ("jti", None),
        ("scope", ["admin"]),
        ("scope", "admin\tservice"),
        ("iss", [tokens.ISSUER]),
        ("aud", [tokens.AUDIENCE]),
        ("aud", {"ttai-api": True}),
    ],
)
def test_a_claim_of_the_wrong_type_or_range_is_a_403_without_any_aws_call(
    stack: LocalStack, claim: str, value: Any
) -> None:
    token = signed(stack, {**valid_claims(int(time.time())), claim: value})
    assert request(stack, token) == (403, {"message": "Forbidden"}, {})


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"claims"',
        b"null",
        b"not json",
        b'{"exp": 1e400}',
        b'{"exp": NaN}',
        b'{"exp": ' + b"9" * 5000 + b"}",
        b"[" * 3000 + b"]" * 3000,
        b"\xff\xfe",
    ],
)
def test_claims_that_are_not_a_json_object_are_a_403_without_any_aws_call(stack: LocalStack, payload: bytes) -> None:
    assert request(stack, signed(stack, payload)) == (403, {"message": "Forbidden"}, {})


# JSON of every type, numbers that look like times included.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
    | st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


TEXT_RULES: dict[str, Callable[[str], bool]] = {
    "sub": lambda v: tokens.USER_ID_PATTERN.fullmatch(v) is not None,
    "jti": lambda v: tokens.SESSION_ID_PATTERN.fullmatch(v) is not None,
    "scope": lambda v: set(v.split(" ")) - {""} <= tokens.KNOWN_SCOPES,
}


def is_valid(claim: str, value: Any, now: int) -> bool:
    """Whether ``value`` would pass as ``claim`` (generated values must not, so every token is malformed)."""
    if value is REMOVED:
        return claim in ("scope", "nbf")
    if claim in ("iat", "exp", "nbf"):
        in_range = type(value) is int and tokens.EARLIEST_SECONDS <= value < tokens.LATEST_SECONDS
        return in_range and (value > now if claim == "exp" else value <= now)
    if type(value) is not str:
        return False
    rule = TEXT_RULES.get(claim)
    return rule(value) if rule is not None else value == valid_claims(now)[claim]


@st.composite
def malformed_claims(draw: st.DrawFn) -> dict[str, Any]:
    now = int(time.time())
    claims = valid_claims(now)
    for claim in draw(st.sets(st.sampled_from(CLAIM_NAMES), min_size=1)):

        def invalid(value: Any, claim: str = claim) -> bool:
            return not is_valid(claim, value, now)

        optional = claim in ("scope", "nbf")  # leaving those out is valid
        value = draw((JSON_VALUES if optional else JSON_VALUES | st.just(REMOVED)).filter(invalid))
        if value is REMOVED:
            claims.pop(claim, None)
        else:
            claims[claim] = value
    return claims


@settings(max_examples=80, deadline=None)
@given(claims=malformed_claims())
def test_any_malformed_claims_signed_with_the_right_key_are_a_403_without_any_aws_call(
    stack: LocalStack, claims: dict[str, Any]
) -> None:
    assert request(stack, signed(stack, claims)) == (403, {"message": "Forbidden"}, {}), claims
