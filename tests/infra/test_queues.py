"""Queues, their consumer, idempotency records and notification channels in every environment's template."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cfnlint.api import ManualArgs, lint_file

from infra.application import build_app
from infra.config import EnvironmentConfig, load_environment
from infra.constructs.idempotency import RECORD_ACTIONS
from infra.paths import PROJECT_ROOT
from infra.storage_layout import QueueBinding, StorageLayout
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
    variables_of,
)
from tests.infra.test_policy_checks import accepted_cfn_lint

pytestmark = pytest.mark.slow

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}
SQS_SENDS = {"sqs:SendMessage"}
SQS_CONSUMES = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def _queue_ids(template: Template) -> dict[str, str]:
    """Logical IDs of the queues by binding, as their producers' TTAI_<BINDING>_URL name them."""
    return {
        name.removeprefix("TTAI_").removesuffix("_URL"): variable_target(template, function, name)
        for function in ttai_function_ids(template)
        for name in variables_of(template, function)
        if name.endswith("_QUEUE_URL")
    }


def _sends_to(layout: StorageLayout, function: str) -> set[str]:
    return set(layout.functions[function].bindings_of(QueueBinding))


def _event_sources(template: Template) -> dict[str, Resource]:
    """Event source mappings by the logical ID of their queue."""
    mappings = {}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        [queue_id] = referenced_ids(mapping["Properties"]["EventSourceArn"])
        mappings[queue_id] = mapping["Properties"]
    return mappings


def _sqs_actions_on(template: Template, function: str, queue_id: str) -> set[str]:
    statements = statements_on(statements_of_function(template, function), queue_id)
    return {action for statement in statements for action in actions_of(statement) if action.startswith("sqs:")}


