"""The bindings' resource layout (layers/ttai/storage.json), read by path so infra never imports the runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.paths import STORAGE_LAYOUT


class _Layout(BaseModel):
    # The runtime owns storage.json and may add keys infra does not use yet.
    model_config = ConfigDict(frozen=True, extra="ignore")


class KeyAttribute(_Layout):
    name: str
    type: Literal["S", "N", "B"]


class ListIndex(_Layout):
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    non_key_attributes: tuple[str, ...]
    shards: int = Field(ge=1)


class KvLayout(_Layout):
    partition_key: KeyAttribute
    ttl_attribute: str
    list_index: ListIndex
    overflow_prefix: str
    overflow_expiry_tag: str
    overflow_expiry_days: tuple[int, ...] = Field(min_length=1)


class SecretSpec(_Layout):
    description: str
    length: int = Field(ge=16, le=4096)
    # generated: the stack's random value is the secret. operator: a third party issues the value; the stack
    # generates a placeholder of `length` characters that the operator overwrites after the first deploy.
    provided_by: Literal["generated", "operator"] = "generated"


class StorageLayout(_Layout):
    kv: KvLayout
    secrets: dict[str, SecretSpec]


def load_storage_layout(root: Path) -> StorageLayout:
    text = (root / STORAGE_LAYOUT).read_text(encoding="utf-8")
    return StorageLayout.model_validate(json.loads(text))
