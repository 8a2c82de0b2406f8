"""The Ttai stack and its per-environment stage: they only wire the constructs together."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.alarms import Alarms
from infra.constructs.cache_table import CacheTable
from infra.constructs.database import Database
from infra.constructs.function import TtaiFunction
from infra.constructs.http_api import HttpApi
from infra.constructs.idempotency import IdempotencyTable
from infra.constructs.layer import PythonLayer
from infra.constructs.migrations import Migrations
from infra.constructs.notifications import Notifications
from infra.constructs.queues import Queues
from infra.constructs.schedules import Schedules
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage
from infra.storage_layout import StorageLayout

SESSION_SECRET = "JWT_SECRET"  # noqa: S105 - the name of the secret, not its value
CURSOR_SECRET = "CURSOR_SECRET"  # noqa: S105 - the name of the secret, not its value
# The secrets signing in reads: the session key, the key that seals stored TastyTrade tokens, and the OAuth client.
SIGN_IN_SECRETS = (SESSION_SECRET, "TOKEN_ENCRYPTION_KEY", "TASTYTRADE_CLIENT_ID", "TASTYTRADE_CLIENT_SECRET")
# Who talks to TastyTrade's REST API and with whose session: the api function with the stack's own grant (market
# data on a cache miss), the auth function and the scheduler with each user's sealed tokens (positions).
OAUTH_CLIENT_SECRETS = ("TASTYTRADE_CLIENT_ID", "TASTYTRADE_CLIENT_SECRET")
MARKET_DATA_SECRETS = (*OAUTH_CLIENT_SECRETS, "TASTYTRADE_SERVICE_REFRESH_TOKEN")
BROKER_TOKEN_SECRETS = ("TOKEN_ENCRYPTION_KEY", *OAUTH_CLIENT_SECRETS)
REDIRECT_URI_ENV = "TTAI_OAUTH_REDIRECT_URI"
# Who sends to which queue (binding names, as env.TASK_QUEUE): nobody gets a queue it does not send to.
API_SENDS_TO = ("TASK_QUEUE",)
# The consumer fans out: analysis results and alerts to notifications, screener runs to screener_complete ...
CONSUMER_SENDS_TO = ("TASK_QUEUE", "NOTIFICATION_QUEUE", "ANALYSIS_QUEUE")
SCHEDULER_SENDS_TO = ("ANALYSIS_QUEUE", "NOTIFICATION_QUEUE")


def tastytrade_environment(config: EnvironmentConfig) -> dict[str, str]:
    """Where TastyTrade is for this environment: its OAuth endpoints (a token refresh needs them) and REST API."""
    return {
        "TTAI_OAUTH_AUTHORIZE_URL": config.oauth.authorize_url,
        "TTAI_OAUTH_TOKEN_URL": config.oauth.token_url,
        "TTAI_OAUTH_USERINFO_URL": config.oauth.userinfo_url,
        "TTAI_TASTYTRADE_API_URL": config.tastytrade.api_url,
    }


class TtaiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layer_dir: Path,
        auth_layer_dir: Path,
        scheduler_layer_dir: Path,
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
        layer = PythonLayer(
            self,
            "SharedLayer",
            config=config,
            layer_dir=layer_dir,
            description=f"ttai runtime for {config.name}: powertools, pydantic, pyjwt and the ttai package",
        )
        # cryptography alone is larger than the shared layer's budget allows, and only signing in needs it.
        # CDK lists a function's layers sorted by construct path: this id sorts after SharedLayer, whose files
        # therefore come first (the two layers share none).
        auth_layer = PythonLayer(
            self,
            "SignInLayer",
            config=config,
            layer_dir=auth_layer_dir,
            description=f"ttai sign-in dependencies for {config.name}: cryptography (AES-GCM, HKDF)",
        )
        # Same ordering rule as SignInLayer: this id sorts after SharedLayer, and the two share no file.
        trading_calendar_layer = PythonLayer(
            self,
            "TradingCalendarLayer",
            config=config,
            layer_dir=scheduler_layer_dir,
            description=f"ttai scheduler dependencies for {config.name}: holidays (the NYSE calendar)",
        )
        database = Database(self, "Database", config=config)
        storage = Storage(self, "Storage", config=config, layout=layout.bucket, access_logs=cache.access_logs)
        queues = Queues(self, "Queues", config=config, layout=layout.queues)
        idempotency = IdempotencyTable(self, "Idempotency", config=config, layout=layout.idempotency)
        notifications = Notifications(self, "Notifications", config=config)

        # The authorizer reads only small session records: the table, never the overflow bucket.
        authorizer = TtaiFunction(
            self,
            "Authorizer",
            name="authorizer",
            description="Verifies the bearer token and its session for every non-public route",
            config=config,
            settings=config.functions.authorizer,
            layers=[layer.layer],
            root=root,
            environment={**cache.environment(include_overflow=False), **secrets.environment(SESSION_SECRET)},
        )
        cache.grant_read(authorizer.function, include_overflow=False)
        secrets.grant_read(authorizer.function, SESSION_SECRET)

        # The api function signs no session (sessions are opened by auth, revoked by deleting their records): the
        # one secret it reads is the key of the paging cursors it issues, which can mint nothing but a page.
        api = TtaiFunction(
            self,
            "Api",
            name="api",
            description="The HTTP API: every route of the data layer but signing in",
            config=config,
            settings=config.functions.api,
            layers=[layer.layer],
            root=root,
            environment={
                **cache.environment(),
                **database.environment(),
                **storage.environment(),
                **queues.environment(*API_SENDS_TO),
                **secrets.environment(CURSOR_SECRET, *MARKET_DATA_SECRETS),
                **tastytrade_environment(config),
            },
        )
        secrets.grant_read(api.function, CURSOR_SECRET, *MARKET_DATA_SECRETS)
        cache.grant_read_write(api.function)
        database.grant_data_api(api.function)
        queues.grant_send(api.function, *API_SENDS_TO)
        # Exports (save, list, presigned download), knowledge documents, and erasing everything a user owns.
        storage.grant_read(api.function, "exports", "knowledge")
        storage.grant_write(api.function, "exports")
        storage.grant_delete(api.function, storage.user_objects)
        storage.grant_list(api.function, storage.user_prefix, layout.bucket.prefix("knowledge"))

        # Sign-in state and session records are small: the table, never the overflow bucket.
        auth = TtaiFunction(
            self,
            "Auth",
            name="auth",
            description="Signs users in with TastyTrade (OAuth code flow with PKCE) and opens their sessions",
            config=config,
            settings=config.functions.auth,
            layers=[layer.layer, auth_layer.layer],
            root=root,
            environment={
                **cache.environment(include_overflow=False),
                **database.environment(),
                **secrets.environment(*SIGN_IN_SECRETS),
                **tastytrade_environment(config),
            },
        )
        cache.grant_read_write(auth.function, include_overflow=False)
        database.grant_data_api(auth.function)
        secrets.grant_read(auth.function, *SIGN_IN_SECRETS)

        migrate = TtaiFunction(
            self,
            "Migrate",
            name="migrate",
            description="Applies the database migrations shipped in the layer; run by the stack on every deploy",
            config=config,
            settings=config.functions.migrate,
            layers=[layer.layer],
            root=root,
            environment=database.environment(),
        )
        database.grant_data_api(migrate.function)
        Migrations(self, "Migrations", config=config, migrate=migrate, database=database, layer=layer.layer)

        # Every queue's messages: fan-out, screener runs, notification delivery (email, push), once per message id.
        # Manual job runs (job_run tasks) go through ttai.jobs too, which needs the trading calendar's layer.
        consumer = TtaiFunction(
            self,
            "Consumer",
            name="consumer",
            description="Consumes the task, notification and analysis queues, one effect per message",
            config=config,
            settings=config.functions.consumer,
            layers=[layer.layer, trading_calendar_layer.layer],
            root=root,
            environment={
                **cache.environment(),
                **database.environment(),
                **queues.environment(*CONSUMER_SENDS_TO),
                **idempotency.environment(),
                **notifications.environment(),
            },
        )
        cache.grant_read_write(consumer.function)
        database.grant_data_api(consumer.function)
        queues.add_consumer(consumer)
        queues.grant_send(consumer.function, *CONSUMER_SENDS_TO)
        idempotency.grant_records(consumer.function)
        notifications.grant_deliver(consumer.function)

        scheduler_function, schedules = self._scheduled_jobs(
            config=config,
            layout=layout,
            # the pre-market job opens users' sealed tokens to sync their positions: it needs the cipher's layer
            layers=[layer.layer, auth_layer.layer, trading_calendar_layer.layer],
            root=root,
            cache=cache,
            database=database,
            storage=storage,
            queues=queues,
            secrets=secrets,
        )

        http_api = HttpApi(
            self, "Http", config=config, api_function=api, auth_function=auth, authorizer_function=authorizer
        )
        for function in (api, auth, scheduler_function):  # OAuthSettings names it; only auth redirects to it
            function.function.add_environment(REDIRECT_URI_ENV, http_api.callback_url)
        if config.alarms.enabled:
            Alarms(
                self,
                "Alarms",
                config=config,
                functions=(api, auth, authorizer, consumer, scheduler_function),
                http_api=http_api,
                queues={spec.name: queues.queues[binding] for binding, spec in layout.queues.items()},
                dead_letter_queues={
                    **{spec.name: queues.dead_letter_queues[binding] for binding, spec in layout.queues.items()},
                    "schedules": schedules.dead_letters,
                },
            )

        cdk.CfnOutput(self, "ApiUrl", value=http_api.url, description="Base URL of the HTTP API")
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

    def _scheduled_jobs(
        self,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layers: list[lambda_.ILayerVersion],
        root: Path,
        cache: CacheTable,
        database: Database,
        storage: Storage,
        queues: Queues,
        secrets: Secrets,
    ) -> tuple[TtaiFunction, Schedules]:
        """The market jobs and the nightly backup, which writes under backups/ and touches no other object."""
        scheduler = TtaiFunction(
            self,
            "Scheduler",
            name="scheduler",
            description="Runs the scheduled market jobs and the nightly backup, once per scheduled time",
            config=config,
            settings=config.functions.scheduler,
            layers=layers,
            root=root,
            environment={
                **cache.environment(),
                **database.environment(),
                **storage.environment(),
                **queues.environment(*SCHEDULER_SENDS_TO),
                **secrets.environment(*BROKER_TOKEN_SECRETS),
                **tastytrade_environment(config),
            },
        )
        secrets.grant_read(scheduler.function, *BROKER_TOKEN_SECRETS)
        cache.grant_read_write(scheduler.function)
        database.grant_data_api(scheduler.function)
        queues.grant_send(scheduler.function, *SCHEDULER_SENDS_TO)
        # The binding reads back each object it writes (R2's put returns it): the backups it wrote, nothing else.
        storage.grant_write(scheduler.function, "backups")
        storage.grant_read(scheduler.function, "backups")
        schedules = Schedules(self, "Schedules", config=config, layout=layout.schedules, target=scheduler)
        return scheduler, schedules


class TtaiStage(cdk.Stage):
    """One deployable environment: `cdk deploy 'dev/*'` deploys dev alone."""

    STACK_ID = "Ttai"

    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        layout: StorageLayout,
        layer_dir: Path,
        auth_layer_dir: Path,
        scheduler_layer_dir: Path,
        root: Path,
    ) -> None:
        # Environment-agnostic unless cdk.json pins an account: synth then never needs to ask AWS which one.
        env = cdk.Environment(account=config.account, region=config.region) if config.account else None
        super().__init__(scope, config.name, env=env)
        self.stack = TtaiStack(
            self,
            self.STACK_ID,
            config=config,
            layout=layout,
            layer_dir=layer_dir,
            auth_layer_dir=auth_layer_dir,
            scheduler_layer_dir=scheduler_layer_dir,
            root=root,
        )
        cdk.Tags.of(self).add("project", "ttai")
        cdk.Tags.of(self).add("environment", config.name)
