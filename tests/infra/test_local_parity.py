"""One source, no drift: what the local stack provisions and routes is what the synthesized stack declares."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.durable_objects import SCHEDULE_ACTIONS
from infra.constructs.http_api import HttpApi
from infra.constructs.idempotency import RECORD_ACTIONS
from infra.constructs.limits import ITEM_ACTIONS as LIMITS_ACTIONS
from infra.constructs.queues import Queues
from infra.constructs.storage import LIST_ACTIONS, OBJECT_ACTIONS
from infra.constructs.workflows import RECORD_ACTIONS as WORKFLOW_RECORD_ACTIONS
from infra.constructs.workflows import STEER_ACTIONS
from infra.storage_layout import (
    USER_OBJECTS,
    AiBinding,
    D1Binding,
    DurableBinding,
    DurableHostBinding,
    EmailBinding,
    IdempotencyBinding,
    KvBinding,
    LambdaBinding,
    LimitsBinding,
    PushBinding,
    QueueBinding,
    R2Binding,
    StorageLayout,
    VectorizeBinding,
    WebSocketBinding,
    WorkflowBinding,
)
from local.gateway import PUBLIC_ROUTES, ROUTES
from local.scheduler import schedule_payload
from local.stack import LocalStack
from local.variables import VAR_VARIABLES
from tests.infra._template import (
    Resource,
    actions_of,
    as_list,
    referenced_ids,
    resources,
    statements_of_function,
    statements_on,
    ttai_function_ids,
    ttai_functions,
    variable_target,
    variables_of,
)
from tests.infra.conftest import Synthesized
from ttai.bindings.workflows.backend import hosted
from ttai.http.openapi import PUBLIC_OPERATIONS
from ttai.layout import function_specs


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(scope="module")
def dev_template(synthesized: Synthesized) -> Template:
    return synthesized.templates["dev"]


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {item[key]: item for item in items}


def test_the_local_kv_table_has_the_deployed_keys_index_and_ttl(stack: LocalStack, dev_template: Template) -> None:
    deployed = resources(dev_template, "AWS::DynamoDB::Table")[variable_target(dev_template, "api", "TTAI_KV_TABLE")][
        "Properties"
    ]
    local = stack.client("dynamodb").describe_table(TableName=stack.environ["TTAI_KV_TABLE"])["Table"]
    assert local["KeySchema"] == deployed["KeySchema"]
    assert _by_name(local["AttributeDefinitions"], "AttributeName") == _by_name(
        deployed["AttributeDefinitions"], "AttributeName"
    )
    local_indexes = _by_name(local["GlobalSecondaryIndexes"], "IndexName")
    deployed_indexes = _by_name(deployed["GlobalSecondaryIndexes"], "IndexName")
    assert local_indexes.keys() == deployed_indexes.keys()
    for name, index in deployed_indexes.items():
        assert local_indexes[name]["KeySchema"] == index["KeySchema"]
        assert local_indexes[name]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
        assert sorted(local_indexes[name]["Projection"]["NonKeyAttributes"]) == sorted(
            index["Projection"]["NonKeyAttributes"]
        )
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=stack.environ["TTAI_KV_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]


# ---------------------------------------------------------------------------------------------- function specs

DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
OVERFLOW_WRITES = {"s3:PutObject", "s3:DeleteObject*"}
SECRET_READS = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
SQS_CONSUMES = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def _present(found: object) -> None:
    assert found


def _queue_arn(stack: LocalStack, arn: str) -> bool:
    """The alarm queue's ARN (the durable host's schedules target it)."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.durable_alarms_url, AttributeNames=["QueueArn"]
    )
    return bool(arn == attributes["Attributes"]["QueueArn"])


