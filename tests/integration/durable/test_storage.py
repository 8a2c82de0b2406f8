"""ctx.storage against Cloudflare's KV-backed storage API: reads, writes, list order and options, limits,
transactions and delete_all, on DynamoDB (moto), driven through stubs."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from local.aws_calls import CallCounter
from ttai.bindings.durable import DurableObjectError, DurableObjectNamespace, DurableObjectStub


@pytest.fixture
def store(stores: DurableObjectNamespace, name: str) -> DurableObjectStub:
    return stores.get_by_name(name)


def _error(call: Any, *args: Any, **kwargs: Any) -> DurableObjectError:
    with pytest.raises(DurableObjectError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_a_missing_key_is_none_and_a_bulk_get_leaves_it_out_in_key_order(store: DurableObjectStub) -> None:
    assert store.get("nope") is None
    store.put({"b": 2, "a": 1, "é": 3})
    assert store.get(["é", "nope", "b", "a"]) == {"a": 1, "b": 2, "é": 3}
    assert list(store.get(["é", "b", "a"])) == ["a", "b", "é"]


def test_every_value_type_the_codec_carries_round_trips(store: DurableObjectStub) -> None:
    when = datetime(2026, 3, 9, 13, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-4)))
    values = {
        "none": None,
        "bool": False,
        "int": -(2**70),
        "float": 0.1,
        "negative zero": -0.0,
        "infinity": float("-inf"),
        "text": "naïve ☃ 😀",
        "bytes": bytes(range(256)),
        "datetime": when,
        "nested": {"$t": [1, {"$b": "not a tag"}], "list": [[], {}, ""]},
    }
    store.put(values)
    back = store.get(list(values))
    assert back == values
    assert math.copysign(1, back["negative zero"]) == -1
    assert back["datetime"].utcoffset() == timedelta(hours=-4)
    store.put("nan", float("nan"))
    assert math.isnan(store.get("nan"))


def test_a_value_the_codec_cannot_keep_is_refused_and_nothing_is_written(
    store: DurableObjectStub, calls: CallCounter
) -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the value under test
    for value, kind in (({1, 2}, "set"), (naive, "timezone-aware"), ({1: "x"}, "keys must be str")):
        calls.calls.clear()
        with pytest.raises(Exception, match=kind):
            store.put("k", value)  # the stub's encoding refuses it before the call is sent
        assert calls.total == 0


def test_delete_answers_whether_the_key_existed_and_a_list_counts(store: DurableObjectStub) -> None:
    store.put({"a": 1, "b": 2, "c": 3})
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.delete(["b", "c", "missing", "b"]) == 2
    assert store.keys() == []


def test_a_call_reads_its_own_writes_and_deletes(store: DurableObjectStub) -> None:
    store.put("a", 1)
    seen = store.write_then_read()
    assert seen == {"deleted": True, "a": None, "list": {"b": 2, "c": 3}, "c": 3}
    assert store.entries() == {"b": 2, "c": 3}


# UTF-8 byte order. JavaScript's string order (UTF-16 code units) would put the emoji before U+FFFF.
KEYS_IN_UTF8_ORDER = ["", "A", "B", "a", "ab", "abc", "b", "z", "é", "\u0100", "\uffff", "😀"]


def test_list_is_in_utf8_byte_order(store: DurableObjectStub) -> None:
    store.put({key: n for n, key in enumerate(reversed(KEYS_IN_UTF8_ORDER))})
    assert store.keys() == KEYS_IN_UTF8_ORDER
    assert store.keys(reverse=True) == list(reversed(KEYS_IN_UTF8_ORDER))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"start": "ab"}, ["ab", "abc", "b", "z", "é", "\u0100", "\uffff", "😀"]),
        ({"start_after": "ab"}, ["abc", "b", "z", "é", "\u0100", "\uffff", "😀"]),
        ({"end": "a"}, ["", "A", "B"]),
        ({"start": "a", "end": "b"}, ["a", "ab", "abc"]),
        ({"prefix": "ab"}, ["ab", "abc"]),
        ({"prefix": "a", "start_after": "a"}, ["ab", "abc"]),
        ({"prefix": "a", "end": "abc"}, ["a", "ab"]),
        ({"limit": 2}, ["", "A"]),
        ({"reverse": True, "limit": 3}, ["😀", "\uffff", "\u0100"]),
        ({"reverse": True, "start": "b", "end": "é"}, ["z", "b"]),  # bounds keep their meaning when reversed
        ({"prefix": "a", "reverse": True, "limit": 2}, ["abc", "ab"]),
        ({"start": "z", "end": "b"}, []),
        ({"start": "x" * 2000}, ["z", "é", "\u0100", "\uffff", "😀"]),  # bounds may be longer than any key
        ({"end": "a" + "\U0010ffff" * 600}, ["", "A", "B", "a", "ab", "abc"]),
    ],
)
def test_list_options_select_as_cloudflare_documents(
    store: DurableObjectStub, options: dict[str, Any], expected: list[str]
) -> None:
    store.put(dict.fromkeys(KEYS_IN_UTF8_ORDER, 0))
    assert store.keys(**options) == expected


def test_list_takes_worker_style_options_and_refuses_conflicting_ones(
    store: DurableObjectStub, calls: CallCounter
) -> None:
    store.put(dict.fromkeys(KEYS_IN_UTF8_ORDER, 0))
    assert store.keys({"startAfter": "b", "limit": 2}) == ["z", "é"]
    calls.calls.clear()
    for options, message in (
        ({"start": "a", "startAfter": "a"}, "start or start_after"),
        ({"limit": 0}, "positive integer"),
        ({"cursor": "x"}, "unknown list option"),
    ):
        error = _error(store.keys, options)
        assert error.name == "InvalidListOptions"
        assert message in error.message
        assert error.remote
    assert set(calls.by_operation()) == {"UpdateItem"}  # the lease only: refused before any storage request


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"limit": 4}, ["k0", "k15", "k4", "k5"]),
        ({"limit": 3, "reverse": True}, ["k9", "k8", "k7"]),
        ({"start_after": "k0", "limit": 2}, ["k15", "k4"]),
        ({"prefix": "k1"}, ["k15"]),
    ],
)
def test_list_merges_the_calls_staged_writes_in_order_within_the_limit(
    store: DurableObjectStub, options: dict[str, Any], expected: list[str]
) -> None:
    store.put({f"k{n}": n for n in range(10)})
    # In one call: delete k1..k3, add k15, then list. Staged deletes must not shorten the page.
    assert store.staged_list(["k1", "k2", "k3"], {"k15": 15}, **options) == expected


def test_limits_are_refused_before_any_storage_request(store: DurableObjectStub, calls: CallCounter) -> None:
    too_many = [f"k{n}" for n in range(129)]
    cases = [
        (store.get, (too_many,), "TooManyKeys"),
        (store.delete, (too_many,), "TooManyKeys"),
        (store.put, (dict.fromkeys(too_many, 1),), "TooManyKeys"),
        (store.put, ("k" * 1024, 1), "KeyTooLong"),
        (store.get, ("é" * 512,), "KeyTooLong"),
        (store.put, ("k", b"x" * (128 * 1024 + 1)), "ValueTooLarge"),
        (store.put, ("k", "x" * (128 * 1024 - 1)), "ValueTooLarge"),  # with its quotes the JSON is 2 bytes longer
        (store.put, ({"ok": 1, "k" * 1024: 2},), "KeyTooLong"),
    ]
    for call, args, name in cases:
        calls.calls.clear()
        error = _error(call, *args)
        assert (error.name, error.remote) == (name, True), args[0] if isinstance(args[0], str) else name
        assert calls.by_operation() == {"UpdateItem": 2}, name  # acquire and release, nothing else
    assert store.get("ok") is None


def test_the_largest_key_and_value_fit(store: DurableObjectStub) -> None:
    key = "k" * 1023
    store.put(key, b"x" * (128 * 1024))
    store.put("text", "x" * (128 * 1024 - 2))
    assert store.get(key) == b"x" * (128 * 1024)
    assert len(store.get("text")) == 128 * 1024 - 2
    assert store.keys(start="k") == [key, "text"]


def test_writes_beyond_one_dynamodb_transaction_are_committed_in_several(
    store: DurableObjectStub, calls: CallCounter
) -> None:
    store.put_one_by_one(200)
    assert calls.by_operation()["TransactWriteItems"] == 3  # 99 + 99 + 2, the last with the lease's release
    assert len(store.keys(prefix="many:")) == 200


def test_a_transaction_that_raises_is_rolled_back_and_earlier_writes_stay(store: DurableObjectStub) -> None:
    store.put({"a": 100, "b": 0})
    store.transfer(30, False)
    assert store.get(["a", "b", "before"]) == {"a": 70, "b": 30, "before": "kept"}
    store.delete("before")
    error = _error(store.transfer, 50, True)
    assert (error.name, error.remote) == ("RuntimeError", True)
    assert store.get(["a", "b", "before"]) == {"a": 70, "b": 30, "before": "kept"}


def test_rollback_discards_the_transaction_and_closes_its_txn(store: DurableObjectStub) -> None:
    store.put("a", "stored")
    assert store.rolled_back() == {
        "inside": "in txn",
        "after rollback": "InvalidTransaction",
        "result": "returned",
        "after": "stored",
    }
    assert store.get("a") == "stored"


def test_transactions_do_not_nest_and_must_fit_one_dynamodb_transaction(store: DurableObjectStub) -> None:
    assert _error(store.nested).name == "InvalidTransaction"
    store.big_transaction(99)
    assert len(store.keys(prefix="txn:")) == 99
    store.delete_all()
    error = _error(store.big_transaction, 100)
    assert error.name == "TransactionTooLarge"
    assert "DynamoDB" in error.message
    assert store.keys(prefix="txn:") == []


def test_delete_all_empties_storage_and_deletes_the_alarm(store: DurableObjectStub) -> None:
    store.put({f"k{n}": n for n in range(120)})
    store.set_alarm((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1000)
    store.delete_all()
    assert store.keys() == []
    assert store.get_alarm() is None


def test_the_websocket_api_says_it_is_not_wired_yet(store: DurableObjectStub) -> None:
    error = _error(store.accept)
    assert error.name == "WebSocketsUnavailable"
    assert "WebSocket gateway" in error.message
