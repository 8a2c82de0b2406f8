"""Database migrations on deploy: a CDK trigger runs the migrate function once the cluster is ready."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import triggers
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import log_group
from infra.constructs.database import Database
from infra.constructs.function import TtaiFunction
from infra.nag import acknowledge

# The id CDK gives the one trigger provider of a stack (a Node.js function it ships, shared by every trigger).
_PROVIDER_ID = "AWSCDK.TriggerCustomResourceProviderCustomResourceProvider"
# The trigger waits a little longer than migrate may run, so a migrate timeout comes back as migrate's own error.
_INVOCATION_MARGIN = cdk.Duration.seconds(30)


class Migrations(Construct):
    """Invokes the migrate function synchronously on create and whenever its code or the layer changes.

    The migration files ship in the layer. With @aws-cdk/aws-lambda:recognizeLayerVersion the function's current
    version already changes with the layer; the trigger also carries the layer version ARN, so a new layer
    re-runs the migrations even if that flag were ever turned off. A failed migration fails the deploy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        migrate: TtaiFunction,
        database: Database,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self.trigger = triggers.Trigger(
            self,
            "Trigger",
            handler=migrate.function,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=cdk.Duration.seconds(config.functions.migrate.timeout_seconds).plus(_INVOCATION_MARGIN),
            execute_on_handler_change=True,
            execute_after=database.data_api_ready,
        )
        resource = cast(cdk.CfnResource, self.trigger.node.find_child("Default").node.default_child)
        resource.add_property_override("LayerVersionArn", layer.layer_version_arn)
        self._harden_provider(config)
        acknowledge(
            migrate.function,
            "Serverless-LambdaDLQ",
            "Only the deploy-time trigger invokes this function, synchronously; a failure fails the deploy and "
            "a dead-letter queue only ever receives events from asynchronous invocations.",
        )

    def _harden_provider(self, config: EnvironmentConfig) -> None:
        """Give CDK's trigger provider a log group of ours and no AWSLambdaBasicExecutionRole.

        The provider is a CDK singleton built from raw CloudFormation resources (CfnResource, not CfnFunction or
        CfnRole), which cdk-nag's rules do not inspect and only escape hatches reach; tests/infra checks it instead.
        """
        stack = cdk.Stack.of(self)
        provider = cast(cdk.CustomResourceProviderBase, stack.node.find_child(_PROVIDER_ID))
        role = cast(cdk.CfnResource, provider.node.find_child("Role"))
        handler = cast(cdk.CfnResource, provider.node.find_child("Handler"))

        logs = log_group(self, "ProviderLogs", config)
        # The managed policy would let it write to every log group in the account; it gets its own group only.
        role.add_property_deletion_override("ManagedPolicyArns")
        provider.add_to_role_policy(
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [logs.log_group_arn],
            }
        )
        handler.add_property_override("LoggingConfig", {"LogGroup": logs.log_group_name, "LogFormat": "JSON"})