# How to find, on the local stack, the twin of a deployed resource a variable names (each raises if it is absent).
_LOCAL_TWIN: dict[str, Callable[[LocalStack, str], None]] = {
    "AWS::DynamoDB::Table": lambda stack, name: _present(stack.client("dynamodb").describe_table(TableName=name)),
    "AWS::S3::Bucket": lambda stack, name: _present(stack.client("s3").head_bucket(Bucket=name)),
    "AWS::SQS::Queue": lambda stack, url: _present(
        url in stack.queue_urls.values() or url == stack.durable_alarms_url or _queue_arn(stack, url)
    ),
    "AWS::SecretsManager::Secret": lambda stack, arn: _present(
        stack.client("secretsmanager").describe_secret(SecretId=arn)
    ),
    "AWS::SNS::Topic": lambda stack, arn: _present(stack.client("sns").get_topic_attributes(TopicArn=arn)),
    "AWS::RDS::DBCluster": lambda stack, arn: _present(arn == stack.cluster_arn),
    # The secret Aurora keeps the master user's credentials in: the local Data API's.
    "AWS::RDS::DBCluster.MasterUserSecret.SecretArn": lambda stack, arn: _present(
        json.loads(stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])["engine"]
        == "postgres"
    ),
    "AWS::ApiGatewayV2::Api": lambda stack, url: _present(
        url
        in {
            f"{stack.public_url}{HttpApi.CALLBACK_PATH}",
            stack.websocket_url,
            stack.websockets.callback_url if stack.websockets else None,
        }
    ),
    "AWS::Lambda::Function": lambda stack, name: _present(name in {f.name for f in stack.functions.values()}),
    "AWS::Scheduler::ScheduleGroup": lambda stack, name: _present(
        stack.client("scheduler").get_schedule_group(Name=name)
    ),
    "AWS::IAM::Role": lambda stack, arn: _present(
        stack.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]["Arn"] == arn
    ),
    # A workflow function's alias: the local runner serves that ARN.
    "AWS::Lambda::Alias": lambda stack, arn: _present(hosted(arn) is not None),
}


# Attributes that name a resource of their own (Aurora's secret is not the cluster): granted and twinned apart.
_OWN_TWIN_ATTRIBUTES = frozenset({"MasterUserSecret.SecretArn"})


def _targets_in(value: object) -> set[str]:
    """The logical IDs a value references, as `ID.Attribute` for one of _OWN_TWIN_ATTRIBUTES."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] in _OWN_TWIN_ATTRIBUTES:
        return {".".join(value["Fn::GetAtt"])}
    return referenced_ids(value)


def _targets(template: Template, function: str) -> dict[str, str]:
    """Each TTAI_* variable of a deployed function that names a resource, and that resource's logical ID."""
    targets = {}
    for variable, value in variables_of(template, function).items():
        ids = _targets_in(value)
        if variable.startswith("TTAI_") and ids:
            [targets[variable]] = ids
    return targets


def _twin_kind(kinds: dict[str, str], target: str) -> str:
    logical_id, _, attribute = target.partition(".")
    return f"{kinds[logical_id]}.{attribute}" if attribute else kinds[logical_id]


def test_the_runtime_reads_the_specs_infra_reads(layout: StorageLayout) -> None:
    runtime = function_specs()
    assert list(runtime) == list(layout.functions)
    for name, spec in layout.functions.items():
        ours = runtime[name]
        assert (ours.description, ours.handler, ours.consumes, ours.secrets, ours.layers, ours.vars, ours.workflow) == (
            spec.description,
            spec.handler,
            spec.consumes,
            spec.secrets,
            spec.layers,
            spec.vars,
            spec.workflow,
        )
        assert [(b.name, b.type) for b in ours.bindings] == [(n, b.type) for n, b in spec.bindings.items()]
        for binding in ours.bindings:
            deployed = spec.bindings[binding.name]
            if isinstance(deployed, KvBinding):
                assert (binding.access, binding.overflow) == (deployed.access, deployed.overflow)
            if isinstance(deployed, R2Binding):
                assert dict(binding.prefixes) == deployed.prefixes
            if isinstance(deployed, WorkflowBinding):
                assert binding.access == deployed.access
            if isinstance(deployed, VectorizeBinding):
                assert binding.vector_index == deployed.index
            if isinstance(deployed, WebSocketBinding):
                assert binding.access == deployed.access
            if isinstance(deployed, LambdaBinding):
                assert binding.function == deployed.function


def test_every_local_trigger_invokes_the_stacks_spec_built_functions(stack: LocalStack) -> None:
    assert set(stack.functions) == set(stack.specs)
    assert stack.gateway is not None
    assert stack.gateway.authorizer is stack.functions["authorizer"]
    assert stack.gateway.functions == {"api": stack.functions["api"], "auth": stack.functions["auth"]}
    assert stack.poller.function is stack.functions["consumer"]
    assert stack.scheduler.function is stack.functions["scheduler"]
    assert stack.alarm_poller.function is stack.functions["durable"]
    assert stack.alarms.deliver is stack.functions["durable"]
    assert stack.websockets is not None
    assert stack.lambda_api is not None
    assert stack.lambda_api.functions is stack.functions
    assert stack.functions["migrate"].invocations == 1  # the migrations the stack applied at start


