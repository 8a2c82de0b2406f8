"""The dashboard and alarms of every environment: what the dashboard shows, what alarms, and where alarms go."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import (
    DATA_API_METRICS,
    WEBSOCKET_METRICS,
    WORKFLOW_FAILURE_METRICS,
    WORKFLOW_RUN_METRICS,
)
from infra.stack import DEPLOY_TIME_FUNCTIONS
from infra.storage_layout import D1Binding, StorageLayout
from tests.infra._template import Resource, referenced_ids, resources, ttai_function_ids, variable_target
from tests.infra.conftest import Synthesized
from ttai.bindings.d1 import DATA_API_ERRORS_METRIC, DATA_API_UNAVAILABLE_METRIC
from ttai.observability import METRICS_NAMESPACE

pytestmark = pytest.mark.slow

# (namespace, metric name, logical ID of the resource its dimension names, or the dimension's value)
Plotted = set[tuple[str, str, str]]


def _ref_placeholder(logical_id: str) -> str:
    return f"<<{logical_id}>>"


def _dashboard_body(dashboard: Resource) -> dict[str, Any]:
    """The dashboard's JSON with each Ref / Fn::GetAtt in it replaced by a placeholder naming its logical ID."""
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, str):
        return dict(json.loads(body))
    parts = []
    for part in body["Fn::Join"][1]:
        if isinstance(part, str):
            parts.append(part)
        else:
            [logical_id] = referenced_ids(part) or {"pseudo"}
            parts.append(_ref_placeholder(logical_id))
    return dict(json.loads("".join(parts)))


