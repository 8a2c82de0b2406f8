"""The bindings' resource layout (layers/ttai/storage.json), read by path so infra never imports the runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


def _without_comments(value: Any) -> Any:
    # storage.json documents its sections with "$comment" keys; they name no queue, job or prefix.
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if not key.startswith("$")}
    return value


class LifecycleTag(_Layout):
    """The object tag the runtime sets on put so a lifecycle rule can find objects no literal prefix names."""

    key: str = Field(min_length=1, max_length=128)
    value: str = Field(min_length=1, max_length=256)


class BucketLifecycle(_Layout):
    # users/{user_id}/exports/ is not a literal prefix: exports are found by prefix users/ plus this tag.
    export_tag: LifecycleTag
    exports_infrequent_access_after_days: int = Field(ge=30)
    exports_expire_after_days: int = Field(ge=1)
    backups_glacier_after_days: int = Field(ge=0)
    noncurrent_versions_expire_after_days: int = Field(ge=1)
    abort_incomplete_uploads_after_days: int = Field(ge=1)


class BucketLayout(_Layout):
    # By purpose (knowledge, exports ...): the key prefix, where {user_id} stands for the token's user id.
    prefixes: dict[str, str]
    lifecycle: BucketLifecycle

    @field_validator("prefixes", mode="before")
    @classmethod
    def _drop_comments(cls, value: Any) -> Any:
        return _without_comments(value)

    def prefix(self, purpose: str) -> str:
        """The literal part of a prefix: everything before its first placeholder (users/ for exports)."""
        return self.prefixes[purpose].split("{", 1)[0]


class QueueSpec(_Layout):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    batch_size: int = Field(ge=1, le=10_000)
    batch_window_seconds: int = Field(ge=0, le=300)
    max_retries: int = Field(ge=0, le=999)

    @property
    def max_receive_count(self) -> int:
        """Receives before SQS moves a message to the DLQ: the first delivery plus every retry."""
        return self.max_retries + 1


class IdempotencyLayout(_Layout):
    partition_key: str
    ttl_attribute: str
    expires_after_seconds: int = Field(ge=1)


class ScheduledJob(_Layout):
    cron: str
    description: str


class SchedulesLayout(_Layout):
    timezone: str
    jobs: dict[str, ScheduledJob]

    @field_validator("jobs", mode="before")
    @classmethod
    def _drop_comments(cls, value: Any) -> Any:
        return _without_comments(value)


class StorageLayout(_Layout):
    kv: KvLayout
    secrets: dict[str, SecretSpec]
    bucket: BucketLayout
    # By binding name (TASK_QUEUE ...), as the runtime's env.TASK_QUEUE.
    queues: dict[str, QueueSpec]
    idempotency: IdempotencyLayout
    schedules: SchedulesLayout

    @field_validator("queues", mode="before")
    @classmethod
    def _drop_comments(cls, value: Any) -> Any:
        return _without_comments(value)


def load_storage_layout(root: Path) -> StorageLayout:
    text = (root / STORAGE_LAYOUT).read_text(encoding="utf-8")
    return StorageLayout.model_validate(json.loads(text))