class TestQueues:
    def test_each_layout_queue_exists_named_for_the_environment(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        queues = resources(template, "AWS::SQS::Queue")
        ids = _queue_ids(template)
        assert set(ids) == set(layout.queues)
        for binding, spec in layout.queues.items():
            assert queues[ids[binding]]["Properties"]["QueueName"] == f"ttai-{config.name}-{spec.name}"

    def test_every_queue_but_a_dead_letter_queue_redrives_after_max_retries_plus_one(
        self, template: Template, layout: StorageLayout
    ):
        queues = resources(template, "AWS::SQS::Queue")
        ids = _queue_ids(template)
        dead_letter_ids = set()
        for binding, queue_id in ids.items():
            redrive = queues[queue_id]["Properties"]["RedrivePolicy"]
            assert redrive["maxReceiveCount"] == layout.queues[binding].max_retries + 1 == 4
            [dlq_id] = referenced_ids(redrive["deadLetterTargetArn"])
            dead_letter_ids.add(dlq_id)
            dlq = queues[dlq_id]["Properties"]
            assert dlq["QueueName"] == queues[queue_id]["Properties"]["QueueName"] + "-dlq"
            assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert len(dead_letter_ids) == len(ids), "each queue has its own DLQ"
        schedule_dlqs = {
            next(iter(referenced_ids(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"])))
            for schedule in resources(template, "AWS::Scheduler::Schedule").values()
        }
        # The durable host's alarm queue redrives into a DLQ of its own (test_durable_objects checks it).
        dead_letter_ids |= {
            next(iter(referenced_ids(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])))
            for queue in queues.values()
            if "RedrivePolicy" in queue["Properties"]
        }
        for queue_id, queue in queues.items():
            if queue_id not in dead_letter_ids | schedule_dlqs:
                assert "RedrivePolicy" in queue["Properties"], f"{queue_id} has no dead-letter queue"

    def test_every_queue_is_encrypted_at_rest(self, template: Template):
        for queue_id, queue in resources(template, "AWS::SQS::Queue").items():
            properties = queue["Properties"]
            assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, queue_id

    def test_every_queue_refuses_requests_without_tls(self, template: Template):
        policies = resources(template, "AWS::SQS::QueuePolicy").values()
        for queue_id in resources(template, "AWS::SQS::Queue"):
            denies = [
                statement
                for policy in policies
                if {"Ref": queue_id} in policy["Properties"]["Queues"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                if statement["Effect"] == "Deny"
                and statement["Action"] == "sqs:*"
                and statement["Condition"] == TLS_ONLY
                and statement["Principal"] == {"AWS": "*"}
            ]
            assert denies, f"{queue_id} accepts requests without TLS"

    def test_visibility_is_at_least_six_times_the_consumers_timeout(self, template: Template):
        queues = resources(template, "AWS::SQS::Queue")
        functions = resources(template, "AWS::Lambda::Function")
        mappings = resources(template, "AWS::Lambda::EventSourceMapping").values()
        assert mappings
        for mapping in mappings:
            [queue_id] = referenced_ids(mapping["Properties"]["EventSourceArn"])
            [function_id] = referenced_ids(mapping["Properties"]["FunctionName"])
            timeout = functions[function_id]["Properties"]["Timeout"]
            assert queues[queue_id]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue_id

    def test_the_consumer_takes_every_queue_in_the_layouts_batches_reporting_item_failures(
        self, template: Template, layout: StorageLayout
    ):
        consumer_id = ttai_function_ids(template)["consumer"]
        mappings = {
            queue_id: mapping
            for queue_id, mapping in _event_sources(template).items()
            if referenced_ids(mapping["FunctionName"]) == {consumer_id}
        }
        ids = _queue_ids(template)
        assert set(mappings) == set(ids.values())
        for binding, queue_id in ids.items():
            mapping = mappings[queue_id]
            spec = layout.queues[binding]
            assert referenced_ids(mapping["FunctionName"]) == {consumer_id}
            assert mapping["BatchSize"] == spec.batch_size
            assert mapping["MaximumBatchingWindowInSeconds"] == spec.batch_window_seconds
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
            assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    def test_seed_batches(self, layout: StorageLayout):
        # The seed's figures, so a storage.json edit that drifts from them is a decision, not an accident.
        batches = {binding: (spec.batch_size, spec.batch_window_seconds) for binding, spec in layout.queues.items()}
        assert batches == {"TASK_QUEUE": (10, 30), "NOTIFICATION_QUEUE": (20, 5), "ANALYSIS_QUEUE": (10, 5)}


class TestProducers:
    @pytest.mark.parametrize("function", ["api", "auth", "authorizer", "migrate", "consumer", "scheduler"])
    def test_each_producer_sends_only_to_its_queues_and_knows_their_urls(
        self, template: Template, layout: StorageLayout, function: str
    ):
        sends_to = _sends_to(layout, function)
        ids = _queue_ids(template)
        assert set(ids) == set(layout.queues)
        variables = variables_of(template, function)
        for binding, queue_id in ids.items():
            actions = _sqs_actions_on(template, function, queue_id)
            if binding in sends_to:
                assert actions >= SQS_SENDS, (function, binding)
                assert variables[f"TTAI_{binding}_URL"] == {"Ref": queue_id}
            else:
                assert not actions & SQS_SENDS, (function, binding)
                assert f"TTAI_{binding}_URL" not in variables

    def test_the_producers_are_who_the_brief_says(self, layout: StorageLayout):
        assert _sends_to(layout, "api") == {"TASK_QUEUE"}
        assert _sends_to(layout, "scheduler") == {"ANALYSIS_QUEUE", "NOTIFICATION_QUEUE"}
        # Fan-out, screener runs and requested job runs send notifications and analysis results; nothing the
        # consumer runs asks for a task, so it has no TASK_QUEUE producer (it consumes that queue).
        assert _sends_to(layout, "consumer") == {"NOTIFICATION_QUEUE", "ANALYSIS_QUEUE"}
        assert layout.functions["consumer"].consumes == ("TASK_QUEUE", "NOTIFICATION_QUEUE", "ANALYSIS_QUEUE")

    def test_the_api_cannot_send_to_the_notification_queue(self, template: Template):
        assert not _sqs_actions_on(template, "api", _queue_ids(template)["NOTIFICATION_QUEUE"])

    def test_only_the_consumer_receives_and_no_function_touches_a_dead_letter_queue_directly(self, template: Template):
        ids = _queue_ids(template)
        for function in ttai_function_ids(template):
            for queue_id in ids.values():
                consumes = _sqs_actions_on(template, function, queue_id) & SQS_CONSUMES
                assert consumes == (SQS_CONSUMES if function == "consumer" else set()), (function, queue_id)
        queues = resources(template, "AWS::SQS::Queue")
        dead_letters = {
            next(iter(referenced_ids(queues[queue_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])))
            for queue_id in ids.values()
        }
        for function in ttai_function_ids(template):
            for dlq_id in dead_letters:
                assert not statements_on(statements_of_function(template, function), dlq_id), (function, dlq_id)


class TestIdempotency:
    def _table(self, template: Template) -> tuple[str, Resource]:
        table_id = variable_target(template, "consumer", "TTAI_IDEMPOTENCY_TABLE")
        return table_id, resources(template, "AWS::DynamoDB::Table")[table_id]

    def test_table_is_keyed_and_expired_as_the_layout_says(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        _, table = self._table(template)
        properties = table["Properties"]
        assert properties["KeySchema"] == [{"AttributeName": layout.idempotency.partition_key, "KeyType": "HASH"}]
        assert properties["AttributeDefinitions"] == [
            {"AttributeName": layout.idempotency.partition_key, "AttributeType": "S"}
        ]
        assert properties["TimeToLiveSpecification"] == {
            "AttributeName": layout.idempotency.ttl_attribute,
            "Enabled": True,
        }
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert table["DeletionPolicy"] == ("Retain" if config.retain else "Delete")
        assert properties["DeletionProtectionEnabled"] is config.deletion_protection

    def test_only_the_consumer_and_the_http_functions_reach_it_with_exactly_the_record_actions(
        self, template: Template
    ):
        # The consumer's records are per message; the api's and auth's per Idempotency-Key of a write.
        table_id, _ = self._table(template)
        for function in ttai_function_ids(template):
            statements = statements_on(statements_of_function(template, function), table_id)
            if function not in {"consumer", "api", "auth"}:
                assert statements == [], function
                continue
            assert {action for statement in statements for action in actions_of(statement)} == set(RECORD_ACTIONS)
            assert set(RECORD_ACTIONS) == {
                "dynamodb:PutItem",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            }
            for statement in statements:
                assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [table_id, "Arn"]}]


class TestNotifications:
    def test_the_push_topic_is_kms_encrypted_and_tls_only(self, template: Template, config: EnvironmentConfig):
        topic_id = variable_target(template, "consumer", "TTAI_PUSH_TOPIC_ARN")
        topic = resources(template, "AWS::SNS::Topic")[topic_id]["Properties"]
        assert topic["TopicName"] == f"ttai-{config.name}-push"
        assert "alias/aws/sns" in str(topic["KmsMasterKeyId"])
        [policy] = [
            policy["Properties"]["PolicyDocument"]
            for policy in resources(template, "AWS::SNS::TopicPolicy").values()
            if policy["Properties"]["Topics"] == [{"Ref": topic_id}]
        ]
        assert any(s["Effect"] == "Deny" and s["Condition"] == TLS_ONLY for s in policy["Statement"])

    def test_every_topic_is_encrypted_and_tls_only(self, template: Template):
        policies = resources(template, "AWS::SNS::TopicPolicy").values()
        for topic_id, topic in resources(template, "AWS::SNS::Topic").items():
            assert "KmsMasterKeyId" in topic["Properties"], topic_id
            assert any(
                statement["Effect"] == "Deny" and statement["Condition"] == TLS_ONLY
                for policy in policies
                if {"Ref": topic_id} in policy["Properties"]["Topics"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            ), topic_id

    def test_only_the_consumer_publishes_push_and_nothing_else_of_sns_or_kms(self, template: Template):
        topic_id = variable_target(template, "consumer", "TTAI_PUSH_TOPIC_ARN")
        for function in ttai_function_ids(template):
            statements = statements_of_function(template, function)
            sns = [s for s in statements if any(a.startswith("sns:") for a in actions_of(s))]
            if function == "consumer":
                assert [actions_of(s) for s in sns] == [{"sns:Publish"}]
                assert sns[0]["Resource"] == {"Ref": topic_id}
            else:
                assert sns == [], function
            assert not [s for s in statements if any(a.startswith("kms:") for a in actions_of(s))], function

    def test_without_a_configured_sender_there_is_no_identity_and_no_ses_grant(
        self, template: Template, config: EnvironmentConfig
    ):
        assert config.notifications.email_sender is None
        assert resources(template, "AWS::SES::EmailIdentity") == {}
        assert "TTAI_EMAIL_SENDER" not in variables_of(template, "consumer")
        for function in ttai_function_ids(template):
            actions = {a for s in statements_of_function(template, function) for a in actions_of(s)}
            assert not any(action.startswith("ses:") for action in actions), function


SENDER = "alerts@ttai.example.org"


@pytest.fixture(scope="module")
def with_sender(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Any, Path]:
    context = copy.deepcopy(cdk_context)
    context["environments"]["prod"]["notifications"]["email_sender"] = SENDER
    outdir = tmp_path_factory.mktemp("sender")
    app = cdk.App(outdir=str(outdir), context={**context, "env": "prod"})
    stage = build_app(app, root=PROJECT_ROOT)["prod"]
    app.synth()
    return Template.from_stack(stage.stack), stage, outdir


def test_a_configured_sender_gets_an_identity_and_the_consumer_sends_only_from_it(with_sender):
    template, _, _ = with_sender
    [identity] = resources(template, "AWS::SES::EmailIdentity").values()
    assert identity["Properties"]["EmailIdentity"] == SENDER
    assert variables_of(template, "consumer")["TTAI_EMAIL_SENDER"] == SENDER
    for function in ttai_function_ids(template):
        ses = [
            s for s in statements_of_function(template, function) if any(a.startswith("ses:") for a in actions_of(s))
        ]
        if function != "consumer":
            assert ses == [], function
            continue
        [statement] = ses
        assert actions_of(statement) == {"ses:SendEmail"}
        assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": SENDER}}
        resource = str(statement["Resource"])
        assert f":identity/{SENDER}" in resource
        assert "*" not in resource


def test_a_configured_sender_passes_both_nag_packs_and_cfn_lint(with_sender, cdk_context: dict[str, Any]):
    _, stage, outdir = with_sender
    region = load_environment(cdk_context, "prod").region
    for pack in (AwsSolutionsChecks(), ServerlessChecks()):
        assert [violation.rule_name for violation in pack.validate_scope(stage).violations] == []
    [template] = outdir.rglob("*.template.json")
    problems = [
        str(match) for match in lint_file(template, ManualArgs(regions=[region])) if not accepted_cfn_lint(match)
    ]
    assert problems == []
