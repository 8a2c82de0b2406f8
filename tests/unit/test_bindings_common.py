"""What the bindings share (``ttai.bindings.common``): key rules, list cursors, AWS failures as Unavailable, and
every binding's errors belonging to the shared kinds."""

from __future__ import annotations

import base64
import json
from typing import Any, NoReturn

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber

from ttai.bindings import common, d1, kv, queues, r2
from ttai.bindings.common import (
    InvalidKey,
    InvalidListOptions,
    KeyRules,
    KeyTooLong,
    ListCursors,
    error_code,
    http_status,
    reports_unavailable,
    retry_unprocessed,
    successor,
    unavailable,
)
from ttai.bindings.durable import errors as durable_errors
from ttai.errors import BindingError, Throttled, Unavailable

RULES = KeyRules(8, reserved=("", "."))
CURSORS = ListCursors("bucket", position="t", options={"p": "prefix", "d": "delimiter"})


def client_error(code: str, status: int = 400, operation: str = "GetItem") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "AWS says"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# ------------------------------------------------------------------ keys


@pytest.mark.parametrize("key", ["a", "12345678", "é" * 4, "..", "a.b"])
def test_keys_within_the_byte_limit_and_not_reserved_pass(key: str) -> None:
    RULES.check_key(key)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("123456789", KeyTooLong),
        ("é" * 5, KeyTooLong),
        ("", InvalidKey),
        (".", InvalidKey),
        (None, InvalidKey),
        (b"a", InvalidKey),
        ("a\udc00", InvalidKey),
    ],
)
def test_keys_over_the_limit_reserved_not_text_or_without_utf8_are_refused(key: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        RULES.check_key(key)


def test_a_prefix_may_be_empty_but_not_longer_than_a_key() -> None:
    RULES.check_prefix("")
    with pytest.raises(KeyTooLong, match="the list prefix is 9 bytes"):
        RULES.check_prefix("x" * 9, "list prefix")


def test_the_reserved_names_are_listed_in_the_message() -> None:
    with pytest.raises(InvalidKey, match=r"a key cannot be empty or '\.'"):
        RULES.check_key(".")


def test_key_rules_raise_the_bindings_own_classes() -> None:
    with pytest.raises(kv.KeyTooLong):
        kv.KEY_RULES.check_key("k" * 513)
    with pytest.raises(r2.InvalidKey):
        r2.KEY_RULES.check_key("")


@pytest.mark.parametrize(
    ("prefix", "successor"),
    [
        ("a", "b"),
        ("user:", "user;"),
        ("az", "a{"),
        ("a\U0010ffff", "b"),  # the last character cannot grow: carry into the one before
        ("\ud7ff", "\ue000"),  # surrogates are not characters: skip them
        ("é", "ê"),
        ("\U0001f600", "\U0001f601"),
    ],
)
def test_successor_is_the_smallest_string_after_everything_with_the_prefix(prefix: str, successor: str) -> None:
    assert common.successor(prefix) == successor
    for inside in (prefix, prefix + "\x00", prefix + "\U0010ffff" * 10, prefix + "zzz"):
        assert inside.encode() < successor.encode()
    assert not successor.startswith(prefix)


def test_a_prefix_of_only_the_last_code_point_has_no_successor() -> None:
    assert successor("\U0010ffff\U0010ffff") is None


# --------------------------------------------------------------- cursors


def test_a_cursor_round_trips_for_the_options_it_was_issued_for() -> None:
    cursor = CURSORS.encode("token/é", p="a/", d=None)
    assert cursor.isascii()
    assert "=" not in cursor
    assert CURSORS.decode(cursor, p="a/", d=None) == "token/é"


def test_a_cursor_for_other_options_names_them() -> None:
    cursor = CURSORS.encode("t", p="a/", d=None)
    with pytest.raises(InvalidListOptions, match="different prefix or delimiter"):
        CURSORS.decode(cursor, p="b/", d=None)


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!",
        "é",
        _b64(["t"]),
        _b64({"t": 1, "p": None, "d": None}),
        _b64({"p": None, "d": None}),
        _b64({"t": "x", "p": None}),
        _b64({"t": "\ud800", "p": None, "d": None}),
    ],
)
def test_a_cursor_the_binding_did_not_issue_is_refused_saying_which(cursor: str) -> None:
    with pytest.raises(InvalidListOptions, match="not one this bucket issued"):
        CURSORS.decode(cursor, p=None, d=None)


