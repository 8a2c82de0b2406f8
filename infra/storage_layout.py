"""The bindings' resource layout (layers/ttai/storage.json), read by path so infra never imports the runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class WorkflowsLayout(_Layout):
    """The workflows table: instance registry and event mailbox (ttai.bindings.workflows.records)."""

    partition_key: KeyAttribute
    sort_key: KeyAttribute
    ttl_attribute: str


class AlarmIndex(_Layout):
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    shards: int = Field(ge=1)


class DurableLayout(_Layout):
    """The Durable Objects table: object partition, item sort key, and the sparse index of alarms by due time."""

    partition_key: KeyAttribute
    sort_key: KeyAttribute
    alarm_index: AlarmIndex


class WebSocketsLayout(_Layout):
    """The connections table of hibernation WebSockets and connect tickets (every item expires)."""

    partition_key: KeyAttribute
    sort_key: KeyAttribute
    ttl_attribute: str
    max_connection_seconds: int = Field(ge=1, le=7200)
    ttl_margin_seconds: int = Field(ge=0)
    ticket_seconds: int = Field(ge=1, le=300)


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


class LimitsLayout(_Layout):
    partition_key: str
    ttl_attribute: str
    # One item per user and period: a revocation mark must outlive the authorizer's cache (at most an hour), and a
    # bucket's window (at most a minute, infra.config) lies within one item.
    period_seconds: int = Field(ge=60, le=3600)


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


# ------------------------------------------------------------------------------------------- function specs

# What a function may do with its bindings. Each type is one construct's bind() in infra/bindings.py.
R2Operation = Literal["read", "write", "delete", "list"]
# The R2 scope beyond bucket.prefixes' purposes: every object under a user's own prefix (users/{user_id}/).
USER_OBJECTS = "user_objects"
BINDING_NAME = r"^[A-Z][A-Z0-9_]*$"


class KvBinding(_Layout):
    type: Literal["kv"]
    access: Literal["read", "read_write"]
    # Values too big for an item live in the overflow bucket: without it the binding reads and writes items only.
    overflow: bool


class D1Binding(_Layout):
    type: Literal["d1"]


class R2Binding(_Layout):
    type: Literal["r2"]
    # By purpose of bucket.prefixes (or user_objects): what the function does with those objects.
    prefixes: dict[str, Annotated[tuple[R2Operation, ...], Field(min_length=1)]] = Field(min_length=1)


class QueueBinding(_Layout):
    """A producer: the queue of the queues section bound under the same name."""

    type: Literal["queue"]


class IdempotencyBinding(_Layout):
    type: Literal["idempotency"]


class LimitsBinding(_Layout):
    """The limits table: admit each authorized request (one UpdateItem) and mark the sessions the function ends."""

    type: Literal["limits"]


class EmailBinding(_Layout):
    type: Literal["email"]


class PushBinding(_Layout):
    type: Literal["push"]


class WorkflowBinding(_Layout):
    """A Workflow binding: the workflow some function runs (its spec's `workflow` is this binding's name).

    start: create instances (the registry, and an invoke of the workflow function's alias). manage: also read and
    steer them (status, pause, resume, terminate, restart, send_event: the durable execution APIs on its runs)."""

    type: Literal["workflow"]
    access: Literal["start", "manage"]


class VectorizeBinding(_Layout):
    """A Vectorize index (pgvector on the database, through the Data API), by its name in the vectorize section."""

    type: Literal["vectorize"]
    index: str


class AiBinding(_Layout):
    """Workers AI's embeddings: the ai section's model on Bedrock."""

    type: Literal["ai"]


class DurableBinding(_Layout):
    """A Durable Object namespace (env.PUBSUB...) the function calls: the durable host function, invoked."""

    type: Literal["durable"]


class DurableHostBinding(_Layout):
    """The durable host's own resources: the objects table, the alarm queue it consumes and alarm schedules."""

    type: Literal["durable_host"]


class WebSocketBinding(_Layout):
    """The WebSocket API's connections table, for one purpose: issuing connect `tickets` (with the URL they open),
    redeeming them (`redeem`), holding `connections` and posting to them (@connections), or reading which channels
    have subscribers to `publish`."""

    type: Literal["websocket"]
    access: Literal["tickets", "redeem", "connections", "publish"]


class LambdaBinding(_Layout):
    """Another function of this file, invoked asynchronously (fire and forget)."""

    type: Literal["lambda"]
    function: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


Binding = Annotated[
    KvBinding
    | D1Binding
    | R2Binding
    | QueueBinding
    | IdempotencyBinding
    | LimitsBinding
    | EmailBinding
    | PushBinding
    | WorkflowBinding
    | VectorizeBinding
    | AiBinding
    | DurableBinding
    | DurableHostBinding
    | WebSocketBinding
    | LambdaBinding,
    Field(discriminator="type"),
]
# Bindings the runtime's Env has one attribute for, so a function binds them under that name alone.
FIXED_BINDING_NAMES: dict[type[Any], str] = {VectorizeBinding: "VECTORIZE", AiBinding: "AI"}


class FunctionSpec(_Layout):
    """One function: what runs, what it may touch and how, what it reads. Its variables and grants follow."""

    # The key of cdk.json's functions settings, so an identifier.
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1, max_length=256)
    # A dotted path under functions/: functions.<folder>.<module>.<attribute>; the folder is the function's asset.
    handler: str = Field(pattern=r"^functions\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
    bindings: dict[Annotated[str, Field(pattern=BINDING_NAME)], Binding] = Field(default_factory=dict)
    # Queue bindings (of the queues section) whose messages this function receives.
    consumes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    # Dependency groups of pyproject.toml, each shipped as a layer after the shared one.
    layers: tuple[str, ...] = ()
    vars: tuple[Literal["tastytrade"], ...] = ()
    # The Workflow binding whose class this function runs (ttai.workflows.WORKFLOWS): a durable function, invoked
    # through its alias, that checkpoints its own executions and reads the workflows table (wait_for_event's mailbox).
    workflow: str | None = Field(default=None, pattern=BINDING_NAME)

    @property
    def folder(self) -> str:
        """The folder under functions/ that is this function's asset."""
        return self.handler.split(".")[1]

    @property
    def lambda_handler(self) -> str:
        """module.attribute inside the asset, as Lambda's Handler setting names it."""
        return ".".join(self.handler.split(".")[2:])

    def bindings_of(self, kind: type[Any]) -> dict[str, Any]:
        return {name: binding for name, binding in self.bindings.items() if isinstance(binding, kind)}


class AiLayout(_Layout):
    """The Bedrock embedding model env.AI runs, and the dimensions it is asked for."""

    embedding_model: str = Field(pattern=r"^[a-z0-9-]+\.[A-Za-z0-9.:-]+$")
    # Titan Text Embeddings V2's choices; Cohere's embed models offer others (say so here when adding one).
    embedding_dimensions: Literal[256, 512, 1024]


class VectorIndexSpec(_Layout):
    dimensions: int = Field(ge=1, le=1536)  # Vectorize's limit
    metric: Literal["cosine", "euclidean", "dot-product"]


class VectorizeLayout(_Layout):
    indexes: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")], VectorIndexSpec]


class StorageLayout(_Layout):
    kv: KvLayout
    workflows: WorkflowsLayout
    durable: DurableLayout
    websockets: WebSocketsLayout
    secrets: dict[str, SecretSpec]
    bucket: BucketLayout
    # By binding name (TASK_QUEUE ...), as the runtime's env.TASK_QUEUE.
    queues: dict[str, QueueSpec]
    idempotency: IdempotencyLayout
    limits: LimitsLayout
    schedules: SchedulesLayout
    ai: AiLayout
    vectorize: VectorizeLayout
    functions: dict[str, FunctionSpec]

    @field_validator("queues", mode="before")
    @classmethod
    def _drop_comments(cls, value: Any) -> Any:
        return _without_comments(value)

    @field_validator("functions", mode="before")
    @classmethod
    def _named_functions(cls, value: Any) -> Any:
        # Each spec knows its own name (the key), as the runtime's FunctionSpec does.
        if not isinstance(value, dict):
            return value
        return {name: {**spec, "name": name} for name, spec in _without_comments(value).items()}

    @model_validator(mode="after")
    def _specs_name_what_exists(self) -> StorageLayout:
        """Every queue, secret and bucket purpose a function names is one this file declares."""
        problems: list[str] = []
        scopes = {*self.bucket.prefixes, USER_OBJECTS}
        workflows = [function.workflow for function in self.functions.values() if function.workflow]
        problems += [
            f"workflow {name} is run by more than one function" for name in set(workflows) if workflows.count(name) > 1
        ]
        for function in self.functions.values():
            where = f"functions.{function.name}"
            for name in self.function_queues(function):
                if name not in self.queues:
                    problems.append(f"{where}: {name} is not a queue of the queues section")
            problems += [f"{where}: no secret {name}" for name in function.secrets if name not in self.secrets]
            for name in function.bindings_of(WorkflowBinding):
                if name not in workflows:
                    problems.append(f"{where}.bindings.{name}: no function runs workflow {name}")
            for name, binding in function.bindings_of(R2Binding).items():
                unknown = sorted(set(binding.prefixes) - scopes)
                if unknown:
                    problems.append(f"{where}.bindings.{name}: {unknown} are not bucket purposes or {USER_OBJECTS}")
            for name, binding in function.bindings.items():
                fixed = FIXED_BINDING_NAMES.get(type(binding))
                if fixed is not None and name != fixed:
                    problems.append(f"{where}.bindings.{name}: a {binding.type} binding is bound as {fixed}")
            for name, binding in function.bindings_of(VectorizeBinding).items():
                if binding.index not in self.vectorize.indexes:
                    problems.append(f"{where}.bindings.{name}: no index {binding.index!r} in the vectorize section")
        problems += self._function_binding_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _function_binding_problems(self) -> list[str]:
        """A lambda binding names another function; durable bindings have the one host that runs their objects."""
        problems = []
        for function in self.functions.values():
            for name, binding in function.bindings_of(LambdaBinding).items():
                if binding.function not in self.functions or binding.function == function.name:
                    problems.append(
                        f"functions.{function.name}.bindings.{name}: {binding.function} is not another function"
                    )
        hosts = [f.name for f in self.functions.values() if f.bindings_of(DurableHostBinding)]
        callers = [f.name for f in self.functions.values() if f.bindings_of(DurableBinding)]
        if len(hosts) > 1 or (callers and not hosts):
            problems.append(f"one function hosts the Durable Objects its callers {callers} call, not {hosts}")
        return problems

    @staticmethod
    def function_queues(function: FunctionSpec) -> list[str]:
        """The queues a function sends to (its queue bindings) and consumes."""
        return [*function.bindings_of(QueueBinding), *function.consumes]


def load_storage_layout(root: Path) -> StorageLayout:
    text = (root / STORAGE_LAYOUT).read_text(encoding="utf-8")
    return StorageLayout.model_validate(json.loads(text))
