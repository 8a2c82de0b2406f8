"""Durable Object rules that need no AWS: ids, the value codec, alarm retry policy, RPC method selection and the
Lambda transport's answers (botocore's Stubber, no network)."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ttai.bindings.durable import (
    AlarmInfo,
    DurableObject,
    DurableObjectError,
    InvalidId,
    InvalidNamespace,
    LambdaEvents,
    LambdaTransport,
    UnsupportedValue,
    ValueTooLarge,
    codec,
)
from ttai.bindings.durable.alarms import MAX_RETRIES, after_run, retry_delay_ms
from ttai.bindings.durable.host import _is_rpc_method
from ttai.bindings.durable.ids import IdFactory
from ttai.bindings.durable.items import AlarmItem
from ttai.bindings.durable.namespace import DurableObjectNamespace
from ttai.bindings.durable.wire import PAYLOAD_MAX_BYTES

# ----------------------------------------------------------------------------------------------------------- ids


def test_id_from_name_is_deterministic_64_hex_digits_and_scoped_to_its_namespace() -> None:
    alerts, pubsub = IdFactory("PRICE_ALERT"), IdFactory("PUBSUB")
    first, again = alerts.from_name("AAPL"), IdFactory("PRICE_ALERT").from_name("AAPL")
    assert str(first) == str(again)
    assert first == again
    assert first.equals(again)
    assert len(str(first)) == 64
    assert int(str(first), 16) >= 0
    assert str(pubsub.from_name("AAPL")) != str(first)
    assert alerts.from_name("AAPL ") != first
    assert first.name == "AAPL"


def test_id_from_string_refuses_malformed_and_foreign_ids() -> None:
    alerts, pubsub = IdFactory("PRICE_ALERT"), IdFactory("PUBSUB")
    own = alerts.unique()
    assert alerts.from_string(str(own)) == own
    assert alerts.from_string(str(own)).name is None
    flipped = str(own)[:-1] + ("0" if str(own)[-1] != "0" else "1")
    for bad in ("", "abc", str(own).upper(), str(own) + "0", "g" * 64, flipped, 42):
        with pytest.raises(InvalidId):
            alerts.from_string(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidId, match="not an id of namespace PUBSUB"):
        pubsub.from_string(str(own))
    with pytest.raises(InvalidId, match="not the id of the name"):
        alerts.from_string(str(alerts.from_name("a")), name="b")


def test_unique_ids_do_not_collide_and_are_valid_in_their_namespace() -> None:
    ids = IdFactory("PUBSUB")
    made = {str(ids.unique()) for _ in range(20_000)}
    assert len(made) == 20_000
    assert all(ids.from_string(hex_id) for hex_id in list(made)[:100])


def test_namespaces_are_binding_names_and_stubs_refuse_ids_of_other_namespaces() -> None:
    for bad in ("pubsub", "", "A" * 64, "PUB-SUB"):
        with pytest.raises(InvalidNamespace):
            IdFactory(bad)
    alerts = DurableObjectNamespace("PRICE_ALERT", transport=_NoTransport())
    with pytest.raises(InvalidId, match="belongs to namespace PUBSUB"):
        alerts.get(IdFactory("PUBSUB").from_name("x"))
    with pytest.raises(InvalidId):
        alerts.get(str(alerts.id_from_name("x")))  # type: ignore[arg-type]
    stub = alerts.get_by_name("AAPL")
    assert stub.id == alerts.id_from_name("AAPL")
    assert stub.name == "AAPL"


# --------------------------------------------------------------------------------------------------------- codec


class Price(float):
    """A float subclass: it would come back a plain float."""


class Side(IntEnum):
    BUY = 1


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**40),
        1.5,
        -0.0,
        math.inf,
        "",
        "😀",
        b"",
        b"\x00\xff",
        [],
        {},
        {"$b": "looks like a tag"},
        {"$o": {"$f": 1}},
        [{"a": [1, {"b": None}]}],
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_the_codec_round_trips_what_it_accepts(value: Any) -> None:
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_nan_round_trips() -> None:
    assert math.isnan(codec.loads(codec.dumps(float("nan"))))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((1, 2), "tuple.*use a list"),
        ({1, 2}, "set"),
        (bytearray(b"x"), "use bytes"),
        (datetime(2026, 1, 1), "timezone-aware"),  # noqa: DTZ001 - the naive datetime under test
        ({1: "a"}, "keys must be str"),
        (object(), "object cannot be stored"),
        (Price(1.0), "Price cannot"),
        (Side.BUY, "Side cannot"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_the_codec_refuses_what_would_not_come_back_unchanged(value: Any, message: str) -> None:
    with pytest.raises(UnsupportedValue, match=message):
        codec.dumps_bytes(value)


def test_the_codec_refuses_cycles_and_excessive_nesting() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(UnsupportedValue, match="contains itself"):
        codec.dumps(cyclic)
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(UnsupportedValue, match="nested too deeply"):
        codec.dumps(deep)
    shared = [1]
    assert codec.loads(codec.dumps([shared, shared])) == [[1], [1]]  # repeated, not cyclic: fine


# -------------------------------------------------------------------------------------------------------- alarms


def test_retries_back_off_from_two_seconds_doubling_and_stop_after_six() -> None:
    assert [retry_delay_ms(n) for n in range(1, MAX_RETRIES + 1)] == [2000, 4000, 8000, 16000, 32000, 64000]
    alarm = AlarmItem(due_ms=1_000, retries=0, schedule="s")
    assert after_run(alarm, failed=False, now_ms=5_000) == (None, "ran")
    assert after_run(alarm, failed=True, now_ms=5_000) == (AlarmItem(7_000, 1, None), "retrying")
    assert after_run(alarm._replace(retries=5), failed=True, now_ms=0) == (AlarmItem(64_000, 6, None), "retrying")
    assert after_run(alarm._replace(retries=6), failed=True, now_ms=0) == (None, "gave_up")
    assert AlarmInfo(retry_count=2, is_retry=True).retry_count == 2


# ------------------------------------------------------------------------------------------------------ RPC rules


class Base(DurableObject):
    def shared(self) -> int:
        return 1


class Child(Base):
    label = "not a method"

    def own(self) -> int:
        return 2

    def _hidden(self) -> int:
        return 3

    def alarm(self, info: AlarmInfo) -> None:
        return None

    @staticmethod
    def helper() -> int:
        return 4

    @property
    def prop(self) -> int:
        return 5


@pytest.mark.parametrize(
    ("method", "allowed"),
    [
        ("own", True),
        ("shared", True),
        ("_hidden", False),
        ("__init__", False),
        ("alarm", False),
        ("web_socket_message", False),
        ("label", False),
        ("helper", False),
        ("prop", False),
        ("ctx", False),
        ("missing", False),
        ("own()", False),
        (None, False),
    ],
)
def test_rpc_methods_are_the_public_functions_of_the_class(method: Any, allowed: bool) -> None:
    assert _is_rpc_method(Child, method) is allowed


# -------------------------------------------------------------------------------------------------- the transport


class _NoTransport:
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no call expected")


def _lambda() -> Any:
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_the_lambda_transport_invokes_the_host_synchronously_with_the_call_event() -> None:
    client = _lambda()
    namespace = DurableObjectNamespace("PUBSUB", LambdaTransport("ttai-dev-durable", client=client))
    stub = namespace.get_by_name("AAPL")
    expected_event = {
        "kind": "call",
        "namespace": "PUBSUB",
        "id": str(stub.id),
        "name": "AAPL",
        "method": "publish",
        "args": [{"price": 190.5, "raw": {"$b": "AA=="}}],
        "kwargs": {"retain": True},
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(json.dumps({"ok": True, "result": {"$b": "AQ=="}}).encode())},
            {"FunctionName": "ttai-dev-durable", "InvocationType": "RequestResponse", "Payload": _json(expected_event)},
        )
        assert stub.publish({"price": 190.5, "raw": b"\x00"}, retain=True) == b"\x01"
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("stubbed", "flags"),
    [
        ({"error": "TooManyRequestsException"}, ("Overloaded", False, False, True)),
        ({"error": "ServiceException"}, ("Unavailable", False, True, False)),
        ({"function_error": "Unhandled"}, ("InternalError", False, False, False)),
        (
            {"payload": {"ok": False, "error": {"name": "KeyError", "message": "x", "remote": True}}},
            ("KeyError", True, False, False),
        ),
    ],
)
def test_the_lambda_transport_reports_failures_with_cloudflares_flags(
    stubbed: dict[str, Any], flags: tuple[str, bool, bool, bool]
) -> None:
    client = _lambda()
    stub = DurableObjectNamespace("PUBSUB", LambdaTransport("fn", client=client)).get_by_name("x")
    with Stubber(client) as stubber:
        if "error" in stubbed:
            stubber.add_client_error("invoke", service_error_code=stubbed["error"], http_status_code=429)
        else:
            response: dict[str, Any] = {
                "StatusCode": 200,
                "Payload": io.BytesIO(json.dumps(stubbed.get("payload", {})).encode()),
            }
            if "function_error" in stubbed:
                response["FunctionError"] = stubbed["function_error"]
            stubber.add_response("invoke", response)
        with pytest.raises(DurableObjectError) as raised:
            stub.ping()
    error = raised.value
    assert (error.name, error.remote, error.retryable, error.overloaded) == flags


def test_a_call_larger_than_a_lambda_payload_is_refused_before_sending() -> None:
    stub = DurableObjectNamespace("PUBSUB", LambdaTransport("fn", client=_lambda())).get_by_name("x")
    with pytest.raises(Exception, match="6291456 bytes"):
        stub.publish("x" * PAYLOAD_MAX_BYTES)


def _json(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def test_lambda_events_hand_an_event_on_without_waiting_and_refuse_one_lambda_would() -> None:
    client = _lambda()
    events = LambdaEvents("ttai-dev-realtime", client=client)
    event = {"kind": "quotes", "quotes": [{"symbol": "AAPL", "last": 190.5}]}
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": "ttai-dev-realtime", "InvocationType": "Event", "Payload": _json(event)},
        )
        events(event)
        stubber.assert_no_pending_responses()
        with pytest.raises(ValueTooLarge, match="asynchronous"):
            events({"kind": "quotes", "padding": "x" * LambdaEvents.MAX_PAYLOAD_BYTES})
