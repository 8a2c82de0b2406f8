"""The storage layout the bindings rely on, read from storage.json (also read by infra/ and local/)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LAYOUT_FILE = Path(__file__).with_name("storage.json")


@dataclass(frozen=True, slots=True)
class KVLayout:
    key_attr: str
    ttl_attr: str
    list_index: str
    shard_attr: str
    list_shards: int
    list_attrs: tuple[str, ...]
    overflow_prefix: str
    overflow_expiry_tag: str
    overflow_expiry_days: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SecretLayout:
    name: str
    description: str
    length: int


@dataclass(frozen=True, slots=True)
class StorageLayout:
    kv: KVLayout
    secrets: tuple[SecretLayout, ...]


@cache
def storage_layout() -> StorageLayout:
    raw = json.loads(LAYOUT_FILE.read_text(encoding="utf-8"))
    kv = raw["kv"]
    index = kv["list_index"]
    if index["sort_key"]["name"] != kv["partition_key"]["name"]:
        # The binding pages the index by key name; a different sort key would break list order.
        raise ValueError("storage.json: the KV list index must sort by the table's partition key")
    return StorageLayout(
        kv=KVLayout(
            key_attr=kv["partition_key"]["name"],
            ttl_attr=kv["ttl_attribute"],
            list_index=index["name"],
            shard_attr=index["partition_key"]["name"],
            list_shards=int(index["shards"]),
            list_attrs=tuple(index["non_key_attributes"]),
            overflow_prefix=kv["overflow_prefix"],
            overflow_expiry_tag=kv["overflow_expiry_tag"],
            overflow_expiry_days=tuple(sorted(int(d) for d in kv["overflow_expiry_days"])),
        ),
        secrets=tuple(
            SecretLayout(name=name, description=spec["description"], length=int(spec["length"]))
            for name, spec in raw["secrets"].items()
        ),
    )
