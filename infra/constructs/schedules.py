"""Seed 002's cron triggers as EventBridge Scheduler schedules in New York time, one per storage.json job."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.constructs.function import TtaiFunction
from infra.constructs.queues import DEAD_LETTER_RETENTION, encrypted_queue
from infra.nag import acknowledge
from infra.storage_layout import SchedulesLayout

# Five-field cron counts days of the week 0-6 (7 is Sunday again) from Sunday; EventBridge counts 1-7 from Sunday.
# Numbers would silently shift a day, so they become the names both read the same way.
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_CRON_FIELDS = 5


class CronError(ValueError):
    """A storage.json cron that EventBridge Scheduler cannot express as written."""


def _day_names(field: str) -> str:
    def name(token: str) -> str:
        return _DAY_NAMES[int(token)] if token.isdigit() and int(token) < len(_DAY_NAMES) else token.upper()

    parts = []
    for item in field.split(","):
        days, slash, step = item.partition("/")
        parts.append("-".join(name(token) for token in days.split("-")) + slash + step)
    return ",".join(parts)


def eventbridge_cron(five_fields: str) -> str:
    """`minute hour day-of-month month day-of-week` as EventBridge's `cron(m h dom mon dow year)`.

    EventBridge wants exactly one of day-of-month and day-of-week to be '?': the one the five-field cron leaves
    as '*'. A cron that restricts both (which classic cron reads as "either") has no EventBridge equivalent.
    """
    fields = five_fields.split()
    if len(fields) != _CRON_FIELDS:
        msg = f"{five_fields!r} is not a five-field cron (minute hour day-of-month month day-of-week)"
        raise CronError(msg)
    minute, hour, day_of_month, month, day_of_week = fields
    if day_of_week == "*":
        day_of_week = "?"
    elif day_of_month == "*":
        day_of_month = "?"
    else:
        msg = f"{five_fields!r} restricts both day-of-month and day-of-week, which EventBridge cannot express"
        raise CronError(msg)
    if day_of_week != "?":
        day_of_week = _day_names(day_of_week)
    return f"cron({minute} {hour} {day_of_month} {month.upper()} {day_of_week} *)"


def scheduler_role(scope: Construct, description: str) -> iam.Role:
    """A role only EventBridge Scheduler, acting for this account's schedules, may assume; no statements yet."""
    return iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
        ),
        description=description,
    )


class Schedules(Construct):
    """A schedule group per environment, one schedule per job, all invoking the scheduler function.

    Each schedule hands the function `{"job_type", "cron", "scheduled_time"}`, scheduled_time being the time
    Scheduler meant to fire (not when it got round to it), so a retried invocation carries the same run key.
    """

    RETRY_ATTEMPTS = 2
    # A market job an hour late is of no use; its run is recorded as missing rather than done at the wrong time.
    MAX_EVENT_AGE = cdk.Duration.hours(1)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: SchedulesLayout,
        target: TtaiFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.ScheduleGroup(
            self, "Group", schedule_group_name=f"ttai-{config.name}", removal_policy=removal_policy(config)
        )
        # Invocations Scheduler could not deliver after its retries, and (as the function's own dead-letter
        # queue) invocations the function failed after Lambda's asynchronous retries: one place for missed runs.
        self.dead_letters = encrypted_queue(
            self, "DeadLetters", queue_name=f"ttai-{config.name}-schedule-dlq", retention_period=DEAD_LETTER_RETENTION
        )
        acknowledge(
            self.dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This queue is itself the dead-letter queue of the schedules and of the scheduler function; its "
            "messages are missed job runs an operator inspects and re-runs with `ttai jobs run`.",
        )
        self.role = scheduler_role(
            self, f"ttai schedules in {config.name}: invoke the scheduler function, nothing else"
        )
        # Written out rather than left to the target's grants, which would add the function's qualified ARNs
        # (ARN:*); the schedules invoke the unqualified function and dead-letter into one queue, nothing more.
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[target.function.function_arn])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn])
        )
        targets_role = self.role.without_policy_updates()
        timezone = cdk.TimeZone.of(layout.timezone)
        self.schedules: dict[str, scheduler.Schedule] = {}
        for job, spec in layout.jobs.items():
            self.schedules[job] = scheduler.Schedule(
                self,
                f"Job-{job}",
                schedule_name=f"ttai-{config.name}-{job}",
                description=spec.description,
                schedule_group=self.group,
                schedule=scheduler.ScheduleExpression.expression(eventbridge_cron(spec.cron), timezone),
                time_window=scheduler.TimeWindow.off(),
                enabled=config.schedules_enabled,
                target=targets.LambdaInvoke(
                    target.function,
                    role=targets_role,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=self.RETRY_ATTEMPTS,
                    max_event_age=self.MAX_EVENT_AGE,
                    input=scheduler.ScheduleTargetInput.from_object(
                        {
                            "job_type": job,
                            "cron": spec.cron,
                            "scheduled_time": scheduler.ContextAttribute.scheduled_time,
                        }
                    ),
                ),
            )
        # Scheduler invokes asynchronously: Lambda retries a failing run and then records it, with the error, in
        # the same queue. Runs are idempotent per (job_type, scheduled_time), so a retry is safe.
        target.function.configure_async_invoke(
            retry_attempts=self.RETRY_ATTEMPTS,
            max_event_age=self.MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        acknowledge(
            target.function,
            "Serverless-LambdaDLQ",
            "Failed asynchronous runs go to an on-failure destination (this construct's queue), which records "
            "the error and the payload; a dead-letter queue would hold the payload alone.",
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is a dead-letter queue (of the schedules' targets and the scheduler function's on-failure "
            "destination), which cdk-nag recognises only when another queue's redrive policy names it.",
        )
