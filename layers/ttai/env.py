"""The Worker-style ``env``: settings validated once from TTAI_* variables, bindings built on first use.

On Lambda each function is a process of its own and its variables are ``os.environ``. The local stack runs every
function in one process, whose environment all threads share, so it gives each invocation the function's own
variables through ``invocation_environ`` (a context variable, so concurrent invocations on other threads each keep
theirs): inside it ``Env.from_environ()`` reads those instead of ``os.environ``, and a binding the function was not
given raises ConfigurationError as it would deployed.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast, get_args

from ttai.errors import ConfigurationError

if TYPE_CHECKING:
    from ttai.auth.oauth import OAuthSettings
    from ttai.bindings.ai import Ai
    from ttai.bindings.d1 import D1Database
    from ttai.bindings.durable import DurableObjectNamespace
    from ttai.bindings.kv import KVNamespace
    from ttai.bindings.queues import Queue
    from ttai.bindings.r2 import R2Bucket
    from ttai.bindings.vectorize import VectorizeIndex
    from ttai.bindings.workflows import Workflow
    from ttai.bindings.workflows.backend import BucketBlobs, WorkflowBackend

ENDPOINT_PREFIX = "AWS_ENDPOINT_URL_"
SECRET_PREFIX = "TTAI_SECRET_"  # noqa: S105 - a variable-name prefix, not a secret
SECRET_STORE = "the secret store"  # noqa: S105 - Secrets Manager as a 503 names it, not a secret
QUEUE_URL_SUFFIX = "_URL"  # TTAI_<BINDING>_URL, e.g. TTAI_TASK_QUEUE_URL
QUEUE_BINDINGS = ("TASK_QUEUE", "NOTIFICATION_QUEUE", "ANALYSIS_QUEUE")
WORKFLOW_ARN_SUFFIX = "_ARN"  # TTAI_<BINDING>_ARN: the workflow's durable function, qualified by its alias
WORKFLOW_BINDINGS = ("ANALYSIS_WORKFLOW", "SCREENER_WORKFLOW", "EXPORT_WORKFLOW", "BACKUP_WORKFLOW")
_QUALIFIED_FUNCTION = re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+:[A-Za-z0-9_$-]+$")
# Durable Object namespaces by binding name; TTAI_<BINDING>_HOST names the durable host function that runs them.
DURABLE_BINDINGS = ("PUBSUB", "SUBSCRIPTIONS", "PRICE_ALERT", "PORTFOLIO_MONITOR")
DURABLE_HOST_SUFFIX = "_HOST"
# Functions invoked asynchronously by binding name; TTAI_<BINDING>_FUNCTION names the function.
LAMBDA_BINDINGS = ("REALTIME",)
FUNCTION_SUFFIX = "_FUNCTION"
Environment = Literal["local", "dev", "staging", "prod"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
_CACHE_LOCK = threading.Lock()
_ENVS: dict[tuple[tuple[str, str], ...], Env] = {}
# The variables of the function being invoked, when something other than Lambda hosts it (local.functions).
_INVOCATION_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("ttai_invocation_environ", default=None)


@contextmanager
def invocation_environ(environ: Mapping[str, str]) -> Iterator[None]:
    """Within the block, on this thread (and tasks it starts with its context), ``Env.from_environ()`` reads
    ``environ`` alone instead of ``os.environ``: the function being invoked sees only its own variables."""
    token = _INVOCATION_ENVIRON.set(MappingProxyType(dict(environ)))
    try:
        yield
    finally:
        _INVOCATION_ENVIRON.reset(token)


# Settings and their rules are NamedTuples: immutable, and built at import far cheaper than dataclasses or a
# pydantic model (every cold start of every function pays for this module).
class _Rule(NamedTuple):
    """How one TTAI_* variable is checked."""

    variable: str
    min_length: int = 1
    max_length: int = 2048
    pattern: re.Pattern[str] | None = None

    def problem(self, value: str) -> str | None:
        if not self.min_length <= len(value) <= self.max_length:
            return f"must be {self.min_length} to {self.max_length} characters long, not {len(value)}"
        if self.pattern is not None and not self.pattern.match(value):
            return f"must match {self.pattern.pattern}"
        return None


_NOTHING: Mapping[str, str] = MappingProxyType({})
_URL = re.compile(r"^https?://")
_WS_URL = re.compile(r"^wss?://")
_ARN = re.compile(r"^arn:[a-z-]+:")
_WHOLE = re.compile(r"^[1-9][0-9]*$")
# Settings field -> the variable it comes from and what it must look like.
_VARIABLES: dict[str, _Rule] = {
    "kv_table": _Rule("TTAI_KV_TABLE", 3, 255),
    "kv_overflow_bucket": _Rule("TTAI_KV_OVERFLOW_BUCKET", 3, 63),
    "db_cluster_arn": _Rule("TTAI_DB_CLUSTER_ARN", 20, pattern=_ARN),
    "db_secret_arn": _Rule("TTAI_DB_SECRET_ARN", 20, pattern=_ARN),
    "db_name": _Rule("TTAI_DB_NAME", pattern=re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")),
    "oauth_authorize_url": _Rule("TTAI_OAUTH_AUTHORIZE_URL", pattern=_URL),
    "oauth_token_url": _Rule("TTAI_OAUTH_TOKEN_URL", pattern=_URL),
    "oauth_userinfo_url": _Rule("TTAI_OAUTH_USERINFO_URL", pattern=_URL),
    "oauth_redirect_uri": _Rule("TTAI_OAUTH_REDIRECT_URI", pattern=_URL),
    "tastytrade_api_url": _Rule("TTAI_TASTYTRADE_API_URL", pattern=_URL),
    "r2_bucket": _Rule("TTAI_R2_BUCKET", 3, 63),
    "idempotency_table": _Rule("TTAI_IDEMPOTENCY_TABLE", 3, 255),
    "limits_table": _Rule("TTAI_LIMITS_TABLE", 3, 255),
    "limits": _Rule("TTAI_LIMITS", 2, 1024, pattern=re.compile(r"^\{.*\}$")),
    "workflows_table": _Rule("TTAI_WORKFLOWS_TABLE", 3, 255),
    "email_sender": _Rule("TTAI_EMAIL_SENDER", 3, 320),
    "push_topic_arn": _Rule("TTAI_PUSH_TOPIC_ARN", 20, pattern=_ARN),
    "vectorize_index": _Rule("TTAI_VECTORIZE_INDEX", 1, 64, pattern=re.compile(r"^[a-z0-9][a-z0-9-]*$")),
    "vectorize_dimensions": _Rule("TTAI_VECTORIZE_DIMENSIONS", 1, 4, pattern=_WHOLE),
    "vectorize_metric": _Rule("TTAI_VECTORIZE_METRIC", pattern=re.compile(r"^(cosine|euclidean|dot-product)$")),
    "ai_embedding_model": _Rule("TTAI_AI_EMBEDDING_MODEL", 3, 256),
    "ai_embedding_dimensions": _Rule("TTAI_AI_EMBEDDING_DIMENSIONS", 1, 4, pattern=_WHOLE),
    "durable_table": _Rule("TTAI_DURABLE_TABLE", 3, 255),
    "durable_alarms_url": _Rule("TTAI_DURABLE_ALARMS_URL", pattern=_URL),
    "durable_alarms_arn": _Rule("TTAI_DURABLE_ALARMS_ARN", 20, pattern=_ARN),
    "durable_schedule_group": _Rule("TTAI_DURABLE_SCHEDULE_GROUP", 1, 64),
    "durable_schedule_role_arn": _Rule("TTAI_DURABLE_SCHEDULE_ROLE_ARN", 20, pattern=_ARN),
    "connections_table": _Rule("TTAI_CONNECTIONS_TABLE", 3, 255),
    "websocket_url": _Rule("TTAI_WEBSOCKET_URL", pattern=_WS_URL),
    "websocket_callback_url": _Rule("TTAI_WEBSOCKET_CALLBACK_URL", pattern=_URL),
}


class Settings(NamedTuple):
    """What a function is told by its environment. Bindings are optional: a function has only what it is given."""

    environment: Environment
    kv_table: str | None = None
    kv_overflow_bucket: str | None = None
    db_cluster_arn: str | None = None
    db_secret_arn: str | None = None
    db_name: str | None = None
    oauth_authorize_url: str | None = None
    oauth_token_url: str | None = None
    oauth_userinfo_url: str | None = None
    oauth_redirect_uri: str | None = None
    tastytrade_api_url: str | None = None  # TastyTrade's REST API: its sandbox outside prod
    r2_bucket: str | None = None
    idempotency_table: str | None = None
    # The limits table and the buckets (JSON) that admit each authorized request (ttai.auth.admission).
    limits_table: str | None = None
    limits: str | None = None
    workflows_table: str | None = None
    email_sender: str | None = None
    push_topic_arn: str | None = None
    vectorize_index: str | None = None  # the Vectorize index env.VECTORIZE is bound to, with its configuration
    vectorize_dimensions: str | None = None
    vectorize_metric: str | None = None
    ai_embedding_model: str | None = None  # the Bedrock embedding model env.AI runs, and its dimensions
    ai_embedding_dimensions: str | None = None
    # The durable host's own: the objects table, the alarm queue and the schedules' group and role.
    durable_table: str | None = None
    durable_alarms_url: str | None = None
    durable_alarms_arn: str | None = None
    durable_schedule_group: str | None = None
    durable_schedule_role_arn: str | None = None
    # The WebSocket API: its connections table, the URL clients connect to, its @connections endpoint.
    connections_table: str | None = None
    websocket_url: str | None = None
    websocket_callback_url: str | None = None
    # Queue URL by binding name (TASK_QUEUE...), from TTAI_<BINDING>_URL.
    queue_urls: Mapping[str, str] = _NOTHING
    # A workflow's durable function (its alias ARN) by binding name (ANALYSIS_WORKFLOW...), from TTAI_<BINDING>_ARN.
    workflow_arns: Mapping[str, str] = _NOTHING
    # The durable host function by namespace binding (PUBSUB...), from TTAI_<BINDING>_HOST.
    durable_hosts: Mapping[str, str] = _NOTHING
    # Functions by lambda binding (REALTIME), from TTAI_<BINDING>_FUNCTION.
    functions: Mapping[str, str] = _NOTHING
    secret_ids: Mapping[str, str] = _NOTHING
    region: str | None = None
    endpoint_url: str | None = None
    # Per-service endpoints (AWS_ENDPOINT_URL_RDS_DATA...), as boto3 reads them: the local stack serves the
    # Data API itself while moto serves the rest.
    service_endpoint_urls: Mapping[str, str] = _NOTHING

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in ``environ``; every variable that is wrong is named in one ConfigurationError."""
        if "TTAI_ENVIRONMENT" not in environ:
            raise ConfigurationError("TTAI_ENVIRONMENT is not set: is this running outside a TTAI function?")
        problems: list[str] = []
        environment = environ["TTAI_ENVIRONMENT"]
        if environment not in ENVIRONMENTS:
            problems.append(f"TTAI_ENVIRONMENT={environment!r} must be one of {', '.join(ENVIRONMENTS)}")
        values: dict[str, str | None] = {}
        for name, rule in _VARIABLES.items():
            value = environ.get(rule.variable) or None
            if value is not None and (problem := rule.problem(value)):
                problems.append(f"{rule.variable} {problem}")
            values[name] = value
        secret_ids = {
            name.removeprefix(SECRET_PREFIX): value for name, value in environ.items() if name.startswith(SECRET_PREFIX)
        }
        problems += [f"{SECRET_PREFIX}{name} is empty" for name, value in secret_ids.items() if not name or not value]
        workflow_arns = {
            binding: environ[f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX}"]
            for binding in WORKFLOW_BINDINGS
            if environ.get(f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX}")
        }
        problems += [
            f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX} must be a function ARN qualified by an alias or a version"
            for binding, arn in workflow_arns.items()
            if not _QUALIFIED_FUNCTION.match(arn)
        ]
        if problems:
            raise ConfigurationError("invalid TTAI_* environment: " + "; ".join(problems))
        return cls(
            environment=cast("Environment", environment),
            **values,
            queue_urls={
                binding: environ[f"TTAI_{binding}{QUEUE_URL_SUFFIX}"]
                for binding in QUEUE_BINDINGS
                if environ.get(f"TTAI_{binding}{QUEUE_URL_SUFFIX}")
            },
            workflow_arns=workflow_arns,
            durable_hosts={
                binding: environ[f"TTAI_{binding}{DURABLE_HOST_SUFFIX}"]
                for binding in DURABLE_BINDINGS
                if environ.get(f"TTAI_{binding}{DURABLE_HOST_SUFFIX}")
            },
            functions={
                binding: environ[f"TTAI_{binding}{FUNCTION_SUFFIX}"]
                for binding in LAMBDA_BINDINGS
                if environ.get(f"TTAI_{binding}{FUNCTION_SUFFIX}")
            },
            secret_ids=secret_ids,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
            service_endpoint_urls={
                name.removeprefix(ENDPOINT_PREFIX): value
                for name, value in environ.items()
                if name.startswith(ENDPOINT_PREFIX) and value
            },
        )


