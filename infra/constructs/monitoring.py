"""The operator's view of one environment, built with cdk-monitoring-constructs: one dashboard (the HTTP API, each
function, the workflows' runs, each queue and its dead-letter queue, Aurora and the Data API calls the functions saw
refused, the DynamoDB tables) and the alarms on it.

Alarms exist in every environment, so the dashboard shows their thresholds everywhere; only where cdk.json's
``alarms.enabled`` is on do they act, sending ALARM and OK to an encrypted SNS topic that mails the on-call address
(``alarms.email``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
import cdk_monitoring_constructs as monitoring
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.constructs.database import Database
from infra.constructs.function import TtaiFunction
from infra.constructs.http_api import HttpApi
from infra.constructs.websocket_api import WebSocketApi
from infra.nag import acknowledge
from infra.storage_layout import D1Binding

# Every alarm looks at one 5-minute period: a failure is worth a look the first time it shows, not the third.
PERIOD = cdk.Duration.minutes(5)
# The library's name for the alarms' severity; one level is all this stack has.
SEVERITY = "Critical"
LATENCIES = (monitoring.LatencyType.P50, monitoring.LatencyType.P99)
# What ttai.bindings.d1 counts of the calls the Data API refuses (it publishes no metrics of its own), in the
# functions' namespace, per function (Powertools' service dimension).
# What Lambda publishes of a durable function's executions (the library has no monitor for them yet); a replay is an
# invocation of its own, so the function's Errors and Duration say less here than these.
WORKFLOW_RUN_METRICS = {
    "DurableExecutionFailed": "Workflow runs errored",
    "DurableExecutionTimedOut": "Workflow runs timed out",
    "DurableExecutionStarted": "Workflow runs started",
}
# The runs that ended badly, summed over every workflow into one alarm (which one failed is on the dashboard).
WORKFLOW_FAILURE_METRICS = ("DurableExecutionFailed", "DurableExecutionTimedOut")
# What API Gateway publishes of a WebSocket API (per ApiId and Stage); ExecutionError (a call of the realtime
# function that failed) alarms, the callers' ClientError is only shown.
WEBSOCKET_METRICS = {
    "ConnectCount": "Connections opened",
    "MessageCount": "Messages (both ways)",
    "ClientError": "Client errors (4xx before the function)",
    "ExecutionError": "Execution errors (the function failed)",
}
DATA_API_METRICS = {
    "DataApiUnavailable": "Data API unavailable (throttled, resuming, unreachable)",
    "DataApiErrors": "Data API errors (refused statements)",
}


@dataclass(frozen=True)
class QueuePair:
    """A queue the consumer reads and the dead-letter queue its failures end in."""

    queue: sqs.IQueue
    dead_letters: sqs.IQueue


class Monitoring(Construct):
    """The environment's dashboard (``ttai-<env>``) and alarms; ``topic`` is None where alarms do not act."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: Mapping[str, TtaiFunction],
        alarmed_functions: Sequence[str],
        http_api: HttpApi,
        websocket: WebSocketApi,
        queues: Mapping[str, QueuePair],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        database: Database,
        tables: Mapping[str, dynamodb.ITable],
    ) -> None:
        """`queues` by name (tasks ...); `dead_letter_queues` the ones no consumer reads (schedules), by name;
        `alarmed_functions` the functions whose errors and throttles alarm (not those that run only at deploy)."""
        super().__init__(scope, construct_id)
        self.topic = self._topic(config) if config.alarms.enabled else None
        action: monitoring.IAlarmActionStrategy = (
            monitoring.SnsAlarmActionStrategy(on_alarm_topic=self.topic, on_ok_topic=self.topic)
            if self.topic is not None
            else monitoring.NoopAlarmActionStrategy()
        )
        self.facade = monitoring.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                alarm_name_prefix=f"ttai-{config.name}",
                actions_enabled=config.alarms.enabled,
                action=action,
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            metric_factory_defaults=monitoring.MetricFactoryDefaults(period=PERIOD),
            dashboard_factory=monitoring.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"ttai-{config.name}",
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )
        facade = self.facade
        facade.add_large_header(f"TTAI {config.name}")

        # Any 5xx is a request the stack failed; 4xx are the callers' and only shown.
        facade.monitor_api_gateway_v2_http_api(
            api=http_api.api,
            human_readable_name="HTTP API",
            alarm_friendly_name="http-api",
            latency_types_to_render=list(LATENCIES),
            add5xx_count_alarm={SEVERITY: monitoring.ErrorCountThreshold(max_error_count=0)},
        )
        self._websocket(websocket)
        for name, function in functions.items():
            alarmed = name in alarmed_functions
            facade.monitor_lambda_function(
                lambda_function=function.function,
                human_readable_name=f"ttai-{name}",
                alarm_friendly_name=name,
                latency_types_to_render=list(LATENCIES),
                add_fault_count_alarm=(
                    {SEVERITY: monitoring.ErrorCountThreshold(max_error_count=0)} if alarmed else None
                ),
                add_throttles_count_alarm=(
                    {SEVERITY: monitoring.ErrorCountThreshold(max_error_count=0)} if alarmed else None
                ),
            )

        # A consumed queue whose oldest message waits too long has a consumer that is behind; any message in a
        # dead-letter queue is work that failed for good, and one is enough to look. SQS stops publishing an idle
        # queue's metrics after six hours: no data means nothing waiting, not a reason to keep an old state.
        age = config.alarms.oldest_message_age_seconds
        quiet = cloudwatch.TreatMissingData.NOT_BREACHING
        for name, pair in queues.items():
            facade.monitor_sqs_queue_with_dlq(
                queue=pair.queue,
                dead_letter_queue=pair.dead_letters,
                human_readable_name=f"{name} queue",
                alarm_friendly_name=f"{name}-queue",
                add_queue_max_message_age_alarm={
                    SEVERITY: monitoring.MaxMessageAgeThreshold(
                        max_age_in_seconds=age, treat_missing_data_override=quiet
                    )
                },
                add_dead_letter_queue_max_size_alarm={
                    SEVERITY: monitoring.MaxMessageCountThreshold(
                        max_message_count=0, treat_missing_data_override=quiet
                    )
                },
            )
        for name, queue in dead_letter_queues.items():
            facade.monitor_sqs_queue(
                queue=queue,
                human_readable_name=f"{name} dead-letter queue",
                alarm_friendly_name=f"{name}-dlq",
                add_queue_max_size_alarm={
                    SEVERITY: monitoring.MaxMessageCountThreshold(
                        max_message_count=0, treat_missing_data_override=quiet
                    )
                },
            )

        facade.monitor_aurora_cluster(
            cluster=database.cluster, human_readable_name="Aurora", alarm_friendly_name="database"
        )
        database_users = [function for function in functions.values() if function.spec.bindings_of(D1Binding)]
        facade.monitor_custom(
            human_readable_name="Data API",
            alarm_friendly_name="data-api",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title=title,
                    metrics=[
                        cloudwatch.Metric(
                            namespace=TtaiFunction.METRICS_NAMESPACE,
                            metric_name=metric,
                            dimensions_map={"service": function.service_name},
                            statistic="Sum",
                            period=PERIOD,
                            label=function.name,
                        )
                        for function in database_users
                    ],
                )
                for metric, title in DATA_API_METRICS.items()
            ],
        )
        workflows = [function for function in functions.values() if function.spec.workflow is not None]
        if workflows:
            facade.monitor_custom(
                human_readable_name="Workflows",
                alarm_friendly_name="workflows",
                metric_groups=[
                    monitoring.CustomMetricGroup(
                        title=title,
                        metrics=[
                            cloudwatch.Metric(
                                namespace="AWS/Lambda",
                                metric_name=metric,
                                dimensions_map={"FunctionName": function.function.function_name},
                                statistic="Sum",
                                period=PERIOD,
                                label=function.name,
                            )
                            for function in workflows
                        ],
                    )
                    for metric, title in WORKFLOW_RUN_METRICS.items()
                ],
            )
            self._workflow_failures(workflows)
        for name, table in tables.items():
            facade.monitor_dynamo_table(table=table, human_readable_name=f"{name} table", alarm_friendly_name=name)

    def _websocket(self, websocket: WebSocketApi) -> None:
        def metric(name: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiId": websocket.api.api_id, "Stage": websocket.stage.stage_name},
                statistic="Sum",
                period=PERIOD,
                label=label,
            )

        groups: list[monitoring.CustomMetricGroup] = []
        for name, title in WEBSOCKET_METRICS.items():
            shown: cloudwatch.Metric | monitoring.CustomMetricWithAlarm = metric(name, title)
            if name == "ExecutionError":
                shown = monitoring.CustomMetricWithAlarm(
                    metric=metric(name, title),
                    alarm_friendly_name="websocket-execution-errors",
                    add_alarm={SEVERITY: _any_count("the realtime function failed on a WebSocket route")},
                )
            groups.append(monitoring.CustomMetricGroup(title=title, metrics=[shown]))
        self.facade.monitor_custom(
            human_readable_name="WebSocket API", alarm_friendly_name="websocket", metric_groups=groups
        )

    def _workflow_failures(self, workflows: Sequence[TtaiFunction]) -> None:
        inputs = {
            f"m{index}": cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=metric,
                dimensions_map={"FunctionName": function.function.function_name},
                statistic="Sum",
                period=PERIOD,
            )
            for index, (function, metric) in enumerate(
                (function, metric) for function in workflows for metric in WORKFLOW_FAILURE_METRICS
            )
        }
        failed = cloudwatch.MathExpression(
            expression=f"SUM([{','.join(inputs)}])",
            using_metrics=inputs,
            label="Workflow runs errored or timed out",
            period=PERIOD,
        )
        self.facade.monitor_custom(
            human_readable_name="Workflow failures",
            alarm_friendly_name="workflow-failures",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Workflow runs errored or timed out (all workflows)",
                    metrics=[
                        monitoring.CustomMetricWithAlarm(
                            metric=failed,
                            alarm_friendly_name="workflow-runs-failed",
                            add_alarm={SEVERITY: _any_count("a workflow run errored or timed out")},
                        )
                    ],
                )
            ],
        )

    def _topic(self, config: EnvironmentConfig) -> sns.Topic:
        # A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key,
        # because that key's policy cannot be extended to the CloudWatch service.
        key = kms.Key(
            self,
            "TopicKey",
            description=f"ttai {config.name}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(self, "Topic", display_name=f"ttai {config.name} alarms", master_key=key, enforce_ssl=True)
        if config.alarms.email is None:
            cdk.Annotations.of(topic).add_warning_v2(
                "ttai:alarms-without-recipient",
                f"alarms.email is not set for {config.name}: alarms reach the topic but no one is subscribed",
            )
            return topic
        subscription = sns.Subscription(
            self, "Email", topic=topic, endpoint=config.alarms.email, protocol=sns.SubscriptionProtocol.EMAIL
        )
        acknowledge(
            subscription,
            "Serverless-SNSRedrivePolicy",
            "An operator's mailbox: a message SNS cannot deliver by email would sit unread in a dead-letter "
            "queue too, and the alarm state stays visible in CloudWatch.",
        )
        return topic


def _any_count(what: str) -> monitoring.CustomThreshold:
    """Alarm on a count above zero in one period; no data (nothing happened) is not a breach."""
    return monitoring.CustomThreshold(
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold=0,
        additional_description=what,
        treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
