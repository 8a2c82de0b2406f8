"""Settings every construct derives the same way from an environment's config."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvironmentConfig

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def removal_policy(config: EnvironmentConfig) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if config.retain else cdk.RemovalPolicy.DESTROY


def log_retention(config: EnvironmentConfig) -> logs.RetentionDays:
    return _RETENTION[config.log_retention_days]


def log_group(scope: Construct, construct_id: str, config: EnvironmentConfig) -> logs.LogGroup:
    """A log group with the environment's retention, removed with the stack only where logs are disposable."""
    return logs.LogGroup(scope, construct_id, retention=log_retention(config), removal_policy=removal_policy(config))


def house_table(
    scope: Construct,
    construct_id: str,
    config: EnvironmentConfig,
    *,
    partition_key: dynamodb.Attribute,
    sort_key: dynamodb.Attribute | None = None,
    ttl_attribute: str | None = None,
) -> dynamodb.Table:
    """A DynamoDB table as every table of the stack is: on demand, encrypted with the AWS-managed key (audited in
    CloudTrail, no key policy of our own to get wrong, no per-key cost), point-in-time recovery, the environment's
    deletion protection and removal policy, and TTL on ``ttl_attribute`` where its items expire."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=partition_key,
        sort_key=sort_key,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=config.point_in_time_recovery
        ),
        time_to_live_attribute=ttl_attribute,
        deletion_protection=config.deletion_protection,
        removal_policy=removal_policy(config),
    )
