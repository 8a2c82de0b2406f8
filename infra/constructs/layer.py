"""A Lambda layer from a directory infra.layer_build produced: the shared one, or one dependency group's."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.constructs.function import TtaiFunction
from infra.layer_build import BUILD_RECORDS


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
