"""Builds the CDK app: every environment of cdk.json, or only the one chosen with `-c env=NAME`."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import known_environments, load_environment
from infra.layer_build import AUTH_LAYER_GROUP, SCHEDULER_LAYER_GROUP, ensure_layer
from infra.stack import TtaiStage
from infra.storage_layout import load_storage_layout

ENVIRONMENTS_KEY = "environments"
SELECT_KEY = "env"


def build_app(app: cdk.App, *, root: Path) -> dict[str, TtaiStage]:
    """Validate every selected environment first, then build the layers and one stage per environment."""
    context = {ENVIRONMENTS_KEY: app.node.try_get_context(ENVIRONMENTS_KEY)}
    selected = app.node.try_get_context(SELECT_KEY)
    names = known_environments(context) if selected is None else [str(selected)]
    configs = [load_environment(context, name) for name in names]
    layout = load_storage_layout(root)
    layer_dir = ensure_layer(root)
    auth_layer_dir = ensure_layer(root, AUTH_LAYER_GROUP)
    scheduler_layer_dir = ensure_layer(root, SCHEDULER_LAYER_GROUP)
    return {
        config.name: TtaiStage(
            app,
            config=config,
            layout=layout,
            layer_dir=layer_dir,
            auth_layer_dir=auth_layer_dir,
            scheduler_layer_dir=scheduler_layer_dir,
            root=root,
        )
        for config in configs
    }


def add_policy_checks(app: cdk.App) -> None:
    """Make synthesis fail on any cdk-nag finding (AwsSolutions and Serverless packs) not acknowledged with a reason."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
