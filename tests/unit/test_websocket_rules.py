"""The local WebSocket gateway's rules without sockets: route selection, the authorizer's policy, the frame quota."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from local.websocket.authorizer import (
    AuthorizerRefusal,
    authorizer_context,
    check_identity_source,
    identity_present,
    policy_allows,
    refusal_for_error,
)
from local.websocket.events import Handshake, RouteSelection, new_id
from local.websocket.frames import FrameSizeGuard

ARN = "arn:aws:execute-api:us-east-1:000000000000:localws/dev/$connect"
ROUTES = {"subscribe", "unsubscribe", "$default", "$connect", "$disconnect"}


# ------------------------------------------------------------------------------- route selection


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ('{"action": "subscribe"}', "subscribe"),
        ('{"action": "unknown"}', "$default"),
        ('{"action": 1}', "$default"),
        ('{"action": "$disconnect"}', "$default"),  # the lifecycle routes are never chosen by a message
        ('["subscribe"]', "$default"),
        ("subscribe", "$default"),
        ("", "$default"),
    ],
)
def test_the_default_expression_routes_on_the_action_field(body: str, route: str) -> None:
    assert RouteSelection("$request.body.action").select(body, ROUTES) == route


def test_a_nested_path_is_followed() -> None:
    selection = RouteSelection("$request.body.meta.kind")
    assert selection.select('{"meta": {"kind": "subscribe"}}', ROUTES) == "subscribe"
    assert selection.select('{"meta": "subscribe"}', ROUTES) == "$default"


@pytest.mark.parametrize("expression", ["$request.header.action", "$request.body.", "action", "$request.body.a..b"])
def test_expressions_the_local_gateway_cannot_evaluate_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="route selection expression"):
        RouteSelection(expression)


def test_ids_look_like_api_gateways() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 16 and i.endswith("=") and "/" not in i and "+" not in i for i in ids)


# ------------------------------------------------------------------------------------ authorizer


def handshake(headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Handshake:
    return Handshake(
        headers=tuple((headers or {}).items()),
        query=tuple((query or {}).items()),
        source_ip="127.0.0.1",
        user_agent=None,
        domain_name="127.0.0.1:1",
    )


def test_identity_sources_are_checked_before_the_authorizer_runs() -> None:
    sources = check_identity_source(["route.request.header.Authorization", "route.request.querystring.ticket"])
    assert identity_present(sources, handshake({"authorization": "Bearer t"}, {"ticket": "x"}))  # header: any case
    assert not identity_present(sources, handshake({"Authorization": "Bearer t"}))
    assert not identity_present(sources, handshake({"Authorization": "Bearer t"}, {"ticket": ""}))  # empty = missing
    with pytest.raises(ValueError, match="identity source"):
        check_identity_source(["method.request.header.Authorization"])
    with pytest.raises(ValueError, match="identity source"):
        check_identity_source(["route.request.querystring."])


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([statement("Allow", ARN)], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:000000000000:localws/*")], True),
        ([statement("Allow", ["arn:aws:s3:::b", "arn:aws:execute-api:*:*:localws/dev/$connect"])], True),
        ([statement("Allow", ARN, action="execute-api:*")], True),
        ([statement("Allow", ARN, action="EXECUTE-API:invoke")], True),  # actions ignore case, resources do not
        ([statement("Allow", ARN.upper())], False),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:000000000000:localws/prod/*")], False),
        ([statement("Allow", ARN, action="execute-api:ManageConnections")], False),
        ([statement("Allow", "*"), statement("Deny", ARN)], False),  # an explicit deny wins
        ([statement("Deny", "arn:aws:execute-api:*:*:other/*"), statement("Allow", "*")], True),
        ([], False),
    ],
)
def test_the_policy_must_allow_invoke_on_the_connect_arn(statements: list[dict[str, Any]], allowed: bool) -> None:
    assert policy_allows({"Version": "2012-10-17", "Statement": statements}, ARN) is allowed


def test_a_single_statement_object_is_read_as_a_list() -> None:
    assert policy_allows({"Statement": statement("Allow", ARN)}, ARN)


def result(context: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement("Allow", ARN)]},
        "context": context,
        **extra,
    }


def test_an_allowed_context_is_passed_on_as_strings() -> None:
    context = authorizer_context(result({"user": "u", "n": 3, "ratio": 0.5, "admin": True}), ARN, 12)
    assert context == {
        "user": "u",
        "n": "3",
        "ratio": "0.5",
        "admin": "true",
        "principalId": "user-1",
        "integrationLatency": 12,
    }


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (result({"nested": {"a": 1}}), 500),
        (result({"list": [1]}), 500),
        (result("not a map"), 500),
        ({"policyDocument": result()["policyDocument"]}, 500),  # no principalId
        (result({"big": "x" * 9000}), 500),  # over the 8 KB result quota
        ("Allow", 500),
        ({**result(), "policyDocument": {"Statement": [statement("Deny", "*")]}}, 403),
    ],
)
def test_bad_or_denying_results_refuse_the_upgrade(verdict: Any, status: int) -> None:
    with pytest.raises(AuthorizerRefusal) as refused:
        authorizer_context(verdict, ARN, 1)
    assert refused.value.status == status


def test_only_an_unauthorized_error_means_401() -> None:
    assert refusal_for_error(Exception("Unauthorized")).status == 401
    assert refusal_for_error(Exception("unauthorized ")).status == 500
    assert refusal_for_error(KeyError("token")).status == 500


# ------------------------------------------------------------------------------------ frame quota


class Reader:
    """Stands in for aiohttp's WebSocket reader: keeps what it is fed."""

    def __init__(self) -> None:
        self.fed = bytearray()
        self.eof = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def feed_eof(self) -> None:
        self.eof = True


def frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 section 5.2) with the shortest length encoding."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        header = bytes([first, 0x80 | length])
    elif length < 65536:
        header = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def feed_in_pieces(guard: FrameSizeGuard, stream: bytes, seed: int) -> None:
    """Feeds the stream as the network might deliver it: in chunks of random sizes, headers split included."""
    rng = random.Random(seed)
    position = 0
    while position < len(stream):
        size = rng.choice([1, 2, 3, 7, 64, 4096, 70000])
        guard.feed_data(stream[position : position + size])
        position += size


@pytest.mark.parametrize("seed", range(5))
def test_frames_within_the_limit_pass_unchanged(seed: int) -> None:
    stream = (
        frame(0x1, b"x" * 125)
        + frame(0x1, b"y" * 126, fin=False)  # 16-bit length
        + frame(0x0, b"z" * 32768)  # exactly the limit
        + frame(0x9, b"ping")
        + frame(0x1, b"")
    )
    reader, tripped = Reader(), list[int]()
    guard = FrameSizeGuard(reader, 32768, tripped.append)
    feed_in_pieces(guard, stream, seed)
    assert bytes(reader.fed) == stream
    assert tripped == []
    guard.feed_eof()
    assert reader.eof


@pytest.mark.parametrize("seed", range(5))
def test_an_oversized_frame_is_reported_once_and_only_control_frames_follow(seed: int) -> None:
    before = frame(0x1, b"fine")
    oversized = frame(0x1, b"o" * 70000)  # 64-bit length
    after = frame(0x1, b"x" * 40000) + frame(0x1, b"late")  # dropped: the connection is closing
    close = frame(0x8, (1000).to_bytes(2, "big"))
    reader, tripped = Reader(), list[int]()
    guard = FrameSizeGuard(reader, 32768, tripped.append)
    feed_in_pieces(guard, before + oversized + after + close, seed)
    assert tripped == [70000]
    assert bytes(reader.fed) == before + close
