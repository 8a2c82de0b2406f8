"""A Lambda layer from a directory infra.layer_build produced: the shared one, or one dependency group's."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.constructs.function import TtaiFunction
from infra.layer_build import AUTH_LAYER_GROUP, BUILD_RECORDS, SCHEDULER_LAYER_GROUP, WORKFLOWS_LAYER_GROUP


class ExtraLayer(NamedTuple):
    construct_id: str
    description: str  # {env} stands for the environment's name


SHARED_LAYER = ExtraLayer("SharedLayer", "ttai runtime for {env}: powertools, pydantic, pyjwt and the ttai package")
# The layers a function spec may name, by their dependency group in pyproject.toml; each ships after the shared one.
# CDK lists a function's layers sorted by construct path: every id here sorts after SharedLayer, whose files
# therefore come first (no two layers share a file).
EXTRA_LAYERS = {
    # cryptography alone is larger than the shared layer's budget allows, and only signing in needs it.
    AUTH_LAYER_GROUP: ExtraLayer("SignInLayer", "ttai sign-in dependencies for {env}: cryptography (AES-GCM, HKDF)"),
    SCHEDULER_LAYER_GROUP: ExtraLayer(
        "TradingCalendarLayer", "ttai scheduler dependencies for {env}: holidays (the NYSE calendar)"
    ),
    # Only the workflows' own functions run the durable execution SDK; a binding needs none of it.
    WORKFLOWS_LAYER_GROUP: ExtraLayer(
        "WorkflowsLayer", "ttai workflow dependencies for {env}: the durable execution SDK"
    ),
}


class PythonLayer(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layer_dir: Path, description: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=description,
            code=lambda_.Code.from_asset(
                str(layer_dir),
                exclude=list(BUILD_RECORDS),
                # The directory is named by the digest of its inputs, so CDK need not fingerprint it again.
                asset_hash=layer_dir.name,
                asset_hash_type=cdk.AssetHashType.CUSTOM,
            ),
            compatible_runtimes=[TtaiFunction.RUNTIME],
            compatible_architectures=[TtaiFunction.ARCHITECTURE],
            removal_policy=removal_policy(config),
        )
