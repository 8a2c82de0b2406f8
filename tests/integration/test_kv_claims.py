"""KVNamespace.put_if_absent, the extension read-through claims rest on: atomic across clients, an expired item
counts as absent, and what plain KV refuses (short TTLs, values that would need S3) it refuses too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.bindings.kv import INLINE_VALUE_MAX_BYTES, InvalidExpiration, KVNamespace, ValueTooLarge


def test_only_the_first_put_if_absent_stores_and_the_value_reads_as_kv(
    kv: KVNamespace, key_prefix: str, aws_calls: CallCounter
) -> None:
    key = f"{key_prefix}claim"
    assert kv.put_if_absent(key, '"pending"', expiration_ttl=60)
    assert not kv.put_if_absent(key, '"other"', expiration_ttl=60)
    assert kv.get(key, "json") == "pending"
    assert aws_calls.by_operation() == {"PutItem": 2, "GetItem": 1}


def test_an_expired_claim_is_absent(kv: KVNamespace, key_prefix: str, clock: Clock) -> None:
    key = f"{key_prefix}claim"
    assert kv.put_if_absent(key, "first", expiration_ttl=60)
    clock.travel(59)
    assert not kv.put_if_absent(key, "second", expiration_ttl=60)
    clock.travel(1)  # expired at its expiry second, though DynamoDB has not swept it
    assert kv.put_if_absent(key, "third", expiration_ttl=60)
    assert kv.get(key) == "third"


def test_twenty_clients_racing_for_one_key_let_exactly_one_win(stack: LocalStack, key_prefix: str) -> None:
    key = f"{key_prefix}race"
    clients = [KVNamespace(stack.environ["TTAI_KV_TABLE"], dynamodb=stack.client("dynamodb")) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        won = list(pool.map(lambda client: client.put_if_absent(key, "mine", expiration_ttl=60), clients))
    assert won.count(True) == 1


def test_what_kv_refuses_put_if_absent_refuses_before_writing(kv: KVNamespace, key_prefix: str) -> None:
    with pytest.raises(InvalidExpiration):
        kv.put_if_absent(f"{key_prefix}short", "x", expiration_ttl=59)
    with pytest.raises(ValueTooLarge):
        kv.put_if_absent(f"{key_prefix}big", "x" * (INLINE_VALUE_MAX_BYTES + 1), expiration_ttl=60)
    assert kv.get(f"{key_prefix}short") is None
    assert kv.get(f"{key_prefix}big") is None
