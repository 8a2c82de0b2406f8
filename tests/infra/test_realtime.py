"""Real time as deployed: the WebSocket API (ticket authorizer on $connect, routes, stage, connections table), the
Durable Object host (its table, alarm queue, schedules) and who may post to clients, asserted on the template."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.storage_layout import StorageLayout
from tests.infra._template import (
    Resource,
    actions_of,
    as_list,
    referenced_ids,
    resources,
    statements_of_function,
    statements_on,
    ttai_function_ids,
    variable_target,
)


def _websocket_api(template: Template) -> tuple[str, Resource]:
    [found] = [
        (i, r)
        for i, r in resources(template, "AWS::ApiGatewayV2::Api").items()
        if r["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    return found


def _of_api(template: Template, kind: str, api_id: str) -> dict[str, Resource]:
    return {
        i: r
        for i, r in resources(template, f"AWS::ApiGatewayV2::{kind}").items()
        if r["Properties"]["ApiId"] == {"Ref": api_id}
    }


def test_connect_alone_takes_the_ticket_authorizer_uncached_and_every_route_reaches_the_realtime_function(
    template: Template,
) -> None:
    api_id, api = _websocket_api(template)
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    [(authorizer_id, authorizer)] = _of_api(template, "Authorizer", api_id).items()
    assert authorizer["Properties"]["AuthorizerType"] == "REQUEST"
    assert authorizer["Properties"]["IdentitySource"] == ["route.request.querystring.ticket"]
    # A ticket opens one connection: WebSocket REQUEST authorizers are never cached (no TTL property at all).
    assert "AuthorizerResultTtlInSeconds" not in authorizer["Properties"]
    functions = {logical_id: name for name, logical_id in ttai_function_ids(template).items()}
    assert functions[next(iter(referenced_ids(authorizer["Properties"]["AuthorizerUri"])))] == "connect_authorizer"
    integrations = _of_api(template, "Integration", api_id)
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in _of_api(template, "Route", api_id).values()}
    assert set(routes) == {"$connect", "$default", "$disconnect"}
    for key, route in routes.items():
        assert (route.get("AuthorizerId") == {"Ref": authorizer_id}) is (key == "$connect"), key
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        [function_id] = referenced_ids(integrations[integration_id]["Properties"]["IntegrationUri"])
        assert functions[function_id] == "realtime"


def test_the_stage_is_throttled_and_access_logged(template: Template, config: EnvironmentConfig) -> None:
    api_id, _ = _websocket_api(template)
    [stage] = _of_api(template, "Stage", api_id).values()
    properties = stage["Properties"]
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": config.api.throttle_burst_limit,
        "ThrottlingRateLimit": config.api.throttle_rate_limit,
    }
    fields = json.loads(properties["AccessLogSettings"]["Format"])
    assert {"connectionId", "eventType", "routeKey", "status"} <= set(fields)


def test_the_connections_table_expires_every_row(template: Template, layout: StorageLayout) -> None:
    table = resources(template, "AWS::DynamoDB::Table")[variable_target(template, "realtime", "TTAI_CONNECTIONS_TABLE")]
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": layout.websockets.partition_key.name, "KeyType": "HASH"},
        {"AttributeName": layout.websockets.sort_key.name, "KeyType": "RANGE"},
    ]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": layout.websockets.ttl_attribute, "Enabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_the_objects_table_has_the_sparse_alarm_index(template: Template, layout: StorageLayout) -> None:
    table = resources(template, "AWS::DynamoDB::Table")[variable_target(template, "durable", "TTAI_DURABLE_TABLE")]
    [index] = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == layout.durable.alarm_index.name
    assert [k["AttributeName"] for k in index["KeySchema"]] == [
        layout.durable.alarm_index.partition_key.name,
        layout.durable.alarm_index.sort_key.name,
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_alarms_reach_the_host_through_its_queue_which_dead_letters_and_only_far_schedules_feed(
    template: Template, config: EnvironmentConfig
) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    alarms_id = variable_target(template, "durable", "TTAI_DURABLE_ALARMS_URL")
    alarms = queues[alarms_id]["Properties"]
    assert alarms["QueueName"] == f"ttai-{config.name}-durable-alarms"
    assert alarms["VisibilityTimeout"] >= 6 * config.functions.durable.timeout_seconds
    [dlq_id] = referenced_ids(alarms["RedrivePolicy"]["deadLetterTargetArn"])
    assert queues[dlq_id]["Properties"]["QueueName"] == f"ttai-{config.name}-durable-alarms-dlq"
    host_id = ttai_function_ids(template)["durable"]
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if referenced_ids(m["Properties"]["EventSourceArn"]) == {alarms_id}
    ]
    assert referenced_ids(mapping["FunctionName"]) == {host_id}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The schedules' role may only send to the alarm queue, and only Scheduler may assume it.
    role_id = variable_target(template, "durable", "TTAI_DURABLE_SCHEDULE_ROLE_ARN")
    role = resources(template, "AWS::IAM::Role")[role_id]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert {t for s in statements for r in as_list(s["Resource"]) for t in referenced_ids(r)} == {alarms_id}
    assert {a for s in statements for a in actions_of(s)} <= {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }


def test_the_host_schedules_only_in_its_group(template: Template) -> None:
    group_id = variable_target(template, "durable", "TTAI_DURABLE_SCHEDULE_GROUP")
    statements = statements_of_function(template, "durable")
    scheduling = [s for s in statements if any(a.startswith("scheduler:") for a in actions_of(s))]
    assert scheduling == statements_on(statements, group_id)
    assert {a for s in scheduling for a in actions_of(s)} == {"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}


def _manage_connections(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if "execute-api:ManageConnections" in actions_of(s)]


def test_only_the_host_and_the_realtime_function_post_to_clients_and_only_on_this_api(template: Template) -> None:
    api_id, _ = _websocket_api(template)
    posting = {
        name for name in ttai_function_ids(template) if _manage_connections(statements_of_function(template, name))
    }
    assert posting == {"durable", "realtime"}
    for name in posting:
        for statement in _manage_connections(statements_of_function(template, name)):
            assert actions_of(statement) == {"execute-api:ManageConnections"}
            for resource in as_list(statement["Resource"]):
                assert referenced_ids(resource) == {api_id}
                assert resource["Fn::Join"][1][-1] == "/*/*/@connections/*"


def test_callers_invoke_the_host_and_the_api_hands_quotes_to_the_realtime_function_only(template: Template) -> None:
    ids = ttai_function_ids(template)
    invoking = {}
    for name in ids:
        targets = {
            t
            for s in statements_of_function(template, name)
            if "lambda:InvokeFunction" in actions_of(s)
            for r in as_list(s["Resource"])
            for t in referenced_ids(r)
        } & {ids["durable"], ids["realtime"]}  # workflows' aliases are test_workflows'
        if targets:
            invoking[name] = targets
    assert invoking == {
        "api": {ids["realtime"]},
        "consumer": {ids["durable"]},
        "realtime": {ids["durable"]},
        "scheduler": {ids["durable"]},
    }