def test_each_local_function_sees_exactly_the_deployed_functions_variables(
    stack: LocalStack, dev_template: Template, synthesized: Synthesized
) -> None:
    config: EnvironmentConfig = synthesized.configs["dev"]
    assert set(stack.functions) == set(ttai_function_ids(dev_template))
    for name, function in stack.functions.items():
        assert function.environ is not None
        local = {variable for variable in function.environ if variable.startswith("TTAI_")}
        deployed = {variable for variable in variables_of(dev_template, name) if variable.startswith("TTAI_")}
        # The one variable configuration decides: dev names no email sender, the local stack verifies one.
        emails = any(binding.type == "email" for binding in stack.specs[name].bindings)
        unconfigured = {"TTAI_EMAIL_SENDER"} if emails and config.notifications.email_sender is None else set()
        assert local == deployed | unconfigured, name
        # Nothing else is the function's own: the rest is what the runtime gives every function.
        runtime = {variable: value for variable, value in function.environ.items() if variable not in local}
        assert runtime == stack.runtime_environ, name
    assert not any(variable.startswith("TTAI_") for variable in stack.runtime_environ)


def test_each_local_variable_names_the_local_twin_of_what_the_deployed_one_names(
    stack: LocalStack, dev_template: Template
) -> None:
    kinds = {logical_id: resource["Type"] for logical_id, resource in dev_template.to_json()["Resources"].items()}
    # By resource and variable: one resource may be named two ways (the alarm queue's URL and ARN, the WebSocket
    # API's URL and @connections endpoint), each the same for every function.
    twins: dict[tuple[str, str], str] = {}
    for name, function in stack.functions.items():
        assert function.environ is not None
        for variable, target in _targets(dev_template, name).items():
            value = function.environ[variable]
            assert twins.setdefault((target, variable), value) == value, (name, variable)
    owners: dict[str, set[str]] = {}
    for (target, _), local in twins.items():
        owners.setdefault(local, set()).add(target)
    assert all(len(targets) == 1 for targets in owners.values()), "two deployed resources share one local twin"
    for (target, _), local in twins.items():
        _LOCAL_TWIN[_twin_kind(kinds, target)](stack, local)


def _resource_key(resource: Any) -> str:
    """An ARN naming no resource of the stack (a Bedrock model's) as its expression's JSON, else the ARN itself."""
    return json.dumps(resource, sort_keys=True) if isinstance(resource, dict) else str(resource)


def _granted(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Logical ID (or '*', or an ARN of what the stack does not own) -> the actions statements grant on it."""
    granted: dict[str, set[str]] = {}
    for statement in statements:
        for resource in as_list(statement["Resource"]):
            for target in _targets_in(resource) or {_resource_key(resource)}:
                granted.setdefault(target, set()).update(actions_of(statement))
    return granted


def _model_arn(layout: StorageLayout) -> str:
    """The embedding model's ARN in the stack's partition and region: foundation models have no account."""
    arn = ["arn:", {"Ref": "AWS::Partition"}, ":bedrock:", {"Ref": "AWS::Region"}]
    return _resource_key({"Fn::Join": ["", [*arn, f"::foundation-model/{layout.ai.embedding_model}"]]})


def _destinations(template: Template, function_id: str) -> set[str]:
    """Where the function's failed asynchronous invocations go (the scheduler's): Lambda sends with its role."""
    return {
        target
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": function_id}
        for target in referenced_ids(config["Properties"].get("DestinationConfig", {}))
    }


def _bucket_grants(statements: list[dict[str, Any]], bucket_id: str) -> set[tuple[str, str]]:
    """(action, key pattern) pairs granted in a bucket: object ARNs' suffixes, or a listing's s3:prefix condition."""
    pairs = set()
    for statement in statements_on(statements, bucket_id):
        for resource in as_list(statement["Resource"]):
            if "Fn::Join" in resource:
                patterns = [resource["Fn::Join"][1][1].removeprefix("/")]
            else:
                patterns = as_list(statement["Condition"]["StringLike"]["s3:prefix"])
            pairs |= {(action, pattern) for action in actions_of(statement) for pattern in patterns}
    return pairs


def _implied_bucket_grants(binding: R2Binding, layout: StorageLayout) -> set[tuple[str, str]]:
    user_roots = {layout.bucket.prefix(p) for p, template in layout.bucket.prefixes.items() if "{user_id}" in template}
    [user_root] = user_roots
    pairs = set()
    for scope, operations in binding.prefixes.items():
        prefix = user_root if scope == USER_OBJECTS else layout.bucket.prefixes[scope].replace("{user_id}", "*")
        for operation in operations:
            actions = LIST_ACTIONS if operation == "list" else OBJECT_ACTIONS[operation]
            pairs |= {(action, f"{prefix}*") for action in actions}
    return pairs


class _Role:
    """One deployed function's grants, and what its variables name."""

    def __init__(self, template: Template, function: str) -> None:
        self.statements = statements_of_function(template, function)
        self.granted = _granted(self.statements)
        self.targets = _targets(template, function)
        self.variables = variables_of(template, function)


