"""Database capacity that follows the market: a higher minimum while it trades, 0 ACU and pausing after it closes.

Aurora Serverless v2 bills its minimum capacity around the clock: 0.5 ACU is most of a small environment's bill.
Two EventBridge Scheduler schedules call RDS's ModifyDBCluster directly (a universal target, no function of ours):
the open sets the minimum to `market_hours.open_min_capacity_acu`, the close sets it back to 0 with the cluster's
auto-pause delay, so nights and weekends cost only what is used. The first request after a pause waits while the
cluster resumes (the D1 binding retries for about 15 s) and otherwise gets a 503 with Retry-After.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DatabaseSettings, EnvironmentConfig, MarketHoursSettings
from infra.constructs.schedules import eventbridge_cron, scheduler_role


class MarketCapacity(Construct):
    """The open and close schedules of one cluster, in the environment's schedule group and time zone."""

    RETRY_ATTEMPTS = 3
    # A capacity change hours late would undo the next one's intent; an hour is still worth applying.
    MAX_EVENT_AGE = cdk.Duration.hours(1)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        cluster: rds.DatabaseCluster,
        group: scheduler.IScheduleGroup,
        timezone: str,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = config.database
        hours = settings.market_hours
        if hours is None:
            msg = "MarketCapacity needs database.market_hours"
            raise ValueError(msg)
        pause_minutes = settings.auto_pause_minutes
        if pause_minutes is None:  # the config requires it with a 0 ACU minimum, which market_hours requires
            msg = "MarketCapacity needs database.auto_pause_minutes"
            raise ValueError(msg)
        self.role = scheduler_role(
            self, f"ttai market capacity in {config.name}: change this cluster's scaling, nothing else"
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["rds:ModifyDBCluster"], resources=[cluster.cluster_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letters.queue_arn]))
        role = self.role.without_policy_updates()
        zone = cdk.TimeZone.of(timezone)
        self.schedules = {
            moment: scheduler.Schedule(
                self,
                moment.capitalize(),
                schedule_name=f"ttai-{config.name}-database-{moment}",
                description=description,
                schedule_group=group,
                schedule=scheduler.ScheduleExpression.expression(eventbridge_cron(cron), zone),
                time_window=scheduler.TimeWindow.off(),
                enabled=config.schedules_enabled,
                target=targets.Universal(
                    service="rds",
                    action="modifyDBCluster",
                    role=role,
                    dead_letter_queue=dead_letters,
                    retry_attempts=self.RETRY_ATTEMPTS,
                    max_event_age=self.MAX_EVENT_AGE,
                    input=scheduler.ScheduleTargetInput.from_object(
                        {
                            "DBClusterIdentifier": cluster.cluster_identifier,
                            "ServerlessV2ScalingConfiguration": scaling,
                        }
                    ),
                ),
            )
            for moment, cron, scaling, description in (
                (
                    "open",
                    hours.open_cron,
                    open_scaling(hours, settings),
                    f"raise the database's minimum to {hours.open_min_capacity_acu} ACU before the market opens",
                ),
                (
                    "close",
                    hours.close_cron,
                    close_scaling(settings, pause_minutes),
                    "let the database scale to 0 ACU and pause when idle after the market closes",
                ),
            )
        }


def open_scaling(hours: MarketHoursSettings, settings: DatabaseSettings) -> dict[str, float]:
    """ModifyDBCluster's scaling while the market is open."""
    return {"MinCapacity": hours.open_min_capacity_acu, "MaxCapacity": settings.max_capacity_acu}


def close_scaling(settings: DatabaseSettings, pause_minutes: int) -> dict[str, float]:
    """ModifyDBCluster's scaling once the market has closed: the deployed minimum (0) and its auto-pause delay."""
    return {
        "MinCapacity": settings.min_capacity_acu,
        "MaxCapacity": settings.max_capacity_acu,
        "SecondsUntilAutoPause": pause_minutes * 60,
    }
