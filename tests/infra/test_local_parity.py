"""One source, no drift: what the local stack provisions and routes is what the synthesized stack declares."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.http_api import HttpApi
from infra.constructs.queues import Queues
from infra.storage_layout import StorageLayout
from local.gateway import PUBLIC_ROUTES, ROUTES
from local.scheduler import schedule_payload
from local.stack import LocalStack
from tests.infra._template import referenced_ids, resources, ttai_function_ids, variable_target, variables_of
from tests.infra.conftest import Synthesized
from ttai.http.openapi import PUBLIC_OPERATIONS


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


def test_the_local_functions_see_the_variables_the_deployed_ones_do(stack: LocalStack, dev_template: Template) -> None:
    for function in resources(dev_template, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        ours = {name for name in variables if name.startswith("TTAI_")}
        if not ours:
            continue  # a CDK helper function, not ours
        assert ours <= set(stack.environ), f"local stack lacks {ours - set(stack.environ)}"


def test_the_public_routes_are_the_same_locally_and_deployed(dev_template: Template) -> None:
    assert set(HttpApi.PUBLIC_ROUTES) == set(PUBLIC_ROUTES) == PUBLIC_OPERATIONS  # the last: what /openapi.json says
    unauthorized = {
        tuple(route["Properties"]["RouteKey"].split(" ", 1))
        for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values()
        if route["Properties"].get("AuthorizationType", "NONE") == "NONE"
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
    assert deployed == {route.key: route.function for route in ROUTES}


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
