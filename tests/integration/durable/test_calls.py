"""Calling objects: stubs, errors with Cloudflare's flags, one call at a time per object, fresh instances per call,
and what each call costs in DynamoDB requests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.aws_calls import CallCounter
from tests.conftest import Clock
from tests.integration.durable import objects
from ttai.bindings.durable import DurableObjectError, DurableObjectNamespace
from ttai.bindings.durable.host import DurableObjectHost
from ttai.bindings.durable.items import DurableTable


def test_a_stub_calls_the_objects_method_and_carries_its_id_and_name(
    counters: DurableObjectNamespace, name: str
) -> None:
    stub = counters.get_by_name(name)
    assert stub.add(5) == 5
    assert stub.add(2) == 7
    assert stub.id == counters.id_from_name(name)
    assert stub.name == name
    assert stub.whoami() == {"id": str(stub.id), "name": name, "env": {"binding": "env"}}
    # The same object by its id string (no name then), and a unique id is a different, empty object.
    by_string = counters.get(counters.id_from_string(str(stub.id)))
    assert by_string.total() == 7
    assert by_string.name is None
    assert by_string.whoami()["name"] is None
    assert counters.get(counters.new_unique_id()).total() == 0


def test_an_exception_in_the_object_reaches_the_caller_as_remote_and_earlier_writes_stay(
    counters: DurableObjectNamespace, name: str
) -> None:
    stub = counters.get_by_name(name)
    with pytest.raises(DurableObjectError) as raised:
        stub.fail_after_write("no such symbol")
    error = raised.value
    assert (error.name, error.message) == ("ValueError", "no such symbol")
    assert (error.remote, error.retryable, error.overloaded) == (True, False, False)
    # As on Cloudflare, a write made before the exception is stored: the object raised, storage did not fail.
    assert stub.stored("written before the error") is True


def test_methods_that_are_not_rpc_methods_are_refused_before_any_aws_call(
    counters: DurableObjectNamespace, host: DurableObjectHost, name: str, calls: CallCounter
) -> None:
    stub = counters.get_by_name(name)
    for method in ("missing", "alarm", "__init__"):
        event = {"kind": "call", "namespace": "COUNTER", "id": str(stub.id), "name": name, "method": method}
        answer = host.handle({**event, "args": [], "kwargs": {}})
        assert answer["ok"] is False, method
        assert (answer["error"]["name"], answer["error"]["remote"]) == ("TypeError", False), method
    with pytest.raises(AttributeError):
        stub._private()
    assert calls.total == 0


def test_an_id_of_another_namespace_or_a_name_that_does_not_match_is_refused_by_the_host(
    counters: DurableObjectNamespace, stores: DurableObjectNamespace, host: DurableObjectHost, calls: CallCounter
) -> None:
    foreign = str(stores.id_from_name("x"))
    call = {"kind": "call", "namespace": "COUNTER", "method": "ping", "args": [], "kwargs": {}}
    assert host.handle({**call, "id": foreign, "name": None})["error"]["name"] == "InvalidId"
    # A name travels with its id; one that did not make the id is a forgery, not the object of that name.
    assert host.handle({**call, "id": str(counters.id_from_name("a")), "name": "b"})["error"]["name"] == "InvalidId"
    assert host.handle({**call, "namespace": "NOPE", "id": foreign})["error"]["name"] == "InvalidNamespace"
    assert calls.total == 0


def test_arguments_and_results_cross_as_values_the_codec_keeps(counters: DurableObjectNamespace, name: str) -> None:
    stub = counters.get_by_name(name)
    stub.remember({"$weird": [b"\x00\xff", float("inf")], "n": 10**30})
    assert stub.recall()["stored"] == {"$weird": [b"\x00\xff", float("inf")], "n": 10**30}
    with pytest.raises(Exception, match="tuple cannot be stored"):
        stub.remember((1, 2))  # refused by the caller's side, before the call is sent
    with pytest.raises(DurableObjectError) as raised:
        stub.unsendable()
    assert raised.value.name == "DataCloneError"
    assert not raised.value.remote


def test_fields_do_not_survive_between_calls_but_storage_does(counters: DurableObjectNamespace, name: str) -> None:
    stub = counters.get_by_name(name)
    before = objects.Counter.constructed
    stub.remember("hello")
    assert stub.recall() == {"field": None, "stored": "hello"}  # a new instance: the field is back to its default
    assert objects.Counter.constructed == before + 2  # one construction per call, as after every hibernation


@pytest.mark.slow  # about 8 s: 100 threads poll one lease on an emulator that shares their CPU
def test_a_hundred_concurrent_calls_on_one_object_run_one_at_a_time(
    host: DurableObjectHost, durable_table: DurableTable, name: str
) -> None:
    # Waiting callers may wait as long as it takes here: this test is about order, not about overload.
    patient = DurableObjectHost(host.classes, table=durable_table, dynamodb=host.dynamodb, wait_seconds=300)
    stub = patient.namespace("COUNTER").get_by_name(name)
    with ThreadPoolExecutor(max_workers=100) as pool:
        totals = list(pool.map(lambda _: stub.add(1), range(100)))
    # Every read-modify-write saw the previous one's result: no lost update, each total seen exactly once.
    assert sorted(totals) == list(range(1, 101))
    assert stub.total() == 100


def test_calls_to_different_objects_run_in_parallel(counters: DurableObjectNamespace) -> None:
    # Both calls wait for each other inside the objects: they can only both return if they run at the same time.
    objects.rendezvous = threading.Barrier(2)
    try:
        stubs = [counters.get_by_name(f"parallel-{n}-{id(objects.rendezvous)}") for n in range(2)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            arrivals = sorted(pool.map(lambda stub: stub.meet(), stubs))
    finally:
        objects.rendezvous = None
    assert arrivals == [0, 1]


def test_a_busy_object_answers_overloaded_when_its_callers_wait_too_long(
    host: DurableObjectHost, durable_table: DurableTable, name: str
) -> None:
    impatient = DurableObjectHost(host.classes, table=durable_table, dynamodb=host.dynamodb, wait_seconds=0.2)
    objects.release = threading.Event()
    try:
        stub = host.namespace("COUNTER").get_by_name(name)
        with ThreadPoolExecutor(max_workers=1) as pool:
            holding = pool.submit(stub.hold, "first")
            while not _lease_held(host, stub.id):
                threading.Event().wait(0.01)
            with pytest.raises(DurableObjectError) as raised:
                impatient.namespace("COUNTER").get_by_name(name).ping()
            objects.release.set()
            assert holding.result(timeout=10) == "first"
    finally:
        objects.release = None
    assert (raised.value.overloaded, raised.value.retryable, raised.value.remote) == (True, False, False)


def test_a_call_that_outlives_its_lease_is_fenced_out_and_stores_nothing(
    host: DurableObjectHost, durable_table: DurableTable, name: str, clock: Clock
) -> None:
    objects.release = threading.Event()
    try:
        stub = host.namespace("COUNTER").get_by_name(name)
        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = pool.submit(stub.hold, "too late")
            while not _lease_held(host, stub.id):
                threading.Event().wait(0.01)
            clock.travel(host.leases.lease_ms / 1000 + 1)  # the slow call's lease has expired
            assert stub.add(1) == 1  # another invocation takes the object over
            objects.release.set()
            with pytest.raises(DurableObjectError) as raised:
                slow.result(timeout=10)
    finally:
        objects.release = None
    assert (raised.value.name, raised.value.retryable, raised.value.remote) == ("LeaseLost", True, False)
    assert stub.stored("held") is None
    assert stub.total() == 1


def test_each_call_costs_the_lease_plus_its_own_storage_requests(
    counters: DurableObjectNamespace, name: str, calls: CallCounter
) -> None:
    stub = counters.get_by_name(name)
    expected = {
        # acquire (UpdateItem) and release (UpdateItem): a call that touches no storage
        "ping": {"UpdateItem": 2},
        # acquire, one consistent read, and the write committed together with the release
        "add": {"UpdateItem": 1, "GetItem": 1, "TransactWriteItems": 1},
        # a read-only call releases with a plain UpdateItem
        "total": {"UpdateItem": 2, "GetItem": 1},
    }
    for method, operations in expected.items():
        calls.calls.clear()
        getattr(stub, method)(*([1] if method == "add" else []))
        assert calls.by_operation() == operations, method


def _lease_held(host: DurableObjectHost, id: object) -> bool:
    item = host.dynamodb.get_item(
        TableName=host.table.name,
        Key=host.table.key(host.table.partition("COUNTER", str(id)), "#lease"),
        ConsistentRead=True,
    ).get("Item", {})
    return "owner" in item
