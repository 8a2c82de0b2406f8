"""Alarms on function errors and throttles, API 5xx responses, dead-lettered and stuck queue messages, sent to an
encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.constructs.function import TtaiFunction
from infra.constructs.http_api import HttpApi
from infra.nag import acknowledge

PERIOD = cdk.Duration.minutes(5)


class Alarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: Sequence[TtaiFunction],
        http_api: HttpApi,
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        """`queues` and `dead_letter_queues` by a name for the alarm (tasks, schedules ...)."""
        super().__init__(scope, construct_id)
        # A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key,
        # because that key's policy cannot be extended to the CloudWatch service.
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"ttai {config.name}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
        )
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "Topic", display_name=f"ttai {config.name} alarms", master_key=self.key, enforce_ssl=True
        )
        if config.alarms.email is not None:
            subscription = sns.Subscription(
                self,
                "Email",
                topic=self.topic,
                endpoint=config.alarms.email,
                protocol=sns.SubscriptionProtocol.EMAIL,
            )
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An operator's mailbox: a message SNS cannot deliver by email would sit unread in a dead-letter "
                "queue too, and the alarm state stays visible in CloudWatch.",
            )
        action = cloudwatch_actions.SnsAction(self.topic)

        for function in functions:
            metrics = {
                "Errors": function.function.metric_errors(period=PERIOD, statistic="Sum"),
                "Throttles": function.function.metric_throttles(period=PERIOD, statistic="Sum"),
            }
            for kind, metric in metrics.items():
                self._alarm(
                    f"{function.node.id}{kind}",
                    metric,
                    f"ttai-{function.name} ({config.name}): {kind.lower()} in the last 5 minutes",
                    action,
                )
        self._alarm(
            "Api5xx",
            http_api.api.metric_server_error(period=PERIOD, statistic="Sum"),
            f"ttai HTTP API ({config.name}): 5xx responses in the last 5 minutes",
            action,
        )
        # Any message in a dead-letter queue is work that failed for good: one is enough to look.
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name.capitalize()}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"ttai {name} dead-letter queue ({config.name}): messages that failed every attempt",
                action,
            )
        age = config.alarms.oldest_message_age_seconds
        for name, queue in queues.items():
            self._alarm(
                f"{name.capitalize()}OldestMessage",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                f"ttai {name} queue ({config.name}): a message has waited over {age} s, the consumer is behind",
                action,
                threshold=age,
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        action: cloudwatch.IAlarmAction,
        *,
        threshold: float = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