def _relevant(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (k, v)
            for k, v in environ.items()
            if k.startswith(("TTAI_", "AWS_ENDPOINT_URL")) or k in {"AWS_REGION", "AWS_DEFAULT_REGION"}
        )
    )


class Env:
    """Bindings by their Worker names (``env.KV``) plus ``env.secret(name)``; clients made once per container."""

    def __init__(self, settings: Settings, *, clients: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self._clients = dict(clients or {})
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Env:
        """The Env for these variables, validated once and reused. By default: the invoked function's variables
        where a local host set them (``invocation_environ``), else ``os.environ``."""
        if environ is None:
            invoked = _INVOCATION_ENVIRON.get()
            environ = os.environ if invoked is None else invoked
        key = _relevant(environ)
        with _CACHE_LOCK:
            env = _ENVS.get(key)
            if env is None:
                env = _ENVS[key] = cls(Settings.from_environ(environ))
            return env

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from ttai import aws  # noqa: PLC0415 - boto3 loads on first use, not at import

            override = self.settings.service_endpoint_urls.get(service.upper().replace("-", "_"))
            endpoint = override or self.settings.endpoint_url
            self._clients[service] = aws.client(service, endpoint, self.settings.region)
        return self._clients[service]

    @cached_property
    def KV(self) -> KVNamespace:
        from ttai.bindings.kv import KVNamespace  # noqa: PLC0415

        table = self._require(self.settings.kv_table, "KV", "TTAI_KV_TABLE")
        bucket = self.settings.kv_overflow_bucket
        return KVNamespace(
            table,
            overflow_bucket=bucket,
            dynamodb=self.client("dynamodb"),
            s3=self.client("s3") if bucket else None,
        )

    @cached_property
    def DB(self) -> D1Database:
        from ttai.bindings.d1 import D1Database  # noqa: PLC0415

        return D1Database(
            self._require(self.settings.db_cluster_arn, "DB", "TTAI_DB_CLUSTER_ARN"),
            self._require(self.settings.db_secret_arn, "DB", "TTAI_DB_SECRET_ARN"),
            self._require(self.settings.db_name, "DB", "TTAI_DB_NAME"),
            client=self.client("rds-data"),
        )

    @cached_property
    def R2(self) -> R2Bucket:
        from ttai.bindings.r2 import R2Bucket  # noqa: PLC0415

        bucket = self._require(self.settings.r2_bucket, "R2", "TTAI_R2_BUCKET")
        return R2Bucket(bucket, s3=self.client("s3"))

    @cached_property
    def VECTORIZE(self) -> VectorizeIndex:
        """The Vectorize index this function is bound to (pgvector, reached through the DB binding's Data API)."""
        from ttai.bindings.vectorize import VectorizeIndex  # noqa: PLC0415

        s = self.settings
        name = self._require(s.vectorize_index, "VECTORIZE", "TTAI_VECTORIZE_INDEX")
        dimensions = int(self._require(s.vectorize_dimensions, "VECTORIZE", "TTAI_VECTORIZE_DIMENSIONS"))
        metric = self._require(s.vectorize_metric, "VECTORIZE", "TTAI_VECTORIZE_METRIC")
        return VectorizeIndex(self.DB, name, dimensions=dimensions, metric=cast("Any", metric))

    @cached_property
    def AI(self) -> Ai:
        """Workers AI's embeddings, on the Bedrock model this function is bound to."""
        from ttai.bindings.ai import Ai  # noqa: PLC0415

        model = self._require(self.settings.ai_embedding_model, "AI", "TTAI_AI_EMBEDDING_MODEL")
        dimensions = self._require(self.settings.ai_embedding_dimensions, "AI", "TTAI_AI_EMBEDDING_DIMENSIONS")
        return Ai(model, int(dimensions), bedrock=self.client("bedrock-runtime"))

    @cached_property
    def TASK_QUEUE(self) -> Queue:
        return self.queue("TASK_QUEUE")

    @cached_property
    def NOTIFICATION_QUEUE(self) -> Queue:
        return self.queue("NOTIFICATION_QUEUE")

    @cached_property
    def ANALYSIS_QUEUE(self) -> Queue:
        return self.queue("ANALYSIS_QUEUE")

    @cached_property
    def ANALYSIS_WORKFLOW(self) -> Workflow:
        return self.workflow("ANALYSIS_WORKFLOW")

    @cached_property
    def SCREENER_WORKFLOW(self) -> Workflow:
        return self.workflow("SCREENER_WORKFLOW")

    @cached_property
    def EXPORT_WORKFLOW(self) -> Workflow:
        return self.workflow("EXPORT_WORKFLOW")

    @cached_property
    def BACKUP_WORKFLOW(self) -> Workflow:
        return self.workflow("BACKUP_WORKFLOW")

    def workflow(self, binding: str) -> Workflow:
        """The Workflow binding ``binding`` (``ANALYSIS_WORKFLOW``...): its durable function's executions, and the
        workflows table and bucket that hold its instances' records and big values. A runner this process hosts
        for that function (locally) serves it instead; prefer the attributes, which are cached."""
        from ttai.bindings.workflows import Workflow  # noqa: PLC0415
        from ttai.bindings.workflows.backend import hosted  # noqa: PLC0415
        from ttai.workflows import WORKFLOWS  # noqa: PLC0415

        variable = f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX}"
        arn = self._require(self.settings.workflow_arns.get(binding), binding, variable)
        backend = hosted(arn)
        if backend is None:
            from ttai.bindings.workflows.aws import aws_backend  # noqa: PLC0415

            backend = aws_backend(
                arn,
                self._require(self.settings.workflows_table, binding, "TTAI_WORKFLOWS_TABLE"),
                self._workflow_blobs(),
                lambda_client=self.client("lambda"),
                dynamodb_client=self.client("dynamodb"),
            )
        return Workflow(WORKFLOWS[binding].name, backend)

    def workflow_runtime(self) -> WorkflowBackend:
        """What the durable function running a workflow needs: the workflows table and the bucket."""
        from ttai.bindings.workflows.aws import runtime_backend  # noqa: PLC0415

        table = self._require(self.settings.workflows_table, "workflows", "TTAI_WORKFLOWS_TABLE")
        return runtime_backend(table, self._workflow_blobs(), dynamodb_client=self.client("dynamodb"))

    def _workflow_blobs(self) -> BucketBlobs:
        from ttai.bindings.workflows.backend import BucketBlobs  # noqa: PLC0415

        return BucketBlobs(lambda: self.R2)

    def queue(self, binding: str) -> Queue:
        """The producer for a queue binding (``TASK_QUEUE``...); prefer the attributes, which are cached."""
        from ttai.bindings.queues import Queue  # noqa: PLC0415

        url = self._require(self.settings.queue_urls.get(binding), binding, f"TTAI_{binding}{QUEUE_URL_SUFFIX}")
        return Queue(url, sqs=self.client("sqs"), binding=binding)

    @cached_property
    def PUBSUB(self) -> DurableObjectNamespace:
        return self.durable("PUBSUB")

    @cached_property
    def SUBSCRIPTIONS(self) -> DurableObjectNamespace:
        return self.durable("SUBSCRIPTIONS")

    @cached_property
    def PRICE_ALERT(self) -> DurableObjectNamespace:
        return self.durable("PRICE_ALERT")

    @cached_property
    def PORTFOLIO_MONITOR(self) -> DurableObjectNamespace:
        return self.durable("PORTFOLIO_MONITOR")

    def durable(self, binding: str) -> DurableObjectNamespace:
        """A Durable Object namespace (``PUBSUB``...) whose calls invoke the durable host function; prefer the
        attributes, which are cached."""
        from ttai.bindings.durable.namespace import DurableObjectNamespace, LambdaTransport  # noqa: PLC0415

        host = self._require(self.settings.durable_hosts.get(binding), binding, f"TTAI_{binding}{DURABLE_HOST_SUFFIX}")
        return DurableObjectNamespace(binding, LambdaTransport(host, client=self.client("lambda")))

    def function_name(self, binding: str) -> str:
        """The function a lambda binding (``REALTIME``) invokes."""
        return self._require(self.settings.functions.get(binding), binding, f"TTAI_{binding}{FUNCTION_SUFFIX}")

    def secret(self, name: str) -> str:
        """The secret's current value, fetched from Secrets Manager once per container."""
        value = self._secret_version(name, "AWSCURRENT")
        if value is None:
            raise ConfigurationError(f"secret {name} has no current value")
        return value

    def forget_secret(self, name: str) -> None:
        """Drop what this container read of ``name``: the next read fetches it again (a key rotated meanwhile)."""
        with self._lock:
            for stage in ("AWSCURRENT", "AWSPREVIOUS"):
                self._secrets.pop(f"{name}@{stage}", None)

    def secret_versions(self, name: str) -> list[str]:
        """The current value, then the previous one if the secret was rotated (for keys that must still open
        what the old value sealed)."""
        previous = self._secret_version(name, "AWSPREVIOUS")
        return [self.secret(name), *([previous] if previous else [])]

    def _secret_version(self, name: str, stage: str) -> str | None:
        cache_key = f"{name}@{stage}"
        if cache_key in self._secrets:
            return self._secrets[cache_key] or None
        secret_id = self.settings.secret_ids.get(name)
        if not secret_id:
            raise ConfigurationError(f"secret {name} is not bound: set {SECRET_PREFIX}{name} to its ARN")
        with self._lock:
            if cache_key not in self._secrets:
                client = self.client("secretsmanager")
                try:
                    response = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
                except client.exceptions.ResourceNotFoundException:
                    if stage == "AWSCURRENT":
                        raise
                    response = {}  # never rotated: there is no previous version
                except Exception as exc:
                    from ttai.bindings.common import unavailable  # noqa: PLC0415 - only a failure needs it

                    # Throttled or failing for now: a 503 to retry, like a binding's dependency.
                    translated = unavailable(exc, SECRET_STORE)
                    if translated is None:
                        raise
                    raise translated from exc
                self._secrets[cache_key] = response.get("SecretString") or ""
        return self._secrets[cache_key] or None

    def oauth_settings(self) -> OAuthSettings:
        from ttai.auth.oauth import OAuthSettings  # noqa: PLC0415

        s = self.settings
        return OAuthSettings(
            authorize_url=self._require(s.oauth_authorize_url, "OAuth", "TTAI_OAUTH_AUTHORIZE_URL"),
            token_url=self._require(s.oauth_token_url, "OAuth", "TTAI_OAUTH_TOKEN_URL"),
            userinfo_url=self._require(s.oauth_userinfo_url, "OAuth", "TTAI_OAUTH_USERINFO_URL"),
            redirect_uri=self._require(s.oauth_redirect_uri, "OAuth", "TTAI_OAUTH_REDIRECT_URI"),
        )

    def tastytrade_api_url(self) -> str:
        return self._require(self.settings.tastytrade_api_url, "TastyTrade", "TTAI_TASTYTRADE_API_URL")

    @staticmethod
    def _require(value: str | None, binding: str, variable: str) -> str:
        if not value:
            raise ConfigurationError(f"binding {binding} is not available here: {variable} is not set")
        return value
