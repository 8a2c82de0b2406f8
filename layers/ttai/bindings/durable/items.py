"""The Durable Objects table's items, in one place: how storage, lease and alarm items are keyed and shaped.

One table for every namespace (key schema and alarm index in storage.json ``durable``):

=========  ==========================  ===================================================================
item       sort key                    attributes
=========  ==========================  ===================================================================
storage    ``:`` + the key             ``v`` the value as tagged JSON (codec), or ``b`` raw bytes when the
                                       value is a bytes object (no base64 cost for binary values)
lease      ``#lease``                  ``owner`` (the holding invocation), ``expires`` (epoch ms), ``fence``
                                       (incremented by every acquisition; writes are conditional on it)
alarm      ``#alarm``                  ``due`` (epoch ms) and ``ash`` (shard of the due-time index),
                                       ``retries`` (failed runs so far), ``schedule`` (the Scheduler
                                       schedule that will fire it, when one does)
=========  ==========================  ===================================================================

The partition key is ``<namespace>#<id>``. Storage sort keys share the prefix ``:``, so one Query on
``BETWEEN ':'+low AND ':'+high`` lists keys in DynamoDB's sort order, which is UTF-8 byte order (DynamoDB compares
strings by their UTF-8 bytes; code-point order in Python), the order Cloudflare lists in. The lease and the
alarm sort before every storage key (``#`` < ``:``) and never appear in a list. DynamoDB holds at most 1,024
bytes in a sort key, so keys are at most 1,023 bytes of UTF-8 (Cloudflare allows 2 KiB).
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple

from ttai.bindings.durable import codec
from ttai.bindings.durable.errors import ValueTooLarge
from ttai.layout import DurableLayout, storage_layout

STORAGE_PREFIX = ":"
STORAGE_END = ";"  # the character after ':': every storage sort key is below it
LEASE_SORT_KEY = "#lease"
ALARM_SORT_KEY = "#alarm"
SORT_KEY_MAX_BYTES = 1024
KEY_MAX_BYTES = SORT_KEY_MAX_BYTES - len(STORAGE_PREFIX)
VALUE_MAX_BYTES = 128 * 1024  # Cloudflare's KV-backed limit, measured on the stored form (below)
VALUE_ATTR = "v"
BYTES_ATTR = "b"
LEASE_OWNER = "owner"
LEASE_EXPIRES = "expires"
LEASE_FENCE = "fence"
ALARM_RETRIES = "retries"
ALARM_SCHEDULE = "schedule"
# DynamoDB's per-item overhead when sizing a transaction: attribute names plus type bytes, rounded up.
ITEM_OVERHEAD_BYTES = 32


class StoredValue(NamedTuple):
    """A value in the form it is kept: JSON text, or the raw bytes of a bytes value; ``size`` in bytes."""

    text: str | None
    raw: bytes | None
    size: int

    @classmethod
    def of(cls, value: Any) -> StoredValue:
        """Encode ``value`` once (later changes to it do not reach storage), checked against the value limit."""
        if type(value) is bytes:
            stored = cls(None, value, len(value))
        else:
            data = codec.dumps_bytes(value)
            stored = cls(data.decode("utf-8"), None, len(data))
        if stored.size > VALUE_MAX_BYTES:
            raise ValueTooLarge(
                f"the value is {stored.size} bytes stored; values are at most {VALUE_MAX_BYTES} bytes (128 KiB, "
                "Cloudflare's limit, measured on the stored form: a bytes value's length, else its JSON's UTF-8)"
            )
        return stored

    @classmethod
    def from_item(cls, raw: bytes | None, text: str | None) -> StoredValue:
        if raw is not None:
            return cls(None, raw, len(raw))
        assert text is not None
        return cls(text, None, len(text.encode("utf-8")))

    def value(self) -> Any:
        """A fresh copy of the value (each read returns its own, as a structured clone does)."""
        if self.raw is not None:
            return self.raw
        assert self.text is not None
        return codec.loads(self.text)


class AlarmItem(NamedTuple):
    due_ms: int
    retries: int
    schedule: str | None


class DurableTable:
    """Keys and items of one Durable Objects table."""

    def __init__(self, name: str, layout: DurableLayout | None = None) -> None:
        self.name = name
        self.layout = layout or storage_layout().durable

    @staticmethod
    def partition(namespace: str, hex_id: str) -> str:
        return f"{namespace}#{hex_id}"

    @staticmethod
    def split_partition(partition: str) -> tuple[str, str]:
        namespace, _, hex_id = partition.partition("#")
        return namespace, hex_id

    def key(self, partition: str, sort_key: str) -> dict[str, Any]:
        return {self.layout.partition_attr: {"S": partition}, self.layout.sort_attr: {"S": sort_key}}

    def storage_key(self, partition: str, key: str) -> dict[str, Any]:
        return self.key(partition, STORAGE_PREFIX + key)

    def storage_item(self, partition: str, key: str, stored: StoredValue) -> dict[str, Any]:
        item = self.storage_key(partition, key)
        if stored.raw is not None:
            item[BYTES_ATTR] = {"B": stored.raw}
        else:
            item[VALUE_ATTR] = {"S": stored.text}
        return item

    def key_of(self, item: dict[str, Any]) -> str:
        return str(item[self.layout.sort_attr]["S"])[len(STORAGE_PREFIX) :]

    @staticmethod
    def stored_of(item: dict[str, Any]) -> StoredValue:
        if BYTES_ATTR in item:
            return StoredValue.from_item(bytes(item[BYTES_ATTR]["B"]), None)
        return StoredValue.from_item(None, str(item[VALUE_ATTR]["S"]))

    def alarm_item(self, partition: str, alarm: AlarmItem) -> dict[str, Any]:
        lay = self.layout
        item = self.key(partition, ALARM_SORT_KEY)
        item[lay.alarm_due_attr] = {"N": str(alarm.due_ms)}
        item[lay.alarm_shard_attr] = {"N": str(self.alarm_shard(partition))}
        item[ALARM_RETRIES] = {"N": str(alarm.retries)}
        if alarm.schedule:
            item[ALARM_SCHEDULE] = {"S": alarm.schedule}
        return item

    def alarm_of(self, item: dict[str, Any] | None) -> AlarmItem | None:
        if not item:
            return None
        schedule = item.get(ALARM_SCHEDULE, {}).get("S")
        return AlarmItem(int(item[self.layout.alarm_due_attr]["N"]), int(item[ALARM_RETRIES]["N"]), schedule)

    def alarm_shard(self, partition: str) -> int:
        return zlib.crc32(partition.encode("utf-8")) % self.layout.alarm_shards

    @staticmethod
    def item_bytes(partition: str, key: str, stored: StoredValue | None) -> int:
        """An upper estimate of a storage item's size, for DynamoDB's 4 MB transaction limit."""
        size = len(partition) + len((STORAGE_PREFIX + key).encode("utf-8")) + ITEM_OVERHEAD_BYTES
        return size + (stored.size if stored is not None else 0)