def _check_binding(name: str, binding: Any, role: _Role, layout: StorageLayout) -> None:
    """What one binding of the spec implies the role may do on what its variables name."""
    granted, targets = role.granted, role.targets
    match binding:
        case KvBinding():
            table = granted[targets["TTAI_KV_TABLE"]]
            assert "dynamodb:GetItem" in table
            assert bool(table & DYNAMODB_WRITES) is (binding.access == "read_write")
            assert ("TTAI_KV_OVERFLOW_BUCKET" in targets) is binding.overflow
            if binding.overflow:
                overflow = granted[targets["TTAI_KV_OVERFLOW_BUCKET"]]
                assert bool(overflow & OVERFLOW_WRITES) is (binding.access == "read_write")
        case D1Binding():
            assert "rds-data:ExecuteStatement" in granted[targets["TTAI_DB_CLUSTER_ARN"]]
            assert granted[targets["TTAI_DB_SECRET_ARN"]] == SECRET_READS
        case R2Binding():
            bucket = targets["TTAI_R2_BUCKET"]
            assert _bucket_grants(role.statements, bucket) == _implied_bucket_grants(binding, layout)
        case QueueBinding():
            assert "sqs:SendMessage" in granted[targets[f"TTAI_{name}_URL"]]
        case IdempotencyBinding() | LimitsBinding():
            _check_table_binding(binding, role)
        case PushBinding():
            assert granted[targets["TTAI_PUSH_TOPIC_ARN"]] == {"sns:Publish"}
        case EmailBinding():
            assert "TTAI_EMAIL_SENDER" not in targets  # an address, not a resource; its grant is test_queues'
        case WorkflowBinding():
            assert granted[targets[f"TTAI_{name}_ARN"]] == {"lambda:InvokeFunction"}
            assert granted[targets["TTAI_WORKFLOWS_TABLE"]] == set(WORKFLOW_RECORD_ACTIONS)
        case VectorizeBinding():
            # pgvector in the database: reached as D1 is, the index named with its configuration.
            assert "rds-data:ExecuteStatement" in granted[targets["TTAI_DB_CLUSTER_ARN"]]
            assert granted[targets["TTAI_DB_SECRET_ARN"]] == SECRET_READS
            index = layout.vectorize.indexes[binding.index]
            assert (
                role.variables["TTAI_VECTORIZE_INDEX"],
                role.variables["TTAI_VECTORIZE_DIMENSIONS"],
                role.variables["TTAI_VECTORIZE_METRIC"],
            ) == (binding.index, str(index.dimensions), index.metric)
        case AiBinding():
            assert granted[_model_arn(layout)] == {"bedrock:InvokeModel"}
            assert (role.variables["TTAI_AI_EMBEDDING_MODEL"], role.variables["TTAI_AI_EMBEDDING_DIMENSIONS"]) == (
                layout.ai.embedding_model,
                str(layout.ai.embedding_dimensions),
            )
        case DurableBinding() | LambdaBinding() | DurableHostBinding() | WebSocketBinding():
            _check_realtime_binding(name, binding, role)


def _check_table_binding(binding: IdempotencyBinding | LimitsBinding, role: _Role) -> None:
    """A table the function keeps records in: exactly the actions its construct names."""
    granted, targets = role.granted, role.targets
    match binding:
        case IdempotencyBinding():
            assert granted[targets["TTAI_IDEMPOTENCY_TABLE"]] == set(RECORD_ACTIONS)
        case LimitsBinding():
            assert granted[targets["TTAI_LIMITS_TABLE"]] == set(LIMITS_ACTIONS)
            assert "TTAI_LIMITS" not in targets  # the buckets' settings, not a resource


_TABLE_ONLY = {
    "tickets": {"dynamodb:PutItem"},
    "redeem": {"dynamodb:DeleteItem"},
    "publish": {"dynamodb:BatchGetItem"},
}