def test_cursor_errors_are_the_bindings_own_class() -> None:
    with pytest.raises(kv.InvalidListOptions):
        kv.LIST_CURSORS.decode("garbage", p=None)


# ------------------------------------------------------------ AWS errors


def test_error_code_and_status_come_from_a_client_error_and_are_empty_for_anything_else() -> None:
    exc = client_error("NoSuchKey", 404)
    assert (error_code(exc), http_status(exc)) == ("NoSuchKey", 404)
    assert (error_code(ValueError("x")), http_status(ValueError("x"))) == ("", 0)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("SlowDown", 503),
        client_error("ThrottlingException"),
        client_error("Whatever", 429),
    ],
)
def test_throttling_is_throttled(exc: Exception) -> None:
    found = unavailable(exc, "the cache")
    assert isinstance(found, Throttled)
    assert found.dependency == "the cache"
    assert found.retry_after >= 1


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ServiceUnavailable", 503),
        client_error("InternalServerError", 500),
        client_error("Odd", 502),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
    ],
)
def test_a_failing_service_or_an_unreachable_endpoint_is_unavailable_not_throttled(exc: Exception) -> None:
    found = unavailable(exc, "object storage")
    assert isinstance(found, Unavailable)
    assert not isinstance(found, Throttled)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ConditionalCheckFailedException"),
        client_error("AccessDenied", 403),
        client_error("ResourceNotFoundException", 404),
        client_error("LimitExceededException"),
        NoCredentialsError(),
        ValueError("not AWS"),
    ],
)
def test_everything_else_is_left_to_the_binding(exc: Exception) -> None:
    assert unavailable(exc, "the cache") is None


class Flaky:
    def __init__(self, error: Exception) -> None:
        self.error = error

    @reports_unavailable("the queue")
    def send(self) -> NoReturn:
        raise self.error


def test_the_decorator_raises_unavailable_from_the_aws_error_and_lets_the_rest_rise() -> None:
    throttle = client_error("ThrottlingException")
    with pytest.raises(Throttled) as raised:
        Flaky(throttle).send()
    assert raised.value.__cause__ is throttle
    refused = client_error("AccessDenied", 403)
    with pytest.raises(ClientError) as left:
        Flaky(refused).send()
    assert left.value is refused
    with pytest.raises(KeyError):
        Flaky(KeyError("k")).send()


def test_unprocessed_work_is_sent_again_with_backoff_until_done() -> None:
    sent: list[dict[str, Any]] = []
    answers = iter([{"UnprocessedKeys": {"t": ["b"]}, "n": 1}, {"UnprocessedKeys": {}, "n": 2}])
    pauses: list[float] = []

    def send(request: dict[str, Any]) -> dict[str, Any]:
        sent.append(request)
        return next(answers)

    responses = list(
        retry_unprocessed(send, {"t": ["a", "b"]}, leftover="UnprocessedKeys", dependency="x", sleep=pauses.append)
    )
    assert [r["n"] for r in responses] == [1, 2]
    assert sent == [{"t": ["a", "b"]}, {"t": ["b"]}]
    assert pauses == [0.05]


def test_work_still_unprocessed_after_the_retries_is_throttled() -> None:
    pauses: list[float] = []
    responses = retry_unprocessed(
        lambda request: {"UnprocessedItems": request},
        {"t": [1]},
        leftover="UnprocessedItems",
        dependency="the cache",
        attempts=4,
        sleep=pauses.append,
    )
    with pytest.raises(Throttled, match="3 retries"):
        list(responses)
    assert pauses == [0.05, 0.1, 0.2]


def _dynamodb() -> Any:
    return boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1").client(
        "dynamodb", config=Config(retries={"total_max_attempts": 1})
    )


