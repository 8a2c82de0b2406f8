"""Durable Objects: the objects table, the alarm queue the durable host consumes, and the schedules that feed it.

One table holds every namespace's objects (storage.json `durable`): partition '<namespace>#<id>', sort key what
the item is; alarm items alone carry the sparse index's attributes. An alarm due within SQS's 15-minute delay is a
delayed message on the alarm queue; a later one is a one-time EventBridge Scheduler schedule in this construct's
group whose target sends the same message to the same queue, with the role made here (the host passes it).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import house_table, removal_policy
from infra.constructs.function import TtaiFunction
from infra.constructs.queues import DEAD_LETTER_RETENTION, MESSAGE_RETENTION, encrypted_queue
from infra.nag import acknowledge, logical_id, wildcard_finding
from infra.storage_layout import DurableBinding, DurableHostBinding, DurableLayout

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
# What the host does with schedules: one per far alarm, deleted when replaced (and by Scheduler after it ran).
SCHEDULE_ACTIONS = ("scheduler:CreateSchedule", "scheduler:DeleteSchedule")
# An alarm message failing this often (the object busy every time, or AWS failing) is dead-lettered.
ALARM_MAX_RECEIVES = 10
ALARM_BATCH_SIZE = 10


class DurableObjects(Construct):
    """The objects table, the alarm queue (and its DLQ), the schedule group and the role its schedules send with."""

    TABLE_ENV = "TTAI_DURABLE_TABLE"
    ALARMS_URL_ENV = "TTAI_DURABLE_ALARMS_URL"
    ALARMS_ARN_ENV = "TTAI_DURABLE_ALARMS_ARN"
    SCHEDULE_GROUP_ENV = "TTAI_DURABLE_SCHEDULE_GROUP"
    SCHEDULE_ROLE_ENV = "TTAI_DURABLE_SCHEDULE_ROLE_ARN"
    HOST_ENV = "TTAI_{binding}_HOST"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: DurableLayout
    ) -> None:
        super().__init__(scope, construct_id)
        index = layout.alarm_index
        self.table = house_table(
            self,
            "Table",
            config,
            partition_key=dynamodb.Attribute(
                name=layout.partition_key.name, type=_ATTRIBUTE_TYPES[layout.partition_key.type]
            ),
            sort_key=dynamodb.Attribute(name=layout.sort_key.name, type=_ATTRIBUTE_TYPES[layout.sort_key.type]),
        )
        self.table.add_global_secondary_index(
            index_name=index.name,
            partition_key=dynamodb.Attribute(
                name=index.partition_key.name, type=_ATTRIBUTE_TYPES[index.partition_key.type]
            ),
            sort_key=dynamodb.Attribute(name=index.sort_key.name, type=_ATTRIBUTE_TYPES[index.sort_key.type]),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.dead_letters = encrypted_queue(
            self,
            "AlarmDeadLetters",
            queue_name=f"ttai-{config.name}-durable-alarms-dlq",
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue of the durable alarm queue: alarms whose host failed "
            f"{ALARM_MAX_RECEIVES} times wait here for an operator.",
        )
        host_timeout = config.functions.durable.timeout_seconds
        self.alarms = encrypted_queue(
            self,
            "Alarms",
            queue_name=f"ttai-{config.name}-durable-alarms",
            retention_period=MESSAGE_RETENTION,
            visibility_timeout=cdk.Duration.seconds(6 * host_timeout),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=ALARM_MAX_RECEIVES, queue=self.dead_letters),
        )
        self.schedule_group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=f"ttai-{config.name}-durable")
        self.schedule_group.apply_removal_policy(removal_policy(config))
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description=f"ttai-{config.name}: far Durable Object alarms send their message to the alarm queue",
        )
        self.alarms.grant_send_messages(self.schedule_role)

    def bind_host(self, grantee: iam.IGrantable, binding: DurableHostBinding) -> dict[str, str]:
        """The host's own: the table read and written, alarms sent (near) or scheduled (far) in the group."""
        self.table.grant_read_write_data(grantee)
        self.alarms.grant_send_messages(grantee)
        schedules = cdk.Stack.of(self).format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.schedule_group.ref}/*",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(SCHEDULE_ACTIONS), resources=[schedules])
        )
        self.schedule_role.grant_pass_role(grantee.grant_principal)
        table = logical_id(self.table.node.default_child)  # type: ignore[arg-type]
        group = logical_id(self.schedule_group)
        _acknowledge(
            grantee,
            wildcard_finding("Resource", f"<{table}.Arn>/index/*"),
            "The objects table's one index, the sparse index of alarms by due time, which a sweep of due alarms "
            "queries; CDK's table grants name indexes by this pattern.",
        )
        _acknowledge(
            grantee,
            wildcard_finding(
                "Resource",
                f"arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<{group}>/*",
            ),
            "Far alarms are one-time schedules named after their object and due time, so their names are not known "
            "in advance; the grant is limited to the durable host's own schedule group.",
        )
        return {
            self.TABLE_ENV: self.table.table_name,
            self.ALARMS_URL_ENV: self.alarms.queue_url,
            self.ALARMS_ARN_ENV: self.alarms.queue_arn,
            self.SCHEDULE_GROUP_ENV: self.schedule_group.ref,
            self.SCHEDULE_ROLE_ENV: self.schedule_role.role_arn,
        }

    def add_host(self, host: TtaiFunction) -> None:
        """The alarm queue delivered to the host, failures reported per message (a busy object's alarm returns)."""
        host.function.add_event_source(
            event_sources.SqsEventSource(self.alarms, batch_size=ALARM_BATCH_SIZE, report_batch_item_failures=True)
        )
        acknowledge(
            host.function,
            "Serverless-LambdaDLQ",
            "SQS invokes the host synchronously through its event source mapping (a failed alarm returns to the "
            "alarm queue and is dead-lettered from there) and callers invoke it synchronously (the answer or error is "
            "theirs); its asynchronous invocations are web_socket_close deliveries after a 410, best effort (the "
            "connection rows are gone already and expire anyway).",
        )
        for mapping in host.function.node.children:
            if isinstance(mapping, cdk.Resource) and mapping.node.id.startswith("SqsEventSource"):
                acknowledge(
                    mapping,
                    "Serverless-LambdaEventSourceMappingDestination",
                    "Lambda supports on-failure destinations only for stream and Kafka sources; the alarm queue's "
                    "redrive policy moves a failing alarm to its dead-letter queue instead.",
                )

    def bind_call(
        self, grantee: iam.IGrantable, name: str, binding: DurableBinding, host: lambda_.IFunction
    ) -> dict[str, str]:
        """A caller of the namespace bound as `name`: it invokes the host function, and nothing else of it."""
        grant_invoke(grantee, host)
        return {self.HOST_ENV.format(binding=name): host.function_name}


def _acknowledge(grantee: iam.IGrantable, finding: str, reason: str) -> None:
    # Only a role of ours can carry the acknowledgment; any other grantee keeps the finding, so nag says so.
    principal = grantee.grant_principal
    if isinstance(principal, Construct):
        acknowledge(principal, f"AwsSolutions-IAM5[{finding}]", reason)


def grant_invoke(grantee: iam.IGrantable, function: lambda_.IFunction) -> None:
    """lambda:InvokeFunction on `function` (and its versions and aliases, as CDK's grant names them)."""
    function.grant_invoke(grantee)
    target = logical_id(function.node.default_child)  # type: ignore[arg-type]
    _acknowledge(
        grantee,
        wildcard_finding("Resource", f"<{target}.Arn>:*"),
        "CDK's invoke grant names the function and its qualified ARNs (versions and aliases) of that one function.",
    )
