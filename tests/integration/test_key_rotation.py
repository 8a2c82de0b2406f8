"""JWT_SECRET rotation with two keys live at once, through the local gateway and moto's Secrets Manager: new tokens
carry the new key's kid, old ones verify until their key is rotated out, and a warm authorizer that has not seen the
new key reads the secret again (once a minute at most) instead of refusing.

A stack of its own: rotating the shared stack's key would end the sessions other tests hold.
"""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.auth import sessions, tokens
from ttai.auth.sessions import KEYS_MAX_AGE_SECONDS, KEYS_REREAD_SECONDS, SessionStore
from ttai.env import SECRET_PREFIX, Env, Settings
from ttai.secret_names import JWT_SECRET

FIRST, SECOND, THIRD = "1" * 64, "2" * 64, "3" * 64
ROUTE = "/api/v1/me"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(secret_values={JWT_SECRET: FIRST}) as local:
        yield local


@pytest.fixture(autouse=True)
def _keys_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's clock starts now: forget when earlier tests had the functions read the keys."""
    monkeypatch.setattr(sessions, "_KEYS_READ", {})
    monkeypatch.setattr(sessions, "_KEYS_REREAD", {})


def _rotate(stack: LocalStack, key: str) -> None:
    """Put a new version: it becomes AWSCURRENT, the one before AWSPREVIOUS, any older one is dropped."""
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.environ[SECRET_PREFIX + JWT_SECRET], SecretString=key
    )


def _new_container(stack: LocalStack) -> SessionStore:
    """Sessions as a function started after the rotation opens them: its own Env, nothing read yet."""
    environ = stack.functions["auth"].environ
    assert environ is not None
    return SessionStore(Env(Settings.from_environ(environ)))


def test_keys_rotate_with_the_old_one_live_until_it_is_rotated_out(stack: LocalStack, clock: Clock) -> None:
    # Given a token of the first key, and the authorizer warm with it
    before = stack.token_for("rotating-user")
    assert jwt.get_unverified_header(before)["kid"] == tokens.key_id(FIRST)
    assert stack.http("GET", ROUTE, token=before).status == 200
    # When the key rotates and a new container signs a token
    _rotate(stack, SECOND)
    after = _new_container(stack).open("rotating-user").token
    assert jwt.get_unverified_header(after)["kid"] == tokens.key_id(SECOND)
    # Then the warm authorizer takes both: it reads the secret again for the kid it has not seen
    secrets = stack.env.client("secretsmanager")
    with CallCounter(secrets) as reads:
        assert stack.http("GET", ROUTE, token=after).status == 200
    assert reads.by_operation() == {"GetSecretValue": 3}  # previous (first look), then current and previous again
    with CallCounter(secrets) as reads:
        assert stack.http("GET", ROUTE, token=before).status == 200
        assert stack.http("GET", ROUTE, token=after).status == 200
    assert reads.total == 0
    # When the key rotates again, the first key is out once the functions read the keys again (five minutes at
    # most): its tokens are refused, the second's still verify
    _rotate(stack, THIRD)
    assert stack.http("GET", ROUTE, token=before).status == 200  # this container read the keys a moment ago
    clock.travel(KEYS_MAX_AGE_SECONDS)
    assert stack.http("GET", ROUTE, token=before).status == 403
    assert stack.http("GET", ROUTE, token=after).status == 200


def test_an_unknown_kid_makes_the_authorizer_read_the_keys_at_most_once_a_minute(
    stack: LocalStack, clock: Clock
) -> None:
    now = int(clock.now)
    stranger = tokens.issue("x" * 64, tokens.Claims("someone", "s" * 32, frozenset(), now, now + 60))
    with CallCounter(stack.env.client("secretsmanager")) as reads:
        assert stack.http("GET", ROUTE, token=stranger).status == 403
    assert reads.by_operation() == {"GetSecretValue": 2}  # current and previous, once
    with CallCounter(stack.env.client("secretsmanager")) as reads:
        for _ in range(3):
            assert stack.http("GET", ROUTE, token=stranger).status == 403
    assert reads.total == 0
    clock.travel(KEYS_REREAD_SECONDS)
    with CallCounter(stack.env.client("secretsmanager")) as reads:
        assert stack.http("GET", ROUTE, token=stranger).status == 403
    assert reads.by_operation() == {"GetSecretValue": 2}
