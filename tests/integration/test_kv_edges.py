"""Edge cases found in review: whole-second expirations, invalid Unicode, forged cursors, large analyses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Clock
from ttai.bindings.kv import (
    INLINE_VALUE_MAX_BYTES,
    InvalidKey,
    InvalidListOptions,
    KVNamespace,
    UnsupportedValueType,
)
from ttai.services.cache import CacheKeys, CacheService


def test_an_absolute_expiration_of_now_plus_60_is_accepted_at_any_fraction_of_a_second(
    kv: KVNamespace, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.9)
    kv.put(f"{key_prefix}a", "v", expiration=1_900_000_060)
    assert kv.list(prefix=key_prefix).keys[0].expiration == 1_900_000_060


def test_a_text_value_with_a_lone_surrogate_is_a_kv_error_and_writes_nothing(
    kv: KVNamespace, key_prefix: str, raw_item: Callable[[str], Any]
) -> None:
    with pytest.raises(UnsupportedValueType, match="valid Unicode"):
        kv.put(f"{key_prefix}bad", "half \ud800 a pair")
    assert raw_item(f"{key_prefix}bad") is None


def test_a_list_prefix_with_a_lone_surrogate_is_an_invalid_key(kv: KVNamespace) -> None:
    with pytest.raises(InvalidKey, match="prefix"):
        kv.list(prefix="\udfff")


def test_a_hand_made_cursor_outside_the_prefix_is_refused(kv: KVNamespace, key_prefix: str) -> None:
    forged = base64.urlsafe_b64encode(json.dumps({"a": "zzz", "p": key_prefix}).encode()).decode().rstrip("=")
    with pytest.raises(InvalidListOptions):
        kv.list(prefix=key_prefix, cursor=forged)


def test_a_prefix_ending_in_the_highest_code_point_pages_across_the_carry(kv: KVNamespace, key_prefix: str) -> None:
    prefix = f"{key_prefix}\U0010ffff"
    names = [f"{prefix}{i}" for i in range(5)] + [f"{prefix}\U0010ffff{i}" for i in range(3)]
    for name in names:
        kv.put(name, "v")
    seen, cursor = [], None
    while True:
        page = kv.list(prefix=prefix, limit=2, cursor=cursor)
        seen += [k.name for k in page.keys]
        if page.list_complete:
            break
        cursor = page.cursor
    assert seen == sorted(names)


def test_an_analysis_too_large_for_an_item_is_cached_in_s3_and_invalidated_with_its_symbol(
    kv: KVNamespace, clock: Clock, overflow_objects: Callable[[], set[str]]
) -> None:
    cache = CacheService(kv)
    symbol = f"Z{clock.now:.0f}"[-6:]
    big = {"notes": "x" * (INLINE_VALUE_MAX_BYTES + 10)}
    before = overflow_objects()
    cache.set_analysis("user-big", symbol, big)
    assert cache.get_analysis("user-big", symbol) == big
    assert len(overflow_objects() - before) == 1
    deleted = cache.invalidate_symbol(symbol)
    assert CacheKeys.user_analysis("user-big", symbol) in deleted
    assert cache.get_analysis("user-big", symbol) is None
    assert overflow_objects() == before
