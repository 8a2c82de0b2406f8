"""KVNamespace (moto) called as Worker code calls KV: option mappings in either casing, and ``cacheTtl`` as a read
cache per container that a second container's writes reach only once the entry's time is up."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.bindings.kv import InvalidCacheTtl, InvalidOption, KVNamespace, KVValueWithMetadata
from ttai.bindings.kv_cache import KVReadCache


@pytest.fixture
def other_container(stack: LocalStack) -> KVNamespace:
    """The same namespace as another container sees it: its own client and its own read cache."""
    return KVNamespace(
        stack.environ["TTAI_KV_TABLE"], dynamodb=stack.client("dynamodb"), read_cache=KVReadCache(emit=False)
    )


def test_cache_ttl_answers_from_this_containers_read_until_it_has_passed(
    kv: KVNamespace, other_container: KVNamespace, key_prefix: str, clock: Clock, aws_calls: CallCounter
) -> None:
    key = f"{key_prefix}quote"
    kv.put(key, "v1")
    assert kv.get(key, cache_ttl=60) == "v1"
    other_container.put(key, "v2")

    with CallCounter(kv._ddb) as calls:
        assert kv.get(key, {"cacheTtl": 60}) == "v1"  # the Worker's options object
        assert kv.get(key, "text", {"cache_ttl": 60}) == "v1"
        assert kv.get(key, cacheTtl=60) == "v1"  # as Python Workers pass it
    assert calls.total == 0
    assert kv.get(key) == "v2"  # a read without cache_ttl always goes to DynamoDB

    clock.travel(59)
    assert kv.get(key, cache_ttl=60) == "v1"
    clock.travel(1)
    with CallCounter(kv._ddb) as calls:
        assert kv.get(key, cache_ttl=60) == "v2"
    assert calls.by_operation() == {"GetItem": 1}


def test_this_containers_own_writes_and_deletes_are_read_back_at_once(
    kv: KVNamespace, other_container: KVNamespace, key_prefix: str, clock: Clock
) -> None:
    key = f"{key_prefix}session"
    assert kv.get(key, cache_ttl=300) is None
    other_container.put(key, "theirs")
    assert kv.get(key, cache_ttl=300) is None  # a key read as missing is cached as missing

    kv.put(key, "mine", {"expirationTtl": 600})
    assert kv.get(key, cache_ttl=300) == "mine"
    kv.delete(key)
    assert kv.get(key, cache_ttl=300) is None
    kv.put_many({key: "many"})
    assert kv.get(key, cache_ttl=300) == "many"
    assert other_container.get(key) == "many"


def test_a_cached_value_is_never_served_past_the_keys_expiration(
    kv: KVNamespace, key_prefix: str, clock: Clock
) -> None:
    key = f"{key_prefix}brief"
    kv.put(key, "brief", expiration_ttl=90)
    assert kv.get(key, cache_ttl=3600) == "brief"
    clock.travel(89)
    with CallCounter(kv._ddb) as calls:
        assert kv.get(key, cache_ttl=3600) == "brief"
    assert calls.total == 0
    clock.travel(1)
    assert kv.get(key, cache_ttl=3600) is None


def test_json_metadata_and_bulk_reads_through_the_cache(kv: KVNamespace, key_prefix: str, clock: Clock) -> None:
    a, b, missing = (f"{key_prefix}{name}" for name in ("a", "b", "missing"))
    kv.put(a, '{"n": 1}', {"metadata": {"source": "import"}})
    kv.put(b, b"\x00\xff", metadata={"kind": "blob"})
    cache = kv.read_cache
    hits, misses = cache.hits, cache.misses

    first = kv.get_with_metadata(a, {"type": "json", "cacheTtl": 120})
    assert first == KVValueWithMetadata({"n": 1}, {"source": "import"})
    assert kv.get(b, "arrayBuffer", cacheTtl=120) == b"\x00\xff"
    with CallCounter(kv._ddb) as calls:
        assert kv.get_with_metadata(a, "json", cache_ttl=120) == first
        assert kv.get([a, missing], {"type": "json", "cacheTtl": 120}) == {a: {"n": 1}, missing: None}
    assert calls.by_operation() == {"BatchGetItem": 1}  # only the key not read yet
    assert kv.get([a, missing], type="json", cache_ttl=120) == {a: {"n": 1}, missing: None}
    assert (cache.hits - hits, cache.misses - misses) == (4, 3)


def test_worker_options_for_put_and_list(kv: KVNamespace, key_prefix: str, clock: Clock) -> None:
    kv.put(f"{key_prefix}1", "one", {"expiration": int(clock.now) + 3600, "metadata": {"n": 1}})
    kv.put(f"{key_prefix}2", "two", expirationTtl=120)
    page = kv.list({"prefix": key_prefix, "limit": 1})
    assert [k.name for k in page.keys] == [f"{key_prefix}1"]
    assert page.keys[0].metadata == {"n": 1}
    rest = kv.list(prefix=key_prefix, cursor=page.cursor)
    assert [(k.name, k.expiration) for k in rest.keys] == [(f"{key_prefix}2", int(clock.now) + 120)]


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda kv, k: kv.get(k, cache_ttl=59), InvalidCacheTtl, "minimum is 60 seconds"),
        (lambda kv, k: kv.get(k, {"cacheTtl": "60"}), InvalidCacheTtl, "finite number"),
        (lambda kv, k: kv.get(k, {"cacheTTL": 60}), InvalidOption, "unknown option 'cacheTTL'"),
        (lambda kv, k: kv.get(k, "json", {"type": "text"}), InvalidOption, "given twice"),
        (lambda kv, k: kv.get_with_metadata(k, {"cacheTtl": 60, "ttl": 1}), InvalidOption, "'ttl'"),
        (lambda kv, k: kv.put(k, "v", {"ttl": 60}), InvalidOption, "unknown option 'ttl'"),
        (lambda kv, k: kv.put(k, "v", {"expirationTtl": 60}, expiration_ttl=60), InvalidOption, "given twice"),
        (lambda kv, k: kv.list({"prefix": k, "reverse": True}), InvalidOption, "unknown option 'reverse'"),
    ],
)
def test_bad_options_are_refused_by_name_before_any_call(
    kv: KVNamespace,
    key_prefix: str,
    aws_calls: CallCounter,
    call: Callable[[KVNamespace, str], object],
    error: type[Exception],
    named: str,
) -> None:
    with pytest.raises(error, match=named):
        call(kv, f"{key_prefix}k")
    assert aws_calls.total == 0