def test_a_throttled_kv_read_raises_throttled_naming_the_store() -> None:
    dynamodb = _dynamodb()
    namespace = kv.KVNamespace("kv-table", dynamodb=dynamodb)
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(Throttled) as raised:
            namespace.get("quote:AAPL")
        stubber.assert_no_pending_responses()
    assert raised.value.dependency == kv.DEPENDENCY


def test_a_kv_write_to_an_unreachable_endpoint_is_unavailable() -> None:
    class Unreachable:
        def put_item(self, **_: Any) -> NoReturn:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    with pytest.raises(Unavailable):
        kv.KVNamespace("kv-table", dynamodb=Unreachable()).put("k", "v")


class Refusing:
    """A boto3 client stand-in whose every call fails with ``error`` (as botocore raises it after its retries)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> NoReturn:
            raise self.error

        return call


BINDING_CALLS: dict[str, Any] = {
    "kv get": lambda client: kv.KVNamespace("t", dynamodb=client).get("k"),
    "r2 head": lambda client: r2.R2Bucket("b", s3=client).head("k"),
    "r2 put": lambda client: r2.R2Bucket("b", s3=client).put("k", b"v"),
    "queue send": lambda client: queues.Queue("https://sqs/q", sqs=client).send({"n": 1}),
    "d1 all": lambda client: d1.D1Database("arn:c", "arn:s", "db", client=client).prepare("SELECT 1").all(),
}


@pytest.mark.parametrize("call", BINDING_CALLS.values(), ids=BINDING_CALLS.keys())
def test_every_binding_reports_aws_throttling_as_throttled(call: Any) -> None:
    with pytest.raises(Throttled):
        call(Refusing(client_error("ThrottlingException")))


@pytest.mark.parametrize("call", BINDING_CALLS.values(), ids=BINDING_CALLS.keys())
def test_every_binding_reports_an_unreachable_endpoint_as_unavailable(call: Any) -> None:
    with pytest.raises(Unavailable):
        call(Refusing(EndpointConnectionError(endpoint_url="https://aws.example")))


@pytest.mark.parametrize("call", BINDING_CALLS.values(), ids=BINDING_CALLS.keys())
def test_an_aws_refusal_of_our_request_stays_what_it_was(call: Any) -> None:
    with pytest.raises((ClientError, d1.D1Error)) as raised:  # D1 gives every Data API refusal as a D1Error
        call(Refusing(client_error("AccessDeniedException", 403)))
    assert not isinstance(raised.value, Unavailable)


# ------------------------------------------------------- one hierarchy


@pytest.mark.parametrize(
    ("binding_class", "kind"),
    [
        (kv.InvalidKey, common.InvalidKey),
        (kv.KeyTooLong, common.KeyTooLong),
        (kv.ValueTooLarge, common.ValueTooLarge),
        (kv.MetadataTooLarge, common.MetadataTooLarge),
        (kv.InvalidMetadata, common.InvalidMetadata),
        (kv.InvalidListOptions, common.InvalidListOptions),
        (kv.TooManyKeys, common.TooManyKeys),
        (kv.UnsupportedValueType, common.UnsupportedValue),
        (r2.InvalidKey, common.InvalidKey),
        (r2.KeyTooLong, common.KeyTooLong),
        (r2.MetadataTooLarge, common.MetadataTooLarge),
        (r2.InvalidListOptions, common.InvalidListOptions),
        (r2.UnknownListCursor, common.InvalidListOptions),
        (r2.TooManyKeys, common.TooManyKeys),
        (r2.ValueTooLarge, common.ValueTooLarge),
        (r2.UnsupportedValue, common.UnsupportedValue),
        (durable_errors.InvalidKey, common.InvalidKey),
        (durable_errors.KeyTooLong, common.KeyTooLong),
        (durable_errors.TooManyKeys, common.TooManyKeys),
        (durable_errors.ValueTooLarge, common.ValueTooLarge),
        (durable_errors.InvalidListOptions, common.InvalidListOptions),
        (queues.MessageTooLarge, common.ValueTooLarge),
    ],
)
def test_each_bindings_error_is_a_shared_kind_and_still_its_bindings_own(
    binding_class: type[Exception], kind: type[Exception]
) -> None:
    assert issubclass(binding_class, kind)
    assert issubclass(kind, BindingError)