def _check_realtime_binding(name: str, binding: Any, role: _Role) -> None:
    """Durable Objects, the WebSocket API and function invokes: what each binding implies, on what it names."""
    granted, targets = role.granted, role.targets
    match binding:
        case DurableBinding():
            assert granted[targets[f"TTAI_{name}_HOST"]] == {"lambda:InvokeFunction"}
        case LambdaBinding():
            assert granted[targets[f"TTAI_{name}_FUNCTION"]] == {"lambda:InvokeFunction"}
        case DurableHostBinding():
            assert granted[targets["TTAI_DURABLE_TABLE"]] >= DYNAMODB_WRITES
            assert "sqs:SendMessage" in granted[targets["TTAI_DURABLE_ALARMS_URL"]]
            assert granted[targets["TTAI_DURABLE_SCHEDULE_GROUP"]] == set(SCHEDULE_ACTIONS)
            assert granted[targets["TTAI_DURABLE_SCHEDULE_ROLE_ARN"]] == {"iam:PassRole"}
        case WebSocketBinding():
            table = granted[targets["TTAI_CONNECTIONS_TABLE"]]
            if binding.access == "connections":
                assert table >= DYNAMODB_WRITES
                assert granted[targets["TTAI_WEBSOCKET_CALLBACK_URL"]] == {"execute-api:ManageConnections"}
            else:
                assert table == _TABLE_ONLY[binding.access]
                assert "TTAI_WEBSOCKET_CALLBACK_URL" not in targets


def test_each_function_is_granted_on_exactly_what_its_spec_names_and_as_the_spec_says(
    dev_template: Template, layout: StorageLayout
) -> None:
    functions = ttai_functions(dev_template)
    queue_ids = _queue_ids(dev_template)
    workflow_ids = {
        spec.workflow: ttai_function_ids(dev_template)[name] for name, spec in layout.functions.items() if spec.workflow
    }
    for name, spec in layout.functions.items():
        function: Resource = functions[name]
        role = _Role(dev_template, name)
        granted, targets = role.granted, role.targets
        own_logs = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        consumed = {queue_ids[binding] for binding in spec.consumes}
        function_id = ttai_function_ids(dev_template)[name]
        # Whole: nothing granted that no variable names, no variable naming what is not granted (but settings: the
        # OAuth redirect URI names the HTTP API, which the function is sent to, not granted).
        # So is the WebSocket URL a ticket opens: clients connect to it, the function issuing tickets is granted
        # nothing on the API.
        settings = {variable for group in spec.vars for variable in VAR_VARIABLES[group]} | {"TTAI_WEBSOCKET_URL"}
        named = {target for variable, target in targets.items() if variable not in settings}
        # A workflow's function checkpoints its own executions; a Workflow binding that manages runs steers the
        # executions of that workflow's function (its variable names the alias).
        steered = {
            workflow_ids[binding_name]
            for binding_name, binding in spec.bindings.items()
            if isinstance(binding, WorkflowBinding) and binding.access == "manage"
        }
        own = {function_id} if spec.workflow else set()
        models = {_model_arn(layout)} if spec.bindings_of(AiBinding) else set()
        expected = {
            "*",
            own_logs,
            *named,
            *consumed,
            *_destinations(dev_template, function_id),
            *steered,
            *own,
            *models,
        }
        assert set(granted) == expected, name
        for workflow, workflow_id in workflow_ids.items():
            steers = granted.get(workflow_id, set()) & set(STEER_ACTIONS)
            assert steers == (set(STEER_ACTIONS) if workflow_id in steered else set()), (name, workflow)
        for binding_name, binding in spec.bindings.items():
            _check_binding(binding_name, binding, role, layout)
        secrets = {targets[f"TTAI_SECRET_{secret}"] for secret in spec.secrets}
        for secret in secrets:
            assert granted[secret] == SECRET_READS, (name, secret)
        for queue, queue_id in queue_ids.items():
            assert ("sqs:SendMessage" in granted.get(queue_id, set())) is (queue in spec.bindings), (name, queue)
            assert (granted.get(queue_id, set()) >= SQS_CONSUMES) is (queue in spec.consumes), (name, queue)


def test_the_public_routes_are_the_same_locally_and_deployed(dev_template: Template) -> None:
    assert set(HttpApi.PUBLIC_ROUTES) == set(PUBLIC_ROUTES) == PUBLIC_OPERATIONS  # the last: what /openapi.json says
    unauthorized = {
        tuple(route["Properties"]["RouteKey"].split(" ", 1))
        for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values()
        if route["Properties"].get("AuthorizationType", "NONE") == "NONE"
        and not route["Properties"]["RouteKey"].startswith("$")  # the WebSocket API's (next test)
    }
    assert unauthorized == set(PUBLIC_ROUTES)


