"""Workflows on Lambda durable functions: the workflows table, each workflow's function made durable behind an
alias, and the Workflow binding's grants.

A function whose spec names a `workflow` is built by infra.bindings like any other (a TtaiFunction, with a
DurableConfig from cdk.json's `workflows`); `add` gives it an alias, ``live``, on its current version (durable
executions start only through a qualified ARN, and the alias is what the bindings name, TTAI_<BINDING>_ARN), the
right to checkpoint and read the state of its own executions (Lambda authorizes those against execution ARNs,
``<function ARN>:<version>/durable-execution/...``, hence the ``:*`` resource), and the workflows table, where
wait_for_event's mailbox lives. A Workflow binding (`bind`) with access ``start`` may invoke that alias and write
the instance registry; with ``manage`` it may also call the durable execution APIs on that function's executions
(status, pause, resume, terminate, events). Values too big for a checkpoint go to the bucket's ``workflows/``
prefix, which a spec grants through its R2 binding like any other prefix.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import ConfigError, EnvironmentConfig
from infra.constructs._policy import house_table
from infra.constructs.cache_table import ATTRIBUTE_TYPES
from infra.constructs.function import TtaiFunction
from infra.nag import acknowledge
from infra.storage_layout import WorkflowBinding, WorkflowsLayout

ALIAS = "live"
ARN_ENV = "TTAI_{binding}_ARN"
TABLE_ENV = "TTAI_WORKFLOWS_TABLE"
# Exactly what the instance registry and mailbox call (ttai.bindings.workflows.aws.DynamoInstanceStore): a
# transaction's deletes need DeleteItem on each item. No scans, no batch writes.
RECORD_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query")
# What the SDK inside a durable function calls for its own executions.
RUNTIME_ACTIONS = ("lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState")
# What a binding with access "manage" calls to read and steer runs: status (and "waiting" from the history), an
# ARN by name, pause, resume, terminate, restart, and event delivery.
STEER_ACTIONS = (
    "lambda:GetDurableExecution",
    "lambda:GetDurableExecutionHistory",
    "lambda:ListDurableExecutionsByFunction",
    "lambda:PauseDurableExecution",
    "lambda:ResumeDurableExecution",
    "lambda:StopDurableExecution",
    "lambda:SendDurableExecutionCallbackSuccess",
)


def durable_config(config: EnvironmentConfig) -> lambda_.DurableConfig:
    """How long one run of a workflow may last and how long Lambda keeps it once closed (cdk.json's workflows)."""
    return lambda_.DurableConfig(
        execution_timeout=cdk.Duration.days(config.workflows.execution_timeout_days),
        retention_period=cdk.Duration.days(config.workflows.retention_days),
    )


class WorkflowsTable(Construct):
    """The instance registry and event mailbox: on demand, PITR, AWS-managed encryption, TTL."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: WorkflowsLayout):
        super().__init__(scope, construct_id)
        self.table = house_table(
            self,
            "Table",
            config,
            partition_key=dynamodb.Attribute(
                name=layout.partition_key.name, type=ATTRIBUTE_TYPES[layout.partition_key.type]
            ),
            sort_key=dynamodb.Attribute(name=layout.sort_key.name, type=ATTRIBUTE_TYPES[layout.sort_key.type]),
            ttl_attribute=layout.ttl_attribute,
        )


class _WorkflowFunction:
    """A workflow's durable function as its bindings see it: the alias they invoke, the executions they steer."""

    def __init__(self, function: TtaiFunction, alias: lambda_.Alias) -> None:
        self.function = function.function
        self.alias = alias

    @property
    def executions(self) -> str:
        """Every durable execution of this function, of any version (Lambda's execution ARNs extend it)."""
        return f"{self.function.function_arn}:*"

    @property
    def logical_id(self) -> str:
        element = self.function.node.default_child
        assert isinstance(element, cdk.CfnElement)
        return cdk.Stack.of(self.function).get_logical_id(element)


class Workflows(Construct):
    """The workflows table and each workflow's function, by binding name; what the Workflow binding grants."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: WorkflowsLayout):
        super().__init__(scope, construct_id)
        self.table = WorkflowsTable(self, "Registry", config=config, layout=layout).table
        self.functions: dict[str, _WorkflowFunction] = {}

    def add(self, function: TtaiFunction) -> dict[str, str]:
        """Make `function` (a durable function, its spec naming a workflow) the one that runs its workflow: its
        alias, its checkpoints, the mailbox. Returns the variables naming what it reads (the table)."""
        binding = function.spec.workflow
        assert binding is not None
        alias = lambda_.Alias(function, "Alias", alias_name=ALIAS, version=function.function.current_version)
        made = self.functions[binding] = _WorkflowFunction(function, alias)
        # A policy of its own, not the role's default one: the function depends on its role's default policy, and
        # this statement names the function, so keeping it there would make the two depend on each other.
        iam.Policy(
            function,
            "Checkpoints",
            roles=[function.role],
            statements=[iam.PolicyStatement(actions=list(RUNTIME_ACTIONS), resources=[made.executions])],
        )
        self.table.grant(function.function, *RECORD_ACTIONS)
        acknowledge(
            function.function,
            "Serverless-LambdaDLQ",
            "An asynchronous invoke only starts a durable execution; the service replays it after failures, and a "
            "run that fails for good is kept as a FAILED execution with its error for the retention period, which "
            "the instance's status reports (errored). A dead-letter queue would hold only the start payload.",
        )
        acknowledge(
            function,
            f"AwsSolutions-IAM5[Resource::<{made.logical_id}.Arn>:*]",
            "Lambda authorizes checkpoints against this function's execution ARNs (<function>:<version>/"
            "durable-execution/<name>/<id>), generated per run and version: only a pattern can name them.",
        )
        return {TABLE_ENV: self.table.table_name}

    def bind(self, grantee: iam.IGrantable, name: str, binding: WorkflowBinding) -> dict[str, str]:
        """Workflow `name` to `grantee`: start instances, and with access manage also read and steer them."""
        workflow = self.functions.get(name)
        if workflow is None:
            msg = f"storage.json: no function runs workflow {name} (or it is built after a function binding it)"
            raise ConfigError(msg)
        self.table.grant(grantee, *RECORD_ACTIONS)
        workflow.alias.grant_invoke(grantee)
        if binding.access == "manage":
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(STEER_ACTIONS), resources=[workflow.function.function_arn, workflow.executions]
                )
            )
            principal = grantee.grant_principal
            if isinstance(principal, Construct):
                acknowledge(
                    principal,
                    f"AwsSolutions-IAM5[Resource::<{workflow.logical_id}.Arn>:*]",
                    "Lambda authorizes the durable execution APIs against execution ARNs of the workflow's "
                    "function (<function>:<version>/durable-execution/<name>/<id>), made per run: only a pattern "
                    "under that one function can name them.",
                )
        return {TABLE_ENV: self.table.table_name, ARN_ENV.format(binding=name): workflow.alias.function_arn}
