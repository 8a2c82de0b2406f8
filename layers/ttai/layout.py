"""The storage layout the bindings rely on, read from storage.json (also read by infra/ and local/)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import NamedTuple

LAYOUT_FILE = Path(__file__).with_name("storage.json")
# NamedTuples rather than dataclasses: immutable alike, and far cheaper to define on every function's cold start.


class KVLayout(NamedTuple):
    key_attr: str
    ttl_attr: str
    list_index: str
    shard_attr: str
    list_shards: int
    list_attrs: tuple[str, ...]
    overflow_prefix: str
    overflow_expiry_tag: str
    overflow_expiry_days: tuple[int, ...]


class DurableLayout(NamedTuple):
    """The Durable Objects table: object partition, item sort key, and the sparse index of alarms by due time."""

    partition_attr: str
    sort_attr: str
    alarm_index: str
    alarm_shard_attr: str
    alarm_due_attr: str
    alarm_shards: int


class SecretLayout(NamedTuple):
    name: str
    description: str
    length: int


class QueueLayout(NamedTuple):
    binding: str  # the Worker binding name: TASK_QUEUE...
    name: str  # the queue's short name: tasks...
    batch_size: int
    batch_window_seconds: int
    max_retries: int

    @property
    def max_receive_count(self) -> int:
        """Receives before SQS moves a message to the DLQ: the first delivery plus every retry."""
        return self.max_retries + 1


class IdempotencyLayout(NamedTuple):
    key_attr: str
    ttl_attr: str
    expires_after_seconds: int


class ScheduleLayout(NamedTuple):
    job: str  # the job type: pre-market, analysis...
    cron: str  # five fields, day names, in the layout's time zone
    description: str


class StorageLayout(NamedTuple):
    kv: KVLayout
    durable: DurableLayout
    secrets: tuple[SecretLayout, ...]
    bucket_prefixes: dict[str, str]
    export_tag: tuple[str, str]  # (key, value) every export object carries: the lifecycle rule of exports needs it
    queues: tuple[QueueLayout, ...]
    idempotency: IdempotencyLayout
    schedule_timezone: str
    schedules: tuple[ScheduleLayout, ...]

    def queue(self, binding: str) -> QueueLayout:
        for queue in self.queues:
            if queue.binding == binding:
                return queue
        raise KeyError(f"storage.json declares no queue bound as {binding}")


@cache
def storage_layout() -> StorageLayout:
    raw = json.loads(LAYOUT_FILE.read_text(encoding="utf-8"))
    kv = raw["kv"]
    index = kv["list_index"]
    durable = raw["durable"]
    alarms = durable["alarm_index"]
    if index["sort_key"]["name"] != kv["partition_key"]["name"]:
        # The binding pages the index by key name; a different sort key would break list order.
        raise ValueError("storage.json: the KV list index must sort by the table's partition key")
    durable_types = [durable[k]["type"] for k in ("partition_key", "sort_key")]
    durable_types += [alarms[k]["type"] for k in ("partition_key", "sort_key")]
    if durable_types != ["S", "S", "N", "N"]:
        # The durable binding writes object keys and item kinds as strings, alarm shards and due times as numbers.
        raise ValueError(f"storage.json: durable key types must be S, S and N, N (alarm index), not {durable_types}")
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
        durable=DurableLayout(
            partition_attr=durable["partition_key"]["name"],
            sort_attr=durable["sort_key"]["name"],
            alarm_index=alarms["name"],
            alarm_shard_attr=alarms["partition_key"]["name"],
            alarm_due_attr=alarms["sort_key"]["name"],
            alarm_shards=int(alarms["shards"]),
        ),
        secrets=tuple(
            SecretLayout(name=name, description=spec["description"], length=int(spec["length"]))
            for name, spec in raw["secrets"].items()
        ),
        bucket_prefixes=dict(raw["bucket"]["prefixes"]),
        export_tag=(raw["bucket"]["lifecycle"]["export_tag"]["key"], raw["bucket"]["lifecycle"]["export_tag"]["value"]),
        queues=tuple(
            QueueLayout(
                binding=binding,
                name=spec["name"],
                batch_size=int(spec["batch_size"]),
                batch_window_seconds=int(spec["batch_window_seconds"]),
                max_retries=int(spec["max_retries"]),
            )
            for binding, spec in raw["queues"].items()
            if not binding.startswith("$")
        ),
        idempotency=IdempotencyLayout(
            key_attr=raw["idempotency"]["partition_key"],
            ttl_attr=raw["idempotency"]["ttl_attribute"],
            expires_after_seconds=int(raw["idempotency"]["expires_after_seconds"]),
        ),
        schedule_timezone=raw["schedules"]["timezone"],
        schedules=tuple(
            ScheduleLayout(job=job, cron=spec["cron"], description=spec["description"])
            for job, spec in raw["schedules"]["jobs"].items()
        ),
    )
