"""The Ttai stack and its per-environment stage: they only wire the constructs together.

Each function comes from its spec in storage.json (infra.bindings builds it with its variables and grants); what
is left here is which construct feeds which: the HTTP API's routes, the schedules, the deploy-time migrations and
the dashboard with its alarms.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bindings import Bindings
from infra.config import EnvironmentConfig
from infra.constructs.ai import Embeddings
from infra.constructs.cache_table import CacheTable
from infra.constructs.database import Database
from infra.constructs.durable_objects import DurableObjects
from infra.constructs.http_api import HttpApi
from infra.constructs.idempotency import IdempotencyTable
from infra.constructs.layer import EXTRA_LAYERS, SHARED_LAYER, PythonLayer
from infra.constructs.limits import LimitsTable
from infra.constructs.market_capacity import MarketCapacity
from infra.constructs.migrations import Migrations
from infra.constructs.monitoring import Monitoring, QueuePair
from infra.constructs.notifications import Notifications
from infra.constructs.queues import Queues
from infra.constructs.schedules import Schedules
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage
from infra.constructs.websocket_api import WebSocketApi
from infra.constructs.workflows import Workflows
from infra.storage_layout import StorageLayout

# Runs only at deploy, where a failure fails the deploy: no alarm of its own.
DEPLOY_TIME_FUNCTIONS = ("migrate",)


class TtaiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layer_dirs: Mapping[str | None, Path],
        root: Path,
    ) -> None:
        """`layer_dirs`: the built shared layer under None, each extra layer under its dependency group."""
        super().__init__(
            scope,
            construct_id,
            stack_name=f"ttai-{config.name}",
            description=f"TTAI data layer ({config.name})",
            termination_protection=config.deletion_protection,
        )
        cache = CacheTable(self, "Cache", config=config, layout=layout.kv)
        secrets = Secrets(self, "Secrets", config=config, specs=layout.secrets)
        shared_layer = self._layer(SHARED_LAYER.construct_id, SHARED_LAYER.description, config, layer_dirs[None])
        extra_layers = {
            group: self._layer(layer.construct_id, layer.description, config, layer_dirs[group])
            for group, layer in EXTRA_LAYERS.items()
            if group in layer_dirs
        }
        database = Database(self, "Database", config=config)
        storage = Storage(self, "Storage", config=config, layout=layout.bucket, access_logs=cache.access_logs)
        queues = Queues(self, "Queues", config=config, layout=layout.queues)
        websocket = WebSocketApi(self, "WebSocket", config=config, layout=layout.websockets)
        durable = DurableObjects(self, "DurableObjects", config=config, layout=layout.durable)
        idempotency = IdempotencyTable(self, "Idempotency", config=config, layout=layout.idempotency)
        limits = LimitsTable(self, "Limits", config=config, layout=layout.limits)
        workflows = Workflows(self, "Workflows", config=config, layout=layout.workflows)
        bindings = Bindings(
            config=config,
            root=root,
            shared_layer=shared_layer,
            extra_layers=extra_layers,
            cache=cache,
            database=database,
            storage=storage,
            queues=queues,
            idempotency=idempotency,
            limits=limits,
            notifications=Notifications(self, "Notifications", config=config),
            secrets=secrets,
            workflows=workflows,
            embeddings=Embeddings(self, "Embeddings", layout=layout.ai),
            vector_indexes=layout.vectorize.indexes,
            durable=durable,
            websocket=websocket,
        )
        functions = bindings.functions(self, layout.functions)
        websocket.route(handler=functions["realtime"], authorizer=functions["connect_authorizer"])

        Migrations(
            self, "Migrations", config=config, migrate=functions["migrate"], database=database, layer=shared_layer
        )
        schedules = Schedules(self, "Schedules", config=config, layout=layout.schedules, target=functions["scheduler"])
        if config.database.market_hours is not None:
            MarketCapacity(
                self,
                "MarketCapacity",
                config=config,
                cluster=database.cluster,
                group=schedules.group,
                timezone=layout.schedules.timezone,
                dead_letters=schedules.dead_letters,
            )
        http_api = HttpApi(
            self,
            "Http",
            config=config,
            api_function=functions["api"],
            auth_function=functions["auth"],
            authorizer_function=functions["authorizer"],
        )
        bindings.oauth_redirect_to(http_api.callback_url)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=functions,
            alarmed_functions=[name for name in functions if name not in DEPLOY_TIME_FUNCTIONS],
            http_api=http_api,
            websocket=websocket,
            queues={
                **{
                    spec.name: QueuePair(queues.queues[binding], queues.dead_letter_queues[binding])
                    for binding, spec in layout.queues.items()
                },
                "durable-alarms": QueuePair(durable.alarms, durable.dead_letters),
            },
            dead_letter_queues={"schedules": schedules.dead_letters},
            database=database,
            tables={
                "cache": cache.table,
                "idempotency": idempotency.table,
                "limits": limits.table,
                "durable objects": durable.table,
                "websocket connections": websocket.table,
                "workflows": workflows.table,
            },
        )

        cdk.CfnOutput(self, "ApiUrl", value=http_api.url, description="Base URL of the HTTP API")
        cdk.CfnOutput(
            self,
            "WebSocketUrl",
            value=websocket.stage.url,
            description="The real-time WebSocket API (connect with a ticket from POST /api/v1/realtime/ticket)",
        )
        cdk.CfnOutput(
            self,
            "OAuthRedirectUri",
            value=http_api.callback_url,
            description="Register this as the redirect URI of the TastyTrade OAuth client",
        )
        if secrets.operator_provided:
            cdk.CfnOutput(
                self,
                "SecretsToProvide",
                value=" ".join(secrets.secret_name(name) for name in secrets.operator_provided),
                description="Secrets holding placeholders until the operator puts their issued values",
            )

    def _layer(
        self, construct_id: str, description: str, config: EnvironmentConfig, directory: Path
    ) -> lambda_.ILayerVersion:
        return PythonLayer(
            self, construct_id, config=config, layer_dir=directory, description=description.format(env=config.name)
        ).layer


class TtaiStage(cdk.Stage):
    """One deployable environment: `cdk deploy 'dev/*'` deploys dev alone."""

    STACK_ID = "Ttai"

    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layer_dirs: Mapping[str | None, Path],
        root: Path,
    ) -> None:
        # Environment-agnostic unless cdk.json pins an account: synth then never needs to ask AWS which one.
        env = cdk.Environment(account=config.account, region=config.region) if config.account else None
        super().__init__(scope, config.name, env=env)
        self.stack = TtaiStack(self, self.STACK_ID, config=config, layout=layout, layer_dirs=layer_dirs, root=root)
        cdk.Tags.of(self).add("project", "ttai")
        cdk.Tags.of(self).add("environment", config.name)