def _plotted(body: dict[str, Any]) -> Plotted:
    """Every metric a widget of the dashboard draws, with the resource of its first dimension."""
    plotted: Plotted = set()
    for widget in body["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            strings = [item for item in metric if isinstance(item, str)]
            if len(strings) >= 4:
                plotted.add((strings[0], strings[1], strings[3].strip("<>")))
    return plotted


def _the_dashboard(template: Template) -> tuple[Resource, Plotted]:
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    return dashboard, _plotted(_dashboard_body(dashboard))


def _alarm_metric(alarm: Resource) -> tuple[str, str, str, Resource]:
    """The alarm's (namespace, metric, logical ID of the first dimension's resource) and its MetricStat."""
    [query] = [query for query in alarm["Properties"]["Metrics"] if query.get("ReturnData", True)]
    stat = query["MetricStat"]
    metric = stat["Metric"]
    [logical_id] = referenced_ids(metric["Dimensions"][0]["Value"])
    return metric["Namespace"], metric["MetricName"], logical_id, stat


def _expression_inputs(alarm: Resource) -> set[tuple[str, str, str]]:
    """The (namespace, metric, logical ID) of each metric an expression alarm combines; empty for a plain one."""
    queries = alarm["Properties"]["Metrics"]
    if not any("Expression" in query for query in queries):
        return set()
    inputs = set()
    for query in queries:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            [logical_id] = referenced_ids(metric["Dimensions"][0]["Value"])
            inputs.add((metric["Namespace"], metric["MetricName"], logical_id))
    return inputs


def _websocket_api_id(template: Template) -> str:
    [api_id] = [
        lid
        for lid, api in resources(template, "AWS::ApiGatewayV2::Api").items()
        if api["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    return api_id


def _alarm_topic_ids(template: Template) -> set[str]:
    """Every SNS topic but the push topic the consumer's TTAI_PUSH_TOPIC_ARN names."""
    push_id = variable_target(template, "consumer", "TTAI_PUSH_TOPIC_ARN")
    return set(resources(template, "AWS::SNS::Topic")) - {push_id}


def _queue_ids(template: Template) -> tuple[set[str], set[str]]:
    """The consumed queues (those with a redrive policy) and every dead-letter queue (theirs and the schedules')."""
    queues = resources(template, "AWS::SQS::Queue")
    consumed = {lid for lid, queue in queues.items() if "RedrivePolicy" in queue["Properties"]}
    dead_letters = {
        referenced_ids(queues[lid]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]).pop() for lid in consumed
    }
    dead_letters |= {
        referenced_ids(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]).pop()
        for schedule in resources(template, "AWS::Scheduler::Schedule").values()
    }
    return consumed, dead_letters


def _http_api_id(template: Template) -> str:
    [api_id] = [
        lid
        for lid, api in resources(template, "AWS::ApiGatewayV2::Api").items()
        if api["Properties"]["ProtocolType"] == "HTTP"
    ]
    return api_id


class TestDashboard:
    def test_one_dashboard_per_environment_named_after_it(self, template: Template, config: EnvironmentConfig):
        dashboard, _ = _the_dashboard(template)
        assert dashboard["Properties"]["DashboardName"] == f"ttai-{config.name}"

    def test_the_api_shows_latency_p50_and_p99_and_4xx_and_5xx(self, template: Template):
        api_id = _http_api_id(template)
        dashboard, plotted = _the_dashboard(template)
        assert {("AWS/ApiGateway", name, api_id) for name in ("Latency", "4xx", "5xx")} <= plotted
        body = json.dumps(_dashboard_body(dashboard))
        for percentile in ("p50", "p99"):
            assert f'"stat": "{percentile}"' in body or f'"stat":"{percentile}"' in body, percentile

    def test_every_function_shows_errors_throttles_duration_and_concurrency(self, template: Template):
        _, plotted = _the_dashboard(template)
        for name, function_id in ttai_function_ids(template).items():
            for metric in ("Errors", "Throttles", "Duration", "ConcurrentExecutions"):
                assert ("AWS/Lambda", metric, function_id) in plotted, (name, metric)

    def test_every_queue_shows_depth_and_oldest_message_and_every_dead_letter_queue_its_depth(self, template: Template):
        _, plotted = _the_dashboard(template)
        consumed, dead_letters = _queue_ids(template)
        for queue_id in consumed:
            assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue_id) in plotted
            assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue_id) in plotted
        for queue_id in dead_letters:
            assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue_id) in plotted

    def test_the_database_shows_its_capacity_and_the_tables_their_throttles(self, template: Template):
        _, plotted = _the_dashboard(template)
        [cluster_id] = resources(template, "AWS::RDS::DBCluster")
        assert ("AWS/RDS", "ServerlessDatabaseCapacity", cluster_id) in plotted
        for table_id in resources(template, "AWS::DynamoDB::Table"):
            assert ("AWS/DynamoDB", "ReadThrottleEvents", table_id) in plotted
            assert ("AWS/DynamoDB", "WriteThrottleEvents", table_id) in plotted

    def test_each_function_that_uses_the_database_shows_the_data_api_calls_refused(
        self, template: Template, layout: StorageLayout
    ):
        # The Data API publishes no metrics: the D1 binding counts refusals under these names, per function.
        assert set(DATA_API_METRICS) == {DATA_API_ERRORS_METRIC, DATA_API_UNAVAILABLE_METRIC}
        _, plotted = _the_dashboard(template)
        users = {name for name, spec in layout.functions.items() if spec.bindings_of(D1Binding)}
        assert users >= {"api", "consumer", "scheduler", "migrate"}
        for metric in DATA_API_METRICS:
            shown = {value for namespace, name, value in plotted if (namespace, name) == (METRICS_NAMESPACE, metric)}
            assert shown == {f"ttai-{name}" for name in users}, metric

    def test_the_websocket_api_shows_connections_messages_and_errors(self, template: Template):
        _, plotted = _the_dashboard(template)
        api_id = _websocket_api_id(template)
        assert {("AWS/ApiGateway", metric, api_id) for metric in WEBSOCKET_METRICS} <= plotted

    def test_each_workflow_shows_its_runs_started_errored_and_timed_out(
        self, template: Template, layout: StorageLayout
    ):
        _, plotted = _the_dashboard(template)
        workflows = {name for name, spec in layout.functions.items() if spec.workflow is not None}
        assert workflows >= {"analysis_workflow", "screener_workflow", "export_workflow", "backup_workflow"}
        function_ids = ttai_function_ids(template)
        for metric in WORKFLOW_RUN_METRICS:
            shown = {lid for namespace, name, lid in plotted if (namespace, name) == ("AWS/Lambda", metric)}
            assert shown == {function_ids[name] for name in workflows}, metric


