"""Which variables each function sees, locally as on Lambda: its spec's bindings, secrets and vars name them, and
every other variable (AWS endpoints, region, credentials, Powertools' settings) is the runtime's, shared by all.
infra's constructs name the same ones; tests/infra/test_local_parity.py compares them."""

from __future__ import annotations

from collections.abc import Mapping

from ttai.env import SECRET_PREFIX, WORKFLOW_ARN_SUFFIX
from ttai.layout import BindingSpec, FunctionSpec

FUNCTION_PREFIX = "TTAI_"  # what a function's spec decides; every other variable is the runtime's, shared
# The variables each binding type gives a function, as ttai.env reads them (infra's constructs name the same ones:
# tests/infra/test_local_parity.py compares them).
BINDING_VARIABLES = {
    "kv": ("TTAI_KV_TABLE",),
    "d1": ("TTAI_DB_CLUSTER_ARN", "TTAI_DB_SECRET_ARN", "TTAI_DB_NAME"),
    "r2": ("TTAI_R2_BUCKET",),
    "idempotency": ("TTAI_IDEMPOTENCY_TABLE",),
    "limits": ("TTAI_LIMITS_TABLE", "TTAI_LIMITS"),
    "email": ("TTAI_EMAIL_SENDER",),
    "push": ("TTAI_PUSH_TOPIC_ARN",),
    # A Vectorize index is reached through the database's Data API, so it brings the database's variables.
    "vectorize": (
        "TTAI_DB_CLUSTER_ARN",
        "TTAI_DB_SECRET_ARN",
        "TTAI_DB_NAME",
        "TTAI_VECTORIZE_INDEX",
        "TTAI_VECTORIZE_DIMENSIONS",
        "TTAI_VECTORIZE_METRIC",
    ),
    "ai": ("TTAI_AI_EMBEDDING_MODEL", "TTAI_AI_EMBEDDING_DIMENSIONS"),
    "durable_host": (
        "TTAI_DURABLE_TABLE",
        "TTAI_DURABLE_ALARMS_URL",
        "TTAI_DURABLE_ALARMS_ARN",
        "TTAI_DURABLE_SCHEDULE_GROUP",
        "TTAI_DURABLE_SCHEDULE_ROLE_ARN",
    ),
}
# The connections table for each purpose, and what else names the WebSocket API (infra's WebSocketApi.bind).
WEBSOCKET_VARIABLES = {
    "tickets": ("TTAI_CONNECTIONS_TABLE", "TTAI_WEBSOCKET_URL"),
    "redeem": ("TTAI_CONNECTIONS_TABLE",),
    "connections": ("TTAI_CONNECTIONS_TABLE", "TTAI_WEBSOCKET_CALLBACK_URL"),
    "publish": ("TTAI_CONNECTIONS_TABLE",),
}
# Binding types whose one variable is named after the binding: TTAI_<BINDING><suffix>.
NAMED_VARIABLE_SUFFIXES = {"queue": "_URL", "durable": "_HOST", "lambda": "_FUNCTION"}
# Functions other functions (or the WebSocket gateway) wait on: as many execution environments as Lambda would
# scale to for a laptop's load, so a call never queues behind another object's.
CONCURRENT_FUNCTIONS = {"durable": 16, "realtime": 16, "connect_authorizer": 4}
KV_OVERFLOW_VARIABLE = "TTAI_KV_OVERFLOW_BUCKET"
# A workflow's durable function reads the workflows table (wait_for_event's mailbox), as Workflow bindings do.
WORKFLOWS_TABLE_VARIABLE = "TTAI_WORKFLOWS_TABLE"
VAR_VARIABLES = {
    "tastytrade": (
        "TTAI_OAUTH_AUTHORIZE_URL",
        "TTAI_OAUTH_TOKEN_URL",
        "TTAI_OAUTH_USERINFO_URL",
        "TTAI_OAUTH_REDIRECT_URI",
        "TTAI_TASTYTRADE_API_URL",
    )
}


def binding_variables(binding: BindingSpec) -> tuple[str, ...]:
    """The variables naming what ``binding`` reaches (a queue's URL is TTAI_<BINDING>_URL, as env.queue reads)."""
    if binding.type in NAMED_VARIABLE_SUFFIXES:
        return (f"TTAI_{binding.name}{NAMED_VARIABLE_SUFFIXES[binding.type]}",)
    if binding.type == "workflow":
        return (f"TTAI_{binding.name}{WORKFLOW_ARN_SUFFIX}", WORKFLOWS_TABLE_VARIABLE)
    if binding.type == "websocket":
        return WEBSOCKET_VARIABLES[str(binding.access)]
    if binding.type == "kv" and binding.overflow:
        return (*BINDING_VARIABLES["kv"], KV_OVERFLOW_VARIABLE)
    return BINDING_VARIABLES[binding.type]


def runtime_environ(stack_environ: Mapping[str, str]) -> dict[str, str]:
    """What every function sees whatever its spec: AWS endpoints, region, credentials, Powertools settings."""
    return {name: value for name, value in stack_environ.items() if not name.startswith(FUNCTION_PREFIX)}


def function_environ(spec: FunctionSpec, stack_environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the function ``spec`` declares sees, out of every function's (``stack_environ``): the
    runtime's, TTAI_ENVIRONMENT, and those of its bindings, secrets and vars (and a workflow's, its table)."""
    names = ["TTAI_ENVIRONMENT"]
    if spec.workflow:
        names.append(WORKFLOWS_TABLE_VARIABLE)
    for binding in spec.bindings:
        names += binding_variables(binding)
    names += [f"{SECRET_PREFIX}{name}" for name in spec.secrets]
    for group in spec.vars:
        names += VAR_VARIABLES[group]
    return {**runtime_environ(stack_environ), **{name: stack_environ[name] for name in names}}
