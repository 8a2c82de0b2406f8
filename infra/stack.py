"""The Ttai stack and its per-environment stage: they only wire the constructs together."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.alarms import Alarms
from infra.constructs.cache_table import CacheTable
from infra.constructs.function import TtaiFunction
from infra.constructs.http_api import HttpApi
from infra.constructs.secrets import Secrets
from infra.constructs.shared_layer import SharedLayer
from infra.storage_layout import StorageLayout

SESSION_SECRET = "JWT_SECRET"  # noqa: S105 - the name of the secret, not its value


class TtaiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layer_dir: Path,
        root: Path,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=f"ttai-{config.name}",
            description=f"TTAI data layer ({config.name})",
            termination_protection=config.deletion_protection,
        )
        cache = CacheTable(self, "Cache", config=config, layout=layout.kv)
        secrets = Secrets(self, "Secrets", config=config, specs=layout.secrets)
        layer = SharedLayer(self, "SharedLayer", config=config, layer_dir=layer_dir)

        # The authorizer reads only small session records: the table, never the overflow bucket.
        authorizer = TtaiFunction(
            self,
            "Authorizer",
            name="authorizer",
            description="Verifies the bearer token and its session for every non-public route",
            config=config,
            settings=config.functions.authorizer,
            layer=layer.layer,
            root=root,
            environment={**cache.environment(include_overflow=False), **secrets.environment(SESSION_SECRET)},
        )
        cache.grant_read(authorizer.function, include_overflow=False)
        secrets.grant_read(authorizer.function, SESSION_SECRET)

        api = TtaiFunction(
            self,
            "Api",
            name="api",
            description="The HTTP API: every route of the data layer",
            config=config,
            settings=config.functions.api,
            layer=layer.layer,
            root=root,
            environment={**cache.environment(), **secrets.environment(SESSION_SECRET)},
        )
        cache.grant_read_write(api.function)
        secrets.grant_read(api.function, SESSION_SECRET)

        http_api = HttpApi(self, "Http", config=config, api_function=api, authorizer_function=authorizer)
        if config.alarms.enabled:
            Alarms(self, "Alarms", config=config, functions=(api, authorizer), http_api=http_api)

        cdk.CfnOutput(self, "ApiUrl", value=http_api.url, description="Base URL of the HTTP API")


class TtaiStage(cdk.Stage):
    """One deployable environment: `cdk deploy 'dev/*'` deploys dev alone."""

    STACK_ID = "Ttai"

    def __init__(
        self, scope: Construct, *, config: EnvironmentConfig, layout: StorageLayout, layer_dir: Path, root: Path
    ) -> None:
        # Environment-agnostic unless cdk.json pins an account: synth then never needs to ask AWS which one.
        env = cdk.Environment(account=config.account, region=config.region) if config.account else None
        super().__init__(scope, config.name, env=env)
        self.stack = TtaiStack(self, self.STACK_ID, config=config, layout=layout, layer_dir=layer_dir, root=root)
        cdk.Tags.of(self).add("project", "ttai")
        cdk.Tags.of(self).add("environment", config.name)