class TestAlarms:
    def test_what_alarms(self, template: Template, config: EnvironmentConfig):
        alarmed: dict[tuple[str, str, str], Resource] = {}
        combined: list[tuple[set[tuple[str, str, str]], Resource]] = []
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
            if inputs := _expression_inputs(alarm):
                combined.append((inputs, alarm["Properties"]))
                continue
            namespace, metric, logical_id, stat = _alarm_metric(alarm)
            alarmed[(namespace, metric, logical_id)] = alarm["Properties"] | {"Stat": stat}
        expected = {
            ("AWS/ApiGateway", "5xx", _http_api_id(template)),
            ("AWS/ApiGateway", "ExecutionError", _websocket_api_id(template)),
        }
        for name, function_id in ttai_function_ids(template).items():
            if name not in DEPLOY_TIME_FUNCTIONS:
                expected |= {("AWS/Lambda", "Errors", function_id), ("AWS/Lambda", "Throttles", function_id)}
        consumed, dead_letters = _queue_ids(template)
        expected |= {("AWS/SQS", "ApproximateAgeOfOldestMessage", lid) for lid in consumed}
        expected |= {("AWS/SQS", "ApproximateNumberOfMessagesVisible", lid) for lid in dead_letters}
        assert set(alarmed) == expected
        for (_, metric, _), properties in alarmed.items():
            # One 5-minute period over the threshold is enough: a single failure is worth a look.
            assert (properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (1, 1)
            assert properties["Stat"]["Period"] == 300
            assert properties["ComparisonOperator"] == "GreaterThanThreshold"
            assert properties["TreatMissingData"] == "notBreaching"
            if metric == "ApproximateAgeOfOldestMessage":
                assert properties["Threshold"] == config.alarms.oldest_message_age_seconds
                assert properties["Stat"]["Stat"] == "Maximum"
            else:
                assert properties["Threshold"] == 0, metric
            assert properties["AlarmName"].startswith(f"ttai-{config.name}-")
        # One alarm sums every workflow's errored and timed-out runs (the dashboard says which workflow).
        function_ids = ttai_function_ids(template)
        workflows = [name for name in function_ids if name.endswith("_workflow")]
        [(inputs, properties)] = combined
        assert inputs == {
            ("AWS/Lambda", metric, function_ids[name]) for name in workflows for metric in WORKFLOW_FAILURE_METRICS
        }
        [expression] = [query for query in properties["Metrics"] if "Expression" in query]
        assert expression["Expression"].startswith("SUM([")
        assert expression["ReturnData"] is True
        assert (properties["Threshold"], properties["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert (properties["EvaluationPeriods"], properties["TreatMissingData"]) == (1, "notBreaching")

    def test_every_alarm_acts_through_the_topic_where_alarms_are_enabled_and_none_acts_elsewhere(
        self, synthesized: Synthesized
    ):
        assert [name for name, config in synthesized.configs.items() if config.alarms.enabled] == ["prod"]
        for name, template in synthesized.templates.items():
            alarms = resources(template, "AWS::CloudWatch::Alarm").values()
            assert alarms, name
            topics = _alarm_topic_ids(template)
            if not synthesized.configs[name].alarms.enabled:
                assert topics == set(), name
                for alarm in alarms:
                    properties = alarm["Properties"]
                    assert properties["ActionsEnabled"] is False
                    assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(properties), name
                continue
            [topic_id] = topics
            for alarm in alarms:
                properties = alarm["Properties"]
                assert properties["ActionsEnabled"] is True
                assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": topic_id}]

    def test_the_topic_is_encrypted_with_a_rotated_key_and_refuses_plain_http(self, synthesized: Synthesized):
        template = synthesized.templates["prod"]
        [topic_id] = _alarm_topic_ids(template)
        topic = resources(template, "AWS::SNS::Topic")[topic_id]
        key = resources(template, "AWS::KMS::Key")[topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
        assert key["Properties"]["EnableKeyRotation"] is True
        assert any(
            statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])
            for statement in key["Properties"]["KeyPolicy"]["Statement"]
        )
        [policy] = [
            policy["Properties"]["PolicyDocument"]
            for policy in resources(template, "AWS::SNS::TopicPolicy").values()
            if policy["Properties"]["Topics"] == [{"Ref": topic_id}]
        ]
        assert any(
            statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policy["Statement"]
        )

    def test_without_an_on_call_address_there_is_no_subscription(self, synthesized: Synthesized):
        # cdk.json names no address in any environment yet (the email test in test_policy_checks sets one).
        for name, template in synthesized.templates.items():
            assert synthesized.configs[name].alarms.email is None
            assert resources(template, "AWS::SNS::Subscription") == {}, name
