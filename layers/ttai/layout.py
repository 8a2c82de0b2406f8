"""The storage layout the bindings rely on, and each function's spec, read from storage.json (also read by infra/).

The functions section is read apart (``function_specs``): the local stack derives each function's variables from
it, while a deployed function never needs it, so its cold start does not parse it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

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


class WebSocketLayout(NamedTuple):
    """The connections table of hibernation WebSockets: keys, the TTL attribute and the lifetimes it is set from."""

    partition_attr: str
    sort_attr: str
    ttl_attr: str
    max_connection_seconds: int  # API Gateway closes every connection at 2 h
    ttl_margin_seconds: int  # past that, before a row a missed $disconnect left is allowed to expire
    ticket_seconds: int  # how long a connect ticket stays valid

    @property
    def row_lifetime_seconds(self) -> int:
        return self.max_connection_seconds + self.ttl_margin_seconds


class WorkflowsLayout(NamedTuple):
    """The workflows table: instance registry and event mailbox, string keys, TTL."""

    partition_attr: str
    sort_attr: str
    ttl_attr: str


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


class LimitsLayout(NamedTuple):
    """The limits table: one item per user and period (its key), expired by TTL once its period is over."""

    key_attr: str
    ttl_attr: str
    period_seconds: int


class ScheduleLayout(NamedTuple):
    job: str  # the job type: pre-market, analysis...
    cron: str  # five fields, day names, in the layout's time zone
    description: str


class AiLayout(NamedTuple):
    """The embedding model env.AI runs (a Bedrock model id) and the dimensions of its vectors."""

    embedding_model: str
    embedding_dimensions: int


class VectorIndexLayout(NamedTuple):
    """A Vectorize index as create_vector_index makes it."""

    name: str
    dimensions: int
    metric: str


class StorageLayout(NamedTuple):
    kv: KVLayout
    durable: DurableLayout
    websockets: WebSocketLayout
    workflows: WorkflowsLayout
    secrets: tuple[SecretLayout, ...]
    bucket_prefixes: dict[str, str]
    export_tag: tuple[str, str]  # (key, value) every export object carries: the lifecycle rule of exports needs it
    queues: tuple[QueueLayout, ...]
    idempotency: IdempotencyLayout
    limits: LimitsLayout
    schedule_timezone: str
    schedules: tuple[ScheduleLayout, ...]
    ai: AiLayout
    vector_indexes: dict[str, VectorIndexLayout]

    def queue(self, binding: str) -> QueueLayout:
        for queue in self.queues:
            if queue.binding == binding:
                return queue
        raise KeyError(f"storage.json declares no queue bound as {binding}")


class BindingSpec(NamedTuple):
    """One binding a function may use, under its env name (KV, TASK_QUEUE...), with what it may do with it."""

    name: str
    type: str  # one of BINDING_TYPES
    # kv: read | read_write; workflow: start | manage; websocket: tickets | redeem | connections | publish
    access: str | None = None
    overflow: bool = False  # kv: also the values too big for an item, kept in the overflow bucket
    # r2: (purpose of the bucket's prefixes, or USER_OBJECTS; the operations: read, write, delete, list)
    prefixes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    vector_index: str | None = None  # vectorize: the name of an index of the vectorize section ("index")
    function: str | None = None  # lambda: the function of this file it invokes


class FunctionSpec(NamedTuple):
    """One function as storage.json declares it: what runs, what it may touch and how, what else it reads."""

    name: str
    description: str
    handler: str  # functions.<folder>.<module>.<attribute>
    bindings: tuple[BindingSpec, ...] = ()
    consumes: tuple[str, ...] = ()  # queue bindings whose messages it receives
    secrets: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()  # dependency groups shipped as extra layers (nothing to do locally)
    vars: tuple[str, ...] = ()  # settings that are no binding: tastytrade
    workflow: str | None = None  # the Workflow binding whose class this function runs (a durable function)

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def binding(self, name: str) -> BindingSpec | None:
        return next((binding for binding in self.bindings if binding.name == name), None)


BINDING_TYPES = (
    "kv",
    "d1",
    "r2",
    "queue",
    "idempotency",
    "email",
    "push",
    "durable",
    "durable_host",
    "websocket",
    "lambda",
    "workflow",
    "vectorize",
    "ai",
    "limits",
)
VAR_GROUPS = ("tastytrade",)
USER_OBJECTS = "user_objects"  # the R2 scope of every object under a user's own prefix (users/{user_id}/)


@cache
def _raw_layout() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(LAYOUT_FILE.read_text(encoding="utf-8"))
    return raw


@cache
def storage_layout() -> StorageLayout:
    raw = _raw_layout()
    kv = raw["kv"]
    index = kv["list_index"]
    durable = raw["durable"]
    alarms = durable["alarm_index"]
    sockets = raw["websockets"]
    if index["sort_key"]["name"] != kv["partition_key"]["name"]:
        # The binding pages the index by key name; a different sort key would break list order.
        raise ValueError("storage.json: the KV list index must sort by the table's partition key")
    durable_types = [durable[k]["type"] for k in ("partition_key", "sort_key")]
    durable_types += [alarms[k]["type"] for k in ("partition_key", "sort_key")]
    if durable_types != ["S", "S", "N", "N"]:
        # The durable binding writes object keys and item kinds as strings, alarm shards and due times as numbers.
        raise ValueError(f"storage.json: durable key types must be S, S and N, N (alarm index), not {durable_types}")
    if [sockets[k]["type"] for k in ("partition_key", "sort_key")] != ["S", "S"]:
        raise ValueError("storage.json: the websockets table is keyed by two strings")
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
        websockets=WebSocketLayout(
            partition_attr=sockets["partition_key"]["name"],
            sort_attr=sockets["sort_key"]["name"],
            ttl_attr=sockets["ttl_attribute"],
            max_connection_seconds=int(sockets["max_connection_seconds"]),
            ttl_margin_seconds=int(sockets["ttl_margin_seconds"]),
            ticket_seconds=int(sockets["ticket_seconds"]),
        ),
        workflows=WorkflowsLayout(
            partition_attr=raw["workflows"]["partition_key"]["name"],
            sort_attr=raw["workflows"]["sort_key"]["name"],
            ttl_attr=raw["workflows"]["ttl_attribute"],
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
        limits=LimitsLayout(
            key_attr=raw["limits"]["partition_key"],
            ttl_attr=raw["limits"]["ttl_attribute"],
            period_seconds=int(raw["limits"]["period_seconds"]),
        ),
        schedule_timezone=raw["schedules"]["timezone"],
        schedules=tuple(
            ScheduleLayout(job=job, cron=spec["cron"], description=spec["description"])
            for job, spec in raw["schedules"]["jobs"].items()
        ),
        ai=AiLayout(
            embedding_model=raw["ai"]["embedding_model"],
            embedding_dimensions=int(raw["ai"]["embedding_dimensions"]),
        ),
        vector_indexes={
            name: VectorIndexLayout(name=name, dimensions=int(spec["dimensions"]), metric=spec["metric"])
            for name, spec in raw["vectorize"]["indexes"].items()
        },
    )


def _binding(name: str, raw: dict[str, Any]) -> BindingSpec:
    kind = raw["type"]
    if kind not in BINDING_TYPES:
        # A type the runtime cannot give a function: say so at start rather than hand it no variables.
        raise ValueError(f"storage.json: binding {name} has type {kind!r}, not one of {', '.join(BINDING_TYPES)}")
    return BindingSpec(
        name=name,
        type=kind,
        access=raw.get("access"),
        overflow=bool(raw.get("overflow", False)),
        prefixes=tuple((scope, tuple(operations)) for scope, operations in raw.get("prefixes", {}).items()),
        vector_index=raw.get("index"),
        function=raw.get("function"),
    )


@cache
def function_specs() -> dict[str, FunctionSpec]:
    """Every function of storage.json by name (api, consumer...), in the order the file declares them."""
    specs = {}
    for name, raw in _raw_layout()["functions"].items():
        if name.startswith("$"):
            continue
        unknown = [group for group in raw.get("vars", ()) if group not in VAR_GROUPS]
        if unknown:
            raise ValueError(f"storage.json: function {name} names unknown vars {unknown}")
        specs[name] = FunctionSpec(
            name=name,
            description=raw["description"],
            handler=raw["handler"],
            bindings=tuple(_binding(binding, spec) for binding, spec in raw.get("bindings", {}).items()),
            consumes=tuple(raw.get("consumes", ())),
            secrets=tuple(raw.get("secrets", ())),
            layers=tuple(raw.get("layers", ())),
            vars=tuple(raw.get("vars", ())),
            workflow=raw.get("workflow"),
        )
    return specs
