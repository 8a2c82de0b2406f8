"""Session tokens: what verifies and what does not, with no I/O."""

from __future__ import annotations

import time

import jwt
import pytest

from ttai.auth import tokens
from ttai.errors import Unauthorized

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
