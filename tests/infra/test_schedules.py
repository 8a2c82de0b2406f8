"""EventBridge Scheduler: the cron translation, and the schedules, role and dead letters in every environment."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.schedules import CronError, eventbridge_cron
from infra.storage_layout import StorageLayout
from tests.infra._template import (
    Resource,
    actions_of,
    as_list,
    referenced_ids,
    resources,
    statements_of_function,
    statements_of_role,
    statements_on,
    ttai_function_ids,
    variable_target,
    variables_of,
)


@pytest.mark.parametrize(
    ("five_fields", "expected"),
    [
        ("0 9 * * MON-FRI", "cron(0 9 ? * MON-FRI *)"),
        ("30 9 * * MON-FRI", "cron(30 9 ? * MON-FRI *)"),
        ("0 10-16 * * MON-FRI", "cron(0 10-16 ? * MON-FRI *)"),
        ("0 17 * * FRI", "cron(0 17 ? * FRI *)"),
        ("0 2 * * *", "cron(0 2 * * ? *)"),
        ("15 3 1 * *", "cron(15 3 1 * ? *)"),
        ("0 12 * jan,jul mon", "cron(0 12 ? JAN,JUL MON *)"),
        # Numbers count from Sunday = 0 in cron but Sunday = 1 in EventBridge: they become names.
        ("0 9 * * 1-5", "cron(0 9 ? * MON-FRI *)"),
        ("0 9 * * 0,6", "cron(0 9 ? * SUN,SAT *)"),
        ("0 9 * * 7", "cron(0 9 ? * SUN *)"),
        ("*/15 9-16 * * 1-5", "cron(*/15 9-16 ? * MON-FRI *)"),
    ],
)
def test_five_field_crons_become_eventbridge_crons(five_fields: str, expected: str):
    assert eventbridge_cron(five_fields) == expected


@pytest.mark.parametrize(
    ("five_fields", "complaint"),
    [
        ("0 9 * *", "not a five-field cron"),
        ("0 9 * * MON-FRI 2026", "not a five-field cron"),
        ("0 9 1 * MON", "restricts both day-of-month and day-of-week"),
    ],
)
def test_crons_eventbridge_cannot_express_are_refused(five_fields: str, complaint: str):
    with pytest.raises(CronError, match=complaint):
        eventbridge_cron(five_fields)


def _schedules(template: Template) -> dict[str, Resource]:
    """Schedules by job type, read back from the payload each one sends (the database's market-hours schedules,
    whose input names the cluster, are test_cost's)."""
    by_job = {}
    for schedule in resources(template, "AWS::Scheduler::Schedule").values():
        if not isinstance(schedule["Properties"]["Target"]["Input"], str):
            continue
        payload = json.loads(schedule["Properties"]["Target"]["Input"])
        by_job[payload["job_type"]] = schedule["Properties"]
    return by_job


@pytest.mark.slow
class TestSchedules:
    def test_one_schedule_per_job_in_new_york_time_with_the_payload_the_function_reads(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        schedules = _schedules(template)
        assert set(schedules) == set(layout.schedules.jobs)
        assert layout.schedules.timezone == "America/New_York"
        scheduler_id = ttai_function_ids(template)["scheduler"]
        for job, spec in layout.schedules.jobs.items():
            schedule = schedules[job]
            assert schedule["Name"] == f"ttai-{config.name}-{job}"
            assert schedule["ScheduleExpression"] == eventbridge_cron(spec.cron)
            assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
            assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
            assert json.loads(schedule["Target"]["Input"]) == {
                "job_type": job,
                "cron": spec.cron,
                "scheduled_time": "<aws.scheduler.scheduled-time>",
            }
            assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [scheduler_id, "Arn"]}
            assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}

    def test_the_market_open_fires_at_half_past_nine_on_weekdays(self, template: Template):
        assert _schedules(template)["analysis"]["ScheduleExpression"] == "cron(30 9 ? * MON-FRI *)"

    def test_schedules_are_on_only_where_the_environment_says(self, template: Template, config: EnvironmentConfig):
        expected = "ENABLED" if config.schedules_enabled else "DISABLED"
        assert {schedule["State"] for schedule in _schedules(template).values()} == {expected}

    def test_the_schedules_live_in_the_environments_group(self, template: Template, config: EnvironmentConfig):
        # The other group is the durable host's, for its far alarms (test_durable_objects).
        [group] = [
            group
            for group in resources(template, "AWS::Scheduler::ScheduleGroup").values()
            if group["Properties"]["Name"] == f"ttai-{config.name}"
        ]
        assert group["DeletionPolicy"] == ("Retain" if config.retain else "Delete")
        for schedule in _schedules(template).values():
            assert schedule["GroupName"] == f"ttai-{config.name}"

    def test_the_role_may_invoke_only_the_scheduler_function_and_dead_letter_into_one_queue(self, template: Template):
        schedules = _schedules(template).values()
        [role_arn] = {json.dumps(schedule["Target"]["RoleArn"]) for schedule in schedules}
        [role_id] = referenced_ids(json.loads(role_arn))
        [dlq_arn] = {json.dumps(schedule["Target"]["DeadLetterConfig"]["Arn"]) for schedule in schedules}
        [dlq_id] = referenced_ids(json.loads(dlq_arn))
        role = resources(template, "AWS::IAM::Role")[role_id]["Properties"]
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert "ManagedPolicyArns" not in role
        scheduler_id = ttai_function_ids(template)["scheduler"]
        granted = sorted(
            (action, json.dumps(resource, sort_keys=True))
            for statement in statements_of_role(template, role_id)
            for action in actions_of(statement)
            for resource in as_list(statement["Resource"])
        )
        assert granted == sorted(
            [
                ("lambda:InvokeFunction", json.dumps({"Fn::GetAtt": [scheduler_id, "Arn"]}, sort_keys=True)),
                ("sqs:SendMessage", json.dumps({"Fn::GetAtt": [dlq_id, "Arn"]}, sort_keys=True)),
            ]
        )

    def test_the_dead_letter_queue_is_encrypted_tls_only_and_takes_the_functions_failed_runs(
        self, template: Template, config: EnvironmentConfig
    ):
        [dlq_id] = {
            next(iter(referenced_ids(schedule["Target"]["DeadLetterConfig"]["Arn"])))
            for schedule in _schedules(template).values()
        }
        queue = resources(template, "AWS::SQS::Queue")[dlq_id]["Properties"]
        assert queue["QueueName"] == f"ttai-{config.name}-schedule-dlq"
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert any(
            statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for policy in resources(template, "AWS::SQS::QueuePolicy").values()
            if {"Ref": dlq_id} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        )
        scheduler_id = ttai_function_ids(template)["scheduler"]
        [invoke_config] = resources(template, "AWS::Lambda::EventInvokeConfig").values()
        properties = invoke_config["Properties"]
        assert properties["FunctionName"] == {"Ref": scheduler_id}
        assert properties["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}
        assert (properties["MaximumRetryAttempts"], properties["MaximumEventAgeInSeconds"]) == (2, 3600)
        sends = statements_on(statements_of_function(template, "scheduler"), dlq_id)
        assert {action for statement in sends for action in actions_of(statement)} >= {"sqs:SendMessage"}

    def test_only_the_schedules_may_invoke_the_scheduler_function(self, template: Template):
        scheduler_id = ttai_function_ids(template)["scheduler"]
        for permission in resources(template, "AWS::Lambda::Permission").values():
            assert scheduler_id not in referenced_ids(permission["Properties"]["FunctionName"])
        invokers = [
            role_id
            for role_id in resources(template, "AWS::IAM::Role")
            for statement in statements_of_role(template, role_id)
            if "lambda:InvokeFunction" in actions_of(statement)
            and any(scheduler_id in referenced_ids(resource) for resource in as_list(statement["Resource"]))
        ]
        assert len(invokers) == 1

    def test_the_scheduler_function_gets_what_its_jobs_use(self, template: Template):
        variables = ttai_function_ids(template)
        assert "scheduler" in variables
        assert variable_target(template, "scheduler", "TTAI_KV_TABLE") == variable_target(
            template, "api", "TTAI_KV_TABLE"
        )
        # The backup is its workflow's: the scheduler starts it (the backup workflow's alias) and no longer needs
        # the bucket itself.
        assert "TTAI_R2_BUCKET" not in variables_of(template, "scheduler")
        backup = variables_of(template, "scheduler")["TTAI_BACKUP_WORKFLOW_ARN"]
        [alias_id] = referenced_ids(backup)
        alias = resources(template, "AWS::Lambda::Alias")[alias_id]["Properties"]
        assert referenced_ids(alias["FunctionName"]) == {ttai_function_ids(template)["backup_workflow"]}
