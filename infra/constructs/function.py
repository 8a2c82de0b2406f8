"""The defaults every TTAI Lambda function shares, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig, FunctionSettings
from infra.constructs._policy import log_group
from infra.nag import acknowledge
from infra.paths import FUNCTIONS_DIR
from infra.storage_layout import FunctionSpec

_TRACING = {"active": lambda_.Tracing.ACTIVE, "pass_through": lambda_.Tracing.PASS_THROUGH}
_APPLICATION_LOG_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}


class TtaiFunction(Construct):
    """A function as its spec declares it (functions/<folder>/ and its handler), with its own role and log group.

    The role has no AWSLambdaBasicExecutionRole: that managed policy lets a function write to any log group
    in the account, so the role gets write access to its own log group only. Its bindings' variables and grants
    come from infra.bindings, together; nothing else adds either.
    """

    RUNTIME = lambda_.Runtime.PYTHON_3_14
    ARCHITECTURE = lambda_.Architecture.ARM_64
    METRICS_NAMESPACE = "TTAI"
    # Each function's asset is its own folder, without bytecode left by local runs.
    ASSET_EXCLUDE = ("__pycache__", "**/__pycache__", "*.pyc", "**/*.pyc")

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        config: EnvironmentConfig,
        settings: FunctionSettings,
        layers: Sequence[lambda_.ILayerVersion],
        root: Path,
        durable_config: lambda_.DurableConfig | None = None,
    ) -> None:
        """`durable_config`: a durable function's (one whose spec runs a workflow), None for any other."""
        super().__init__(scope, construct_id)
        self.spec = spec
        name = self.name = spec.name
        # Powertools' service: the log lines' "service" and the dimension of the function's own metrics.
        self.service_name = f"ttai-{name}"
        self.log_group = log_group(self, "Logs", config)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"ttai-{name} in {config.name}: only what this function needs",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=self.RUNTIME,
            architecture=self.ARCHITECTURE,
            handler=spec.lambda_handler,
            code=lambda_.Code.from_asset(str(root / FUNCTIONS_DIR / spec.folder), exclude=list(self.ASSET_EXCLUDE)),
            layers=list(layers),
            role=self.role,
            memory_size=settings.memory_mb,
            timeout=cdk.Duration.seconds(settings.timeout_seconds),
            tracing=_TRACING[config.tracing],
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=_APPLICATION_LOG_LEVELS[config.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            log_group=self.log_group,
            durable_config=durable_config,
            environment={
                "TTAI_ENVIRONMENT": config.name,
                "POWERTOOLS_SERVICE_NAME": self.service_name,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                "POWERTOOLS_METRICS_NAMESPACE": self.METRICS_NAMESPACE,
                # No pydantic plugins are used; without this pydantic scans every installed distribution's entry
                # points the first time it builds a validator, on every cold start.
                "PYDANTIC_DISABLE_PLUGINS": "__all__",
            },
        )
        self.log_group.grant_write(self.role)
        if config.tracing == "pass_through":
            acknowledge(
                self.function,
                "Serverless-LambdaTracing",
                f"{config.name} traces a function only when its caller sampled the request (cdk.json `tracing`): "
                "with no X-Ray SDK in the code a trace holds one invocation's phases, which the dashboard's "
                "duration and error metrics already show, while Lambda's own sampling (the first invocation of each "
                "second and 5% of the rest, per function) would cost about 20 USD a month at 1,000 users "
                "(make cost).",
            )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Tracing (active, or passed through) needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
            "support no resource-level permissions, so X-Ray only accepts Resource '*'.",
        )
