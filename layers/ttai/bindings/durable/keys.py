"""Checks on what storage is given before any request: keys, key lists, list bounds, alarm times.

Keys are at most 1,023 bytes of UTF-8 (items.py says why). List bounds may be longer than any key; they are
clipped to sort keys DynamoDB accepts without changing which keys fall in range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from ttai.bindings.common import KeyRules, successor
from ttai.bindings.durable.errors import InvalidAlarm, InvalidKey, KeyTooLong, TooManyKeys
from ttai.bindings.durable.items import KEY_MAX_BYTES, STORAGE_END, STORAGE_PREFIX

MAX_KEYS = 128
# Any text is a key, the empty string included, as on Cloudflare.
KEY_RULES = KeyRules(
    KEY_MAX_BYTES,
    InvalidKey,
    KeyTooLong,
    reserved=(),
    why_limit=" here (Cloudflare allows 2,048, but a DynamoDB sort key holds 1,024 bytes and the storage prefix "
    "takes one)",
)
check_text = KEY_RULES.encode
check_key = KEY_RULES.check_key


def key_list(keys: object, operation: str) -> list[str]:
    if isinstance(keys, str | bytes | bytearray) or not isinstance(keys, Sequence):
        raise InvalidKey(f"{operation} takes a key or a list of keys, not {type(keys).__name__}")
    if len(keys) > MAX_KEYS:
        raise TooManyKeys(f"{operation} takes at most {MAX_KEYS} keys, got {len(keys)}")
    for key in keys:
        check_key(key)
    return list(keys)


def _truncate(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that is at most ``max_bytes`` of UTF-8."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def prefix_end(prefix: str) -> str | None:
    """The smallest string above every key that starts with ``prefix`` (None: there is none)."""
    return successor(prefix)


def clip(low: str) -> str:
    """A query lower bound no longer than a key: a prefix of ``low`` sorts before it, so nothing is missed."""
    return _truncate(low, KEY_MAX_BYTES)


def ceiling(high: str) -> str:
    """An inclusive upper sort key that fits DynamoDB and is not below any key under ``high``."""
    if len(high.encode("utf-8")) <= KEY_MAX_BYTES:
        return STORAGE_PREFIX + high
    # Every key below high either starts with this prefix (so sorts before its successor) or sorts before it;
    # 4 bytes spare, as the successor's last character may take more bytes than the one it replaces.
    above = successor(_truncate(high, KEY_MAX_BYTES - 4))
    return STORAGE_PREFIX + above if above is not None else STORAGE_END


def alarm_ms(scheduled_time: object) -> int:
    if isinstance(scheduled_time, datetime):
        if scheduled_time.tzinfo is None or scheduled_time.utcoffset() is None:
            raise InvalidAlarm("an alarm datetime must be timezone-aware")
        return math.floor(scheduled_time.timestamp() * 1000)
    if isinstance(scheduled_time, bool) or not isinstance(scheduled_time, int | float):
        raise InvalidAlarm(f"an alarm time is ms since the epoch or an aware datetime, not {scheduled_time!r}")
    if not math.isfinite(scheduled_time) or scheduled_time < 0:
        raise InvalidAlarm(f"an alarm time must be a finite, non-negative number of ms, not {scheduled_time!r}")
    return math.floor(scheduled_time)