def test_each_route_reaches_the_same_function_locally_and_deployed(dev_template: Template) -> None:
    names = {logical_id: name for name, logical_id in ttai_function_ids(dev_template).items()}
    integrations = resources(dev_template, "AWS::ApiGatewayV2::Integration")
    deployed = {}
    for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        [function_id] = referenced_ids(integrations[integration_id]["Properties"]["IntegrationUri"])
        deployed[route["Properties"]["RouteKey"]] = names[function_id]
    websocket = {key: deployed.pop(key) for key in list(deployed) if key.startswith("$")}
    assert deployed == {route.key: route.function for route in ROUTES}
    # The WebSocket API: every route to the realtime function, locally too (its gateway invokes that function).
    assert websocket == dict.fromkeys(("$connect", "$default", "$disconnect"), "realtime")


def test_the_websocket_api_authorizes_connect_alone_with_a_ticket_as_the_local_gateway(
    stack: LocalStack, dev_template: Template
) -> None:
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values()
        if route["Properties"]["RouteKey"].startswith("$")
    }
    assert {key: route.get("AuthorizationType", "NONE") for key, route in routes.items()} == {
        "$connect": "CUSTOM",
        "$default": "NONE",
        "$disconnect": "NONE",
    }
    [authorizer] = [
        a["Properties"]
        for a in resources(dev_template, "AWS::ApiGatewayV2::Authorizer").values()
        if a["Properties"]["AuthorizerType"] == "REQUEST"
        and "IdentitySource" in a["Properties"]
        and a["Properties"]["IdentitySource"] == ["route.request.querystring.ticket"]
    ]
    assert stack.websockets is not None
    assert tuple(authorizer["IdentitySource"]) == stack.websockets.identity_source
    assert set(stack.websockets.routes) == set(routes)


def _queue_ids(template: Template) -> dict[str, str]:
    """The deployed queues by binding, as their producers' TTAI_<BINDING>_URL name them."""
    return {
        name.removeprefix("TTAI_").removesuffix("_URL"): variable_target(template, function, name)
        for function in ttai_function_ids(template)
        for name in variables_of(template, function)
        if name.endswith("_QUEUE_URL")
    }


