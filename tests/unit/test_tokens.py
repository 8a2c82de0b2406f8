"""Session tokens: what verifies and what does not, with no I/O."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttai.auth import tokens
from ttai.errors import Unauthorized
from ttai.models import times

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)

SECRET = "k" * 64


def claims(**changes: object) -> tokens.Claims:
    now = int(time.time())
    base = {
        "user_id": "user-1",
        "session_id": "s" * 32,
        "scopes": frozenset(),
        "issued_at": now,
        "expires_at": now + 600,
    }
    base.update(changes)
    return tokens.Claims(**base)  # type: ignore[arg-type]


def test_an_issued_token_verifies_to_the_same_claims() -> None:
    issued = claims(scopes=frozenset({"service", "admin"}))
    assert tokens.verify(SECRET, tokens.issue(SECRET, issued)) == issued


def test_a_token_expires_at_its_expiry_second(monkeypatch: pytest.MonkeyPatch) -> None:
    issued = claims()
    token = tokens.issue(SECRET, issued)
    monkeypatch.setattr(time, "time", lambda: issued.expires_at - 1)
    assert tokens.verify(SECRET, token).user_id == "user-1"
    monkeypatch.setattr(time, "time", lambda: issued.expires_at)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(SECRET, token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="invalid token"):
        tokens.verify(SECRET, tokens.issue("z" * 48, claims()))


def test_algorithm_confusion_is_refused() -> None:
    payload = {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": 1, "exp": 2**40}
    for token in (
        jwt.encode(payload, None, algorithm="none"),  # type: ignore[arg-type]
        jwt.encode(payload, SECRET, algorithm="HS512"),
    ):
        with pytest.raises(Unauthorized):
            tokens.verify(SECRET, token)


@pytest.mark.parametrize("user_id", ["", " user", "a" * 129, "user/1", "user\n1", "../admin"])
def test_user_ids_outside_the_allowed_shape_cannot_be_issued(user_id: str) -> None:
    with pytest.raises(ValueError, match="invalid user id"):
        tokens.issue(SECRET, claims(user_id=user_id))


def test_unknown_scopes_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        tokens.issue(SECRET, claims(scopes=frozenset({"root"})))


def test_a_short_signing_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.issue("short", claims())


def test_the_claims_time_bounds_are_the_house_range_of_instants() -> None:
    assert int(times.EARLIEST.timestamp()) == tokens.EARLIEST_SECONDS
    assert int(times.LATEST.timestamp()) == tokens.LATEST_SECONDS


def test_verifying_with_a_short_secret_is_a_configuration_fault_not_a_denial() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.verify("short", tokens.issue(SECRET, claims()))


def signed(payload: bytes, header: dict[str, Any] | None = None) -> str:
    return jwt.PyJWS().encode(payload, SECRET.encode(), algorithm="HS256", headers=header)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": "99999999999"}, "exp is not a whole number"),
        ({"exp": True}, "exp is not a whole number"),
        ({"iat": 2**63}, "iat is not a whole number"),
        ({"nbf": 2**40}, "nbf is not a whole number"),
        ({"nbf": 4_000_000_000}, "not valid yet"),
        ({"iat": 4_000_000_000, "exp": 4_000_000_100}, "issued in the future"),
        ({"exp": 1}, "expires before it was issued"),
        ({"aud": ["ttai-api"]}, "wrong audience"),
        ({"iss": None}, "wrong issuer"),
        ({"scope": "admin\tservice"}, "unknown scope"),
    ],
)
def test_a_well_signed_token_with_a_malformed_claim_says_which(changes: dict[str, Any], reason: str) -> None:
    now = int(time.time())
    payload = {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": now, "exp": now + 60}
    with pytest.raises(Unauthorized, match=reason):
        tokens.verify(SECRET, signed(json.dumps({**payload, **changes}).encode()))


@settings(max_examples=100, deadline=None)
@given(
    header=st.dictionaries(st.sampled_from(["kid", "typ", "cty", "crit", "b64", "x"]), JSON_VALUES, max_size=4),
    payload=st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
def test_whatever_else_a_well_signed_token_holds_verifying_it_is_a_denial(
    header: dict[str, Any], payload: bytes
) -> None:
    try:
        token = signed(payload, header)
    except (TypeError, ValueError, NotImplementedError, jwt.PyJWTError):  # a header PyJWT will not even sign
        return
    with pytest.raises(Unauthorized):  # never a TypeError, OverflowError, RecursionError...
        tokens.verify(SECRET, token)


@settings(max_examples=100, deadline=None)
@given(token=st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9_=-]{0,40}\.[A-Za-z0-9_=-]{0,80}\.[A-Za-z0-9_=-]{0,60}"))
def test_any_string_as_a_token_is_refused_as_unauthorized(token: str) -> None:
    with pytest.raises(Unauthorized):
        tokens.verify(SECRET, token)


# ---------------------------------------------------------------------------------------- two keys live at once

NEW_SECRET = "n" * 64


def test_a_token_names_the_key_that_signed_it() -> None:
    token = tokens.issue(NEW_SECRET, claims())
    assert jwt.get_unverified_header(token)["kid"] == tokens.key_id(NEW_SECRET) != tokens.key_id(SECRET)
    assert len(tokens.key_id(SECRET)) == 16  # a digest: nothing of the key itself
    assert SECRET[:8] not in tokens.key_id(SECRET)


def test_tokens_of_either_live_key_verify_while_both_are_given() -> None:
    old, new = tokens.issue(SECRET, claims()), tokens.issue(NEW_SECRET, claims(user_id="user-2"))
    live = [NEW_SECRET, SECRET]  # the current key first
    assert tokens.verify(live, old).user_id == "user-1"
    assert tokens.verify(live, new).user_id == "user-2"


def test_a_removed_key_s_tokens_are_refused_as_of_an_unknown_key() -> None:
    with pytest.raises(tokens.UnknownKey, match="not live"):
        tokens.verify([NEW_SECRET], tokens.issue(SECRET, claims()))


def test_a_kid_naming_a_live_key_does_not_let_another_key_s_signature_pass() -> None:
    # Signed with a key nobody holds, but claiming a live key's id.
    forged = jwt.encode(
        {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": 1, "exp": 2**31},
        "f" * 64,
        algorithm="HS256",
        headers={"kid": tokens.key_id(SECRET)},
    )
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        tokens.verify([NEW_SECRET, SECRET], forged)


def test_a_token_without_a_kid_is_checked_with_the_current_key_alone() -> None:
    # Tokens signed before keys had ids: the current key verifies them, the previous one does not.
    payload = {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": 1, "exp": 2**31}
    legacy = jwt.encode(payload, SECRET, algorithm="HS256")
    assert tokens.verify([SECRET, NEW_SECRET], legacy).user_id == "u"
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        tokens.verify([NEW_SECRET, SECRET], legacy)


def _hand_signed(header: dict[str, Any], payload: dict[str, Any], key: str = SECRET) -> str:
    """A compact HS256 JWS built without PyJWT, which will not sign some headers an attacker can send."""
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    encode = jwt.utils.base64url_encode
    signing_input = encode(json.dumps(header).encode()) + b"." + encode(json.dumps(payload).encode())
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + encode(signature)).decode()


@pytest.mark.parametrize("kid", [7, ["a"], {"k": 1}, "", "x" * 16, None])
def test_a_kid_that_is_not_a_live_key_s_id_is_refused(kid: object) -> None:
    payload = {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": 1, "exp": 2**31}
    with pytest.raises(Unauthorized):
        tokens.verify([SECRET], _hand_signed({"alg": "HS256", "typ": "JWT", "kid": kid}, payload))


def test_another_algorithm_in_the_header_is_refused_whatever_the_signature() -> None:
    def part(value: dict[str, Any]) -> str:
        return jwt.utils.base64url_encode(json.dumps(value).encode()).decode()

    payload = {"iss": "ttai", "aud": "ttai-api", "sub": "u", "jti": "s" * 32, "iat": 1, "exp": 2**31}
    for alg in ("RS256", "ES256", "HS384", "none", "NONE"):
        token = f"{part({'alg': alg, 'kid': tokens.key_id(SECRET)})}.{part(payload)}.{'A' * 43}"
        with pytest.raises(Unauthorized):
            tokens.verify(SECRET, token)


def test_verifying_with_no_key_is_a_configuration_fault() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        tokens.verify([], tokens.issue(SECRET, claims()))
