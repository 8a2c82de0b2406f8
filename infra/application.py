"""Builds the CDK app: every environment of cdk.json and the `ci` stage of the GitHub deploy roles, or only the one
chosen with `-c env=NAME` (`-c env=ci` for the deploy roles)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.ci_stack import CiStage
from infra.config import known_environments, load_ci_settings, load_environment
from infra.layer_build import ensure_layer
from infra.stack import TtaiStage
from infra.storage_layout import load_storage_layout

ENVIRONMENTS_KEY = "environments"
SELECT_KEY = "env"
CI_KEY = "ci"


def build_app(app: cdk.App, *, root: Path) -> dict[str, TtaiStage]:
    """Validate every selected environment first, then build the layers and one stage per environment.

    The `ci` stage (no layers) comes with every environment, or alone with `-c env=ci`; it is not among the stages
    returned, which are the environments'.
    """
    context = {ENVIRONMENTS_KEY: app.node.try_get_context(ENVIRONMENTS_KEY)}
    selected = app.node.try_get_context(SELECT_KEY)
    if selected is None or selected == CiStage.NAME:
        build_ci(app)
        if selected is not None:
            return {}
    names = known_environments(context) if selected is None else [str(selected)]
    configs = [load_environment(context, name) for name in names]
    layout = load_storage_layout(root)
    # The shared layer, and the layer of each dependency group a function spec names.
    groups = sorted({group for spec in layout.functions.values() for group in spec.layers})
    layer_dirs: dict[str | None, Path] = {None: ensure_layer(root), **{g: ensure_layer(root, g) for g in groups}}
    return {
        config.name: TtaiStage(app, config=config, layout=layout, layer_dirs=layer_dirs, root=root)
        for config in configs
    }


def build_ci(app: cdk.App) -> CiStage:
    """The stage of the OIDC provider and the deploy roles of the environments cdk.json's `ci` names."""
    context = {ENVIRONMENTS_KEY: app.node.try_get_context(ENVIRONMENTS_KEY), CI_KEY: app.node.try_get_context(CI_KEY)}
    settings = load_ci_settings(context)
    environments = [load_environment(context, name) for name in settings.deploy_environments]
    return CiStage(app, settings=settings, environments=environments)


def add_policy_checks(app: cdk.App) -> None:
    """Make synthesis fail on any cdk-nag finding (AwsSolutions and Serverless packs) not acknowledged with a reason."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