def test_the_local_queues_redrive_as_the_deployed_ones(stack: LocalStack, dev_template: Template) -> None:
    queues = resources(dev_template, "AWS::SQS::Queue")
    sqs = stack.client("sqs")
    deployed_ids = _queue_ids(dev_template)
    assert set(stack.queue_urls) == set(stack.dlq_urls) == set(deployed_ids)
    for binding, queue_id in deployed_ids.items():
        deployed = queues[queue_id]["Properties"]
        local = sqs.get_queue_attributes(QueueUrl=stack.queue_urls[binding], AttributeNames=["All"])["Attributes"]
        # Same short name (ttai-dev-tasks / <stack>-tasks) and the same number of receives before the DLQ.
        assert deployed["QueueName"].removeprefix("ttai-dev-") == local["QueueArn"].rsplit(":", 1)[1].removeprefix(
            f"{stack.name}-"
        )
        redrive = json.loads(local["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == deployed["RedrivePolicy"]["maxReceiveCount"]
        [deployed_dlq] = referenced_ids(deployed["RedrivePolicy"]["deadLetterTargetArn"])
        local_dlq = sqs.get_queue_attributes(QueueUrl=stack.dlq_urls[binding], AttributeNames=["All"])["Attributes"]
        assert redrive["deadLetterTargetArn"] == local_dlq["QueueArn"]
        assert int(local_dlq["MessageRetentionPeriod"]) == queues[deployed_dlq]["Properties"]["MessageRetentionPeriod"]


def test_the_local_poller_batches_as_the_deployed_event_sources(stack: LocalStack, dev_template: Template) -> None:
    mappings = {
        next(iter(referenced_ids(mapping["Properties"]["EventSourceArn"]))): mapping["Properties"]
        for mapping in resources(dev_template, "AWS::Lambda::EventSourceMapping").values()
    }
    queue_ids = _queue_ids(dev_template)
    for binding in stack.queue_urls:
        deployed = mappings[queue_ids[binding]]
        polled = stack.poller.queue(binding)
        assert (polled.batch_size, polled.batch_window_seconds) == (
            deployed["BatchSize"],
            deployed["MaximumBatchingWindowInSeconds"],
        )


def test_the_runtime_and_infra_read_the_same_ai_and_vectorize_layout(stack: LocalStack, layout: StorageLayout) -> None:
    assert stack.layout.ai == (layout.ai.embedding_model, layout.ai.embedding_dimensions)
    assert {name: (i.dimensions, i.metric) for name, i in stack.layout.vector_indexes.items()} == {
        name: (i.dimensions, i.metric) for name, i in layout.vectorize.indexes.items()
    }
    # The knowledge base's vectors are the embedding model's: the index every VECTORIZE binding names has its
    # dimensions.
    indexes = {b.index for spec in layout.functions.values() for b in spec.bindings_of(VectorizeBinding).values()}
    assert {layout.vectorize.indexes[name].dimensions for name in indexes} == {layout.ai.embedding_dimensions}


def test_the_runtime_and_infra_read_the_same_queue_layout(stack: LocalStack, layout: StorageLayout) -> None:
    runtime = {
        queue.binding: (queue.name, queue.batch_size, queue.batch_window_seconds, queue.max_receive_count)
        for queue in stack.layout.queues
    }
    deployed = {
        binding: (spec.name, spec.batch_size, spec.batch_window_seconds, spec.max_receive_count)
        for binding, spec in layout.queues.items()
    }
    assert runtime == deployed


def test_the_deployed_visibility_follows_the_consumer_timeout_and_the_local_one_is_the_stacks_choice(
    stack: LocalStack, dev_template: Template, synthesized: Synthesized, layout: StorageLayout
) -> None:
    # Deployed: 6x the consumer's timeout plus the batch window. Locally the consumer runs in-process without a
    # timeout, so visibility only spaces out redeliveries, and LocalStack(queue_visibility_timeout=...) sets it.
    config: EnvironmentConfig = synthesized.configs["dev"]
    local_default = inspect.signature(LocalStack).parameters["queue_visibility_timeout"].default
    queues = resources(dev_template, "AWS::SQS::Queue")
    queue_ids = _queue_ids(dev_template)
    sqs = stack.client("sqs")
    for binding, spec in layout.queues.items():
        deployed = queues[queue_ids[binding]]["Properties"]
        timeout = config.functions.consumer.timeout_seconds
        assert deployed["VisibilityTimeout"] == Queues.visibility_timeout(timeout, spec) >= 6 * timeout
        local = sqs.get_queue_attributes(QueueUrl=stack.queue_urls[binding], AttributeNames=["VisibilityTimeout"])
        assert int(local["Attributes"]["VisibilityTimeout"]) == local_default


def test_the_local_bucket_is_versioned_as_the_deployed_one(stack: LocalStack, dev_template: Template) -> None:
    deployed = resources(dev_template, "AWS::S3::Bucket")[variable_target(dev_template, "api", "TTAI_R2_BUCKET")]
    local = stack.client("s3").get_bucket_versioning(Bucket=stack.environ["TTAI_R2_BUCKET"])
    assert local["Status"] == deployed["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_the_local_idempotency_table_has_the_deployed_key_and_ttl(stack: LocalStack, dev_template: Template) -> None:
    table_id = variable_target(dev_template, "consumer", "TTAI_IDEMPOTENCY_TABLE")
    deployed = resources(dev_template, "AWS::DynamoDB::Table")[table_id]["Properties"]
    dynamodb = stack.client("dynamodb")
    name = stack.environ["TTAI_IDEMPOTENCY_TABLE"]
    local = dynamodb.describe_table(TableName=name)["Table"]
    assert local["KeySchema"] == deployed["KeySchema"]
    assert local["AttributeDefinitions"] == deployed["AttributeDefinitions"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]


_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # datetime.weekday() order


def _numbers(field: str) -> set[int]:
    """The values of a cron field of numbers, ranges and lists (the subset storage.json's crons use)."""
    values: set[int] = set()
    for item in field.split(","):
        low, _, high = item.partition("-")
        values |= set(range(int(low), int(high or low) + 1))
    return values


def _days(field: str) -> set[str]:
    if field in {"?", "*"}:
        return set(_WEEKDAYS)
    days: set[str] = set()
    for item in field.split(","):
        first, _, last = item.partition("-")
        start, end = _WEEKDAYS.index(first), _WEEKDAYS.index(last or first)
        days |= set(_WEEKDAYS[start : end + 1])
    return days


def _deployed_fires(expression: str) -> set[tuple[str, int, int]]:
    """(weekday, hour, minute) an EventBridge cron(m h dom mon dow year) fires at, for every-month crons."""
    minute, hour, day_of_month, month, day_of_week, year = expression.removeprefix("cron(").removesuffix(")").split()
    assert (day_of_month, month, year) in {("?", "*", "*"), ("*", "*", "*")}, expression
    return {(day, h, m) for day in _days(day_of_week) for h in _numbers(hour) for m in _numbers(minute)}


def test_the_local_scheduler_fires_what_the_deployed_schedules_fire(stack: LocalStack, dev_template: Template) -> None:
    deployed = {}
    for schedule in resources(dev_template, "AWS::Scheduler::Schedule").values():
        properties = schedule["Properties"]
        payload = json.loads(properties["Target"]["Input"])
        deployed[payload["job_type"]] = (properties, payload)
    local = stack.scheduler
    assert set(local.schedules) == set(deployed)
    # A week of local fires, in New York wall time, from a Monday at midnight there. Not the week of a DST change:
    # on spring-forward night 02:00 does not exist, and both sides skip it (the backup's one missed night a year).
    start = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)  # 00:00 EDT
    for job, (properties, payload) in deployed.items():
        assert properties["ScheduleExpressionTimezone"] == str(local.timezone)
        fired: set[tuple[str, int, int]] = set()
        at = start
        while True:
            at = local.next_fires(at)[job]
            if at >= start + timedelta(days=7):
                break
            wall = at.astimezone(local.timezone)
            fired.add((_WEEKDAYS[wall.weekday()], wall.hour, wall.minute))
        assert fired == _deployed_fires(properties["ScheduleExpression"]), job
        # The same payload, keys and cron string, as the function receives it from either side.
        local_payload = schedule_payload(job, local.schedules[job].cron, start)
        assert local_payload.keys() == payload.keys()
        assert (local_payload["job_type"], local_payload["cron"]) == (payload["job_type"], payload["cron"])
        assert payload["scheduled_time"] == "<aws.scheduler.scheduled-time>"


def test_the_local_workflows_table_and_function_arns_are_the_deployed_ones(
    stack: LocalStack, dev_template: Template
) -> None:
    from infra.constructs.workflows import ALIAS  # noqa: PLC0415

    table_id = variable_target(dev_template, "backup_workflow", "TTAI_WORKFLOWS_TABLE")
    deployed = resources(dev_template, "AWS::DynamoDB::Table")[table_id]["Properties"]
    local = stack.client("dynamodb").describe_table(TableName=stack.environ["TTAI_WORKFLOWS_TABLE"])["Table"]
    assert local["KeySchema"] == deployed["KeySchema"]
    assert _by_name(local["AttributeDefinitions"], "AttributeName") == _by_name(
        deployed["AttributeDefinitions"], "AttributeName"
    )
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=stack.environ["TTAI_WORKFLOWS_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]
    # Every binding the deployed stack gives a function exists locally, qualified by the same alias.
    bindings = {
        name
        for function in ("api", "scheduler")
        for name in variables_of(dev_template, function)
        if name.endswith("_WORKFLOW_ARN")
    }
    assert bindings == {f"TTAI_{b}_WORKFLOW_ARN" for b in ("ANALYSIS", "SCREENER", "EXPORT", "BACKUP")}
    assert {stack.environ[name].rsplit(":", 1)[1] for name in bindings} == {ALIAS}


def test_the_http_apis_authorizer_and_cors_are_played_as_deployed(dev_template: Template, stack: LocalStack) -> None:
    assert stack.gateway is not None
    [authorizer] = [
        a["Properties"]
        for a in resources(dev_template, "AWS::ApiGatewayV2::Authorizer").values()
        if a["Properties"].get("AuthorizerPayloadFormatVersion") == "2.0"
    ]
    # No identity source and no cache: the local gateway calls the authorizer for every authorized request too.
    assert tuple(authorizer.get("IdentitySource", ())) == HttpApi.IDENTITY_SOURCES == stack.gateway.identity_sources
    assert authorizer["AuthorizerResultTtlInSeconds"] == stack.gateway.authorizer_cache_ttl == 0
    [api] = [
        a["Properties"]
        for a in resources(dev_template, "AWS::ApiGatewayV2::Api").values()
        if a["Properties"]["ProtocolType"] == "HTTP"
    ]
    cors = api["CorsConfiguration"]
    local = stack.gateway.cors
    assert local is not None
    assert set(cors["AllowOrigins"]) == local.allow_origins
    assert (cors["AllowMethods"], cors["AllowHeaders"], cors["ExposeHeaders"]) == (
        list(local.allow_methods),
        list(local.allow_headers),
        list(local.expose_headers),
    )
    assert (cors["AllowCredentials"], cors["MaxAge"]) == (local.allow_credentials, local.max_age_seconds)
