"""The whole backend on one machine, no AWS account: what the deployed stack has, started by code.

``with LocalStack() as stack`` starts moto server (DynamoDB, S3, SQS, SES, SNS, Secrets Manager) on a free
loopback port, an embedded PostgreSQL behind a local RDS Data API endpoint, and a stand-in TastyTrade OAuth
server; it provisions every resource from the same layout file the CDK constructs read, seeds the secrets and
applies the migrations. The functions run in-process, as Lambda would run them, each built from its spec in
storage.json and invoked with only the variables that spec implies (``function_environ``): the AWS endpoints,
region and credentials and Powertools' settings are the process's, as the Lambda runtime gives every function
those, while no TTAI_* variable is. ``environ`` and ``env`` are every function's variables together, for tests
that look behind the functions.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import boto3

from local.account import ACCOUNT_ID, REGION
from local.bedrock import LocalBedrock
from local.cors import CorsPolicy
from local.data_api import LocalDataApi
from local.discord_sink import DiscordSink
from local.durable import LocalAlarmRunner
from local.fake_oauth import FakeTastyTrade
from local.functions import LocalFunction
from local.gateway import LocalGateway, Response
from local.lambda_api import LocalLambdaApi
from local.moto_atomic import make_dynamodb_requests_atomic
from local.moto_server import KeepAliveMotoServer
from local.poller import LocalPoller, PolledQueue, polled_queues
from local.postgres import EmbeddedPostgres
from local.scheduler import LocalScheduler
from local.service import Service
from local.tables import create_connections_table, create_durable_table, create_table
from local.variables import (
    CONCURRENT_FUNCTIONS,
    function_environ,
    runtime_environ,
)
from local.websocket import IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_AGE_SECONDS, WebSocketGateway
from local.workflows import LocalWorkflows, VirtualClock, WallClock
from local.workflows.hosting import host_workflows, workflow_environ
from ttai.auth.sessions import SessionStore
from ttai.bindings.d1 import D1Database
from ttai.bindings.durable import DurableObject, DurableObjectNamespace
from ttai.bindings.durable.host import DurableObjectHost
from ttai.bindings.durable.items import DurableTable
from ttai.env import SECRET_PREFIX, Env
from ttai.layout import FunctionSpec, StorageLayout, function_specs, storage_layout
from ttai.migrations import MigrationReport
from ttai.observability import METRICS_NAMESPACE
from ttai.realtime.runtime import CLASSES, RealtimeEnv
from ttai.realtime.tickets import IDENTITY_SOURCE
from ttai.secret_names import TASTYTRADE_CLIENT_ID, TASTYTRADE_CLIENT_SECRET, TASTYTRADE_SERVICE_REFRESH_TOKEN

DATABASE = "ttai"
# moto accepts any credentials; fixed fake ones keep boto3 from searching the machine for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
MARKET_DATA_CUSTOMER = "5WT09999"
# Per-user buckets of the local stack: a developer clicking and the tests and benchmarks driving one user hard go
# far past a person's pace, so locally they are wide; tests of the limits pass an environment's own from cdk.json
# (tests/integration/test_request_limits.py: dev's).
LOCAL_LIMITS: Mapping[str, Mapping[str, float]] = {
    "user": {"rate_per_second": 1000, "burst": 10_000},
    "service": {"rate_per_second": 1000, "burst": 10_000},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalStack(Service):
    """Everything provisioned and running; ``environ`` is what a deployed function would see."""

    def __init__(
        self,
        *,
        name: str | None = None,
        port: int | None = None,
        secret_values: Mapping[str, str] | None = None,
        public_url: str = "http://127.0.0.1:8787",
        data_dir: Path | None = None,
        queue_visibility_timeout: int = 30,
        workflows_dir: Path | None = None,
        workflow_clock: VirtualClock | WallClock | None = None,
        websocket_idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        websocket_max_connection_age: float = MAX_CONNECTION_AGE_SECONDS,
        limits: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        """``data_dir`` keeps PostgreSQL's data between runs (``make dev``); tests use a temporary cluster.
        ``workflows_dir`` keeps the workflows' executions and registry likewise (a temporary one otherwise), and
        ``workflow_clock`` is the time they run on (wall time unless told: tests skip retries' waits with a
        VirtualClock). The WebSocket API closes idle connections and old ones as API Gateway does (10 min, 2 h),
        unless told."""
        self.name = name or f"ttai-local-{uuid.uuid4().hex[:8]}"
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url.rstrip("/")
        self.layout: StorageLayout = storage_layout()
        self.cluster_arn = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster:{self.name}"
        self._secret_values = dict(secret_values or {})
        # Per-user buckets as cdk.json's `limits` writes them (user, service: rate_per_second, burst).
        self._limits = {scope: dict(bucket) for scope, bucket in (limits or LOCAL_LIMITS).items()}
        self._data_dir = data_dir
        self._queue_visibility_timeout = queue_visibility_timeout
        self._workflows_dir = workflows_dir
        self._workflow_clock = workflow_clock or WallClock()
        self._workflows_tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workflows: LocalWorkflows | None = None  # the runner playing each workflow's durable function
        self.queue_urls: dict[str, str] = {}  # by binding name: TASK_QUEUE...
        self.dlq_urls: dict[str, str] = {}
        self.email_sender = "ttai@example.com"
        self._server: KeepAliveMotoServer | None = None
        self._saved_environ: dict[str, str | None] = {}
        self._databases: dict[str, str] = {}
        self.environ: dict[str, str] = {}
        self.specs: dict[str, FunctionSpec] = function_specs()
        self.functions: dict[str, LocalFunction] = {}  # by spec name: api, consumer...
        self.gateway: LocalGateway | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.data_api: LocalDataApi | None = None
        self.oauth: FakeTastyTrade | None = None
        self.discord: DiscordSink | None = None  # where notifications to Discord land locally
        self.bedrock: LocalBedrock | None = None  # the embedding model's stand-in (lexical vectors, not Titan's)
        self.migrations: MigrationReport | None = None
        self._poller: LocalPoller | None = None
        self._scheduler: LocalScheduler | None = None
        self._websocket_idle_timeout = websocket_idle_timeout
        self._websocket_max_connection_age = websocket_max_connection_age
        self.websockets: WebSocketGateway | None = None  # the WebSocket API (its routes: the realtime function)
        self.lambda_api: LocalLambdaApi | None = None  # Lambda's Invoke API: functions invoking functions
        self._alarm_poller: LocalPoller | None = None
        self._alarms: LocalAlarmRunner | None = None
        self.durable_alarms_url = ""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self._server = KeepAliveMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        make_dynamodb_requests_atomic()  # the objects' leases rely on DynamoDB's per-request atomicity
        self.lambda_api = LocalLambdaApi(self.functions)
        self.lambda_api.start()
        base = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_api.base_url,
        }
        powertools = {
            "POWERTOOLS_SERVICE_NAME": "ttai-local",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
        self.environ = {
            **base,
            **powertools,
            "TTAI_ENVIRONMENT": "local",
            **self._provision_cache(),
            **self._provision_bucket(),
            **self._provision_queues(),
            **self._provision_idempotency(),
            **self._provision_limits(),
            **self._provision_workflows(),
            **self._provision_notifications(),
            **self._provision_secrets(),
            **self._provision_database(),
            **self._provision_oauth(),
            **self._provision_vectorize(),
            **self._provision_ai(),
            **self._provision_durable(),
            **self._provision_websockets(),
            **self._function_names(),
        }
        # boto3 and Powertools read these from the process, as on Lambda; the TTAI_* ones each function gets alone.
        for key, value in self.runtime_environ.items():
            self._saved_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        # Filled in place: the Lambda API and the WebSocket gateway hold this mapping.
        self.functions.update({name: self.local_function(spec) for name, spec in self.specs.items()})
        applied = self.functions["migrate"]({})
        self.migrations = MigrationReport(applied=applied["applied"], already_applied=applied["already_applied"])
        self.gateway = LocalGateway(
            authorizer=self.functions["authorizer"],
            api=self.functions["api"],
            auth=self.functions["auth"],
            cors=CorsPolicy.of_environment("dev"),
        )
        sqs = self.client("sqs")
        self._poller = LocalPoller(
            sqs, polled_queues(sqs, self.layout, self.queue_urls), function=self.functions["consumer"]
        )
        self.discord = DiscordSink()
        self.discord.start()
        self._scheduler = LocalScheduler(
            self.layout.schedules, self.layout.schedule_timezone, function=self.functions["scheduler"]
        )
        # Each workflow runs with its own function's variables only, as every other function here.
        workflow_envs = {
            spec.workflow: Env.from_environ(self.functions[name].environ or {})
            for name, spec in self.specs.items()
            if spec.workflow
        }
        self.workflows = host_workflows(self._workflow_root(), self._workflow_clock, workflow_envs, self.environ)
        alarms_arn = sqs.get_queue_attributes(QueueUrl=self.durable_alarms_url, AttributeNames=["QueueArn"])
        self._alarm_poller = LocalPoller(
            sqs,
            [PolledQueue("DURABLE_ALARMS", self.durable_alarms_url, alarms_arn["Attributes"]["QueueArn"], 10, 0)],
            function=self.functions["durable"],
        )
        # Far alarms are Scheduler schedules, which moto never fires: the runner finds them due in the table and
        # invokes the durable function with them, as the schedule's message would.
        self._alarms = LocalAlarmRunner(self.durable_host(), deliver=self.functions["durable"])

    def stop(self) -> None:
        if self.workflows is not None:
            self.workflows.close()
            self.workflows = None
        if self._workflows_tmp is not None:
            self._workflows_tmp.cleanup()
            self._workflows_tmp = None
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._poller is not None:
            self._poller.stop()
        self._stop_realtime()
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()
        for service in (self.discord, self.bedrock, self.oauth, self.data_api, self.postgres):
            if service is not None:
                service.stop()
        self.discord = self.bedrock = None
        self.oauth = self.data_api = self.postgres = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _stop_realtime(self) -> None:
        if self._alarm_poller is not None:
            self._alarm_poller.stop()
        if self._alarms is not None:
            self._alarms.stop()
        if self.websockets is not None:
            self.websockets.stop()  # closes every connection: their $disconnect runs first
            self.websockets = None
        if self.lambda_api is not None:
            self.lambda_api.settle()
            self.lambda_api.stop()
            self.lambda_api = None

    def stop_aws(self) -> None:
        """Stop the moto server: every AWS endpoint of the stack refuses connections, as when AWS is unreachable.
        Its resources stay (moto keeps them in this process), so ``start_aws`` brings the same ones back."""
        assert self._server is not None, "the AWS endpoint is not running"
        self._server.stop()
        self._server = None

    def start_aws(self) -> None:
        """Serve the AWS endpoint again on the same port (after ``stop_aws``)."""
        assert self._server is None, "the AWS endpoint is already running"
        self._server = KeepAliveMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    # --------------------------------------------------------------- functions

    @property
    def runtime_environ(self) -> dict[str, str]:
        """What every function of this stack sees whatever its spec (the process's environment too)."""
        return runtime_environ(self.environ)

    def local_function(self, spec: FunctionSpec) -> LocalFunction:
        """The function ``spec`` declares, on this stack (tests build one from an altered spec to see it fail)."""
        concurrency = CONCURRENT_FUNCTIONS.get(spec.name, 1)
        return LocalFunction.from_spec(spec, function_environ(spec, self.environ), concurrency=concurrency)

    # --------------------------------------------------------------- resources

    def client(self, service: str) -> Any:
        """A boto3 client on this stack (for tests that look behind the bindings)."""
        endpoint = self.data_api.endpoint_url if service == "rds-data" and self.data_api else self.endpoint_url
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
        )

    def _provision_cache(self) -> dict[str, str]:
        kv = self.layout.kv
        table = f"{self.name}-kv"
        bucket = f"{self.name}-kv-overflow"
        create_table(
            self.client("dynamodb"),
            table,
            key=kv.key_attr,
            ttl=kv.ttl_attr,
            index_attributes={kv.shard_attr: "N"},
            indexes=[
                {
                    "IndexName": kv.list_index,
                    "KeySchema": [
                        {"AttributeName": kv.shard_attr, "KeyType": "HASH"},
                        {"AttributeName": kv.key_attr, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(kv.list_attrs)},
                }
            ],
        )
        self.client("s3").create_bucket(Bucket=bucket)
        return {"TTAI_KV_TABLE": table, "TTAI_KV_OVERFLOW_BUCKET": bucket}

    def _provision_bucket(self) -> dict[str, str]:
        bucket = f"{self.name}-storage"
        s3 = self.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return {"TTAI_R2_BUCKET": bucket}

    def _provision_queues(self) -> dict[str, str]:
        """Each queue with its DLQ and a redrive policy of max_retries + 1 receives, as the Queues construct."""
        sqs = self.client("sqs")
        environ = {}
        for queue in self.layout.queues:
            dlq_url = sqs.create_queue(
                QueueName=f"{self.name}-{queue.name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"}
            )["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            url = sqs.create_queue(
                QueueName=f"{self.name}-{queue.name}",
                Attributes={
                    "VisibilityTimeout": str(self._queue_visibility_timeout),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
                    ),
                },
            )["QueueUrl"]
            self.queue_urls[queue.binding] = url
            self.dlq_urls[queue.binding] = dlq_url
            environ[f"TTAI_{queue.binding}_URL"] = url
        return environ

    def _provision_idempotency(self) -> dict[str, str]:
        spec = self.layout.idempotency
        table = f"{self.name}-idempotency"
        create_table(self.client("dynamodb"), table, key=spec.key_attr, ttl=spec.ttl_attr)
        return {"TTAI_IDEMPOTENCY_TABLE": table}

    def _provision_limits(self) -> dict[str, str]:
        """The limits table, and the buckets and revocation span the limits binding gives a function (as
        infra.constructs.limits writes them: the authorizer caches nothing, so the span is 0)."""
        spec = self.layout.limits
        table = f"{self.name}-limits"
        create_table(self.client("dynamodb"), table, key=spec.key_attr, ttl=spec.ttl_attr)
        limits = {**self._limits, "revocation_seconds": 0}
        return {"TTAI_LIMITS_TABLE": table, "TTAI_LIMITS": json.dumps(limits, separators=(",", ":"))}

    def _provision_workflows(self) -> dict[str, str]:
        """The workflows table as the stack declares it, and a function ARN per workflow, which the local runner
        plays (it keeps its own registry on disk, so runs survive a restart of ``make dev``; the table is here so
        every function sees the variables it sees on AWS)."""
        spec = self.layout.workflows
        table = f"{self.name}-workflows"
        create_table(self.client("dynamodb"), table, key=spec.partition_attr, sort=spec.sort_attr, ttl=spec.ttl_attr)
        return {"TTAI_WORKFLOWS_TABLE": table, **workflow_environ(self.name, region=REGION, account=ACCOUNT_ID)}

    def _workflow_root(self) -> Path:
        if self._workflows_dir is not None:
            return self._workflows_dir
        self._workflows_tmp = tempfile.TemporaryDirectory(prefix="ttai-workflows-")
        return Path(self._workflows_tmp.name)

    def _provision_notifications(self) -> dict[str, str]:
        """The email sender verified in SES (moto keeps what it sends) and the SNS topic push goes through."""
        self.client("ses").verify_email_identity(EmailAddress=self.email_sender)
        topic = self.client("sns").create_topic(Name=f"{self.name}-push")["TopicArn"]
        return {"TTAI_EMAIL_SENDER": self.email_sender, "TTAI_PUSH_TOPIC_ARN": topic}

    def _provision_secrets(self) -> dict[str, str]:
        environ = {}
        secrets_manager = self.client("secretsmanager")
        for spec in self.layout.secrets:
            value = self._secret_values.get(spec.name) or secrets.token_urlsafe(spec.length)[: spec.length]
            self._secret_values[spec.name] = value
            arn = secrets_manager.create_secret(Name=f"{self.name}/{spec.name}", SecretString=value)["ARN"]
            environ[f"{SECRET_PREFIX}{spec.name}"] = arn
        return environ

    def _provision_database(self) -> dict[str, str]:
        self.postgres = EmbeddedPostgres(self._data_dir)
        self.postgres.start()
        self._databases[DATABASE] = self.postgres.create_database(DATABASE)
        # The Data API signs in with a secret; the local endpoint checks the ARN, as the service checks access.
        db_secret = self.client("secretsmanager").create_secret(
            Name=f"{self.name}/database",
            SecretString=json.dumps({"engine": "postgres", "username": "postgres", "dbname": DATABASE}),
        )["ARN"]
        self.data_api = LocalDataApi(
            self._databases.get, cluster_arn=self.cluster_arn, secret_arn=db_secret, default_database=DATABASE
        )
        self.data_api.start()
        return {
            "TTAI_DB_CLUSTER_ARN": self.cluster_arn,
            "TTAI_DB_SECRET_ARN": db_secret,
            "TTAI_DB_NAME": DATABASE,
            "AWS_ENDPOINT_URL_RDS_DATA": self.data_api.endpoint_url,
        }

    def _provision_oauth(self) -> dict[str, str]:
        """The stand-in TastyTrade, and the stack's market-data grant on it: the generated secret is the refresh
        token of a grant the stand-in's market-data customer created, as an operator would store a real one."""
        self.oauth = FakeTastyTrade(
            self._secret_values[TASTYTRADE_CLIENT_ID], self._secret_values[TASTYTRADE_CLIENT_SECRET]
        )
        self.oauth.start()
        self.oauth.add_customer(
            MARKET_DATA_CUSTOMER, email="market-data@example.com", name="TTAI market data", accounts=[]
        )
        self.oauth.grant(MARKET_DATA_CUSTOMER, token=self._secret_values[TASTYTRADE_SERVICE_REFRESH_TOKEN])
        return {
            "TTAI_TASTYTRADE_API_URL": self.oauth.api_url,
            "TTAI_OAUTH_AUTHORIZE_URL": self.oauth.authorize_url,
            "TTAI_OAUTH_TOKEN_URL": self.oauth.token_url,
            "TTAI_OAUTH_USERINFO_URL": self.oauth.userinfo_url,
            "TTAI_OAUTH_REDIRECT_URI": f"{self.public_url}/auth/callback",
        }

    def _provision_vectorize(self) -> dict[str, str]:
        """The index the functions' VECTORIZE bindings name (one: the variables are one set per stack). Its row
        is made on first use, as deployed (storage.json's vectorize section says why)."""
        named = {b.vector_index for spec in self.specs.values() for b in spec.bindings if b.type == "vectorize"}
        if len(named) > 1:
            raise ValueError(f"storage.json: the local stack binds one Vectorize index, not {sorted(map(str, named))}")
        if not named:
            return {}
        index = self.layout.vector_indexes[str(named.pop())]
        return {
            "TTAI_VECTORIZE_INDEX": index.name,
            "TTAI_VECTORIZE_DIMENSIONS": str(index.dimensions),
            "TTAI_VECTORIZE_METRIC": index.metric,
        }

    def _provision_ai(self) -> dict[str, str]:
        """The stand-in Bedrock runtime: the embedding model's id and dimensions as deployed, lexical vectors."""
        self.bedrock = LocalBedrock()
        self.bedrock.start()
        return {
            "TTAI_AI_EMBEDDING_MODEL": self.layout.ai.embedding_model,
            "TTAI_AI_EMBEDDING_DIMENSIONS": str(self.layout.ai.embedding_dimensions),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.bedrock.base_url,
        }

    def _provision_durable(self) -> dict[str, str]:
        """The objects table, the alarm queue (and its DLQ), the schedule group and the role far alarms send with."""
        table = f"{self.name}-durable"
        create_durable_table(self.client("dynamodb"), table, self.layout.durable)
        sqs = self.client("sqs")
        dlq_url = sqs.create_queue(QueueName=f"{self.name}-durable-alarms-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.durable_alarms_url = sqs.create_queue(
            QueueName=f"{self.name}-durable-alarms",
            Attributes={
                "VisibilityTimeout": str(self._queue_visibility_timeout),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}),
            },
        )["QueueUrl"]
        alarms_arn = sqs.get_queue_attributes(QueueUrl=self.durable_alarms_url, AttributeNames=["QueueArn"])
        group = f"{self.name}-durable-alarms"
        self.client("scheduler").create_schedule_group(Name=group)
        role = self.client("iam").create_role(
            RoleName=f"{self.name}-durable-schedules",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "scheduler.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        return {
            "TTAI_DURABLE_TABLE": table,
            "TTAI_DURABLE_ALARMS_URL": self.durable_alarms_url,
            "TTAI_DURABLE_ALARMS_ARN": alarms_arn["Attributes"]["QueueArn"],
            "TTAI_DURABLE_SCHEDULE_GROUP": group,
            "TTAI_DURABLE_SCHEDULE_ROLE_ARN": role,
        }

    def _provision_websockets(self) -> dict[str, str]:
        """The connections table (TTL on) and the WebSocket API: the ticket authorizer on $connect, every route to
        the realtime function, as infra's WebSocketApi."""
        sockets = self.layout.websockets
        table = f"{self.name}-connections"
        create_connections_table(self.client("dynamodb"), table, sockets)

        def realtime(event: dict[str, Any], context: Any) -> Any:
            return self.functions["realtime"](event)

        def authorizer(event: dict[str, Any], context: Any) -> Any:
            return self.functions["connect_authorizer"](event)

        self.websockets = WebSocketGateway(
            {"$connect": realtime, "$default": realtime, "$disconnect": realtime},
            authorizer=authorizer,
            identity_source=(IDENTITY_SOURCE,),
            idle_timeout=self._websocket_idle_timeout,
            max_connection_age=self._websocket_max_connection_age,
            max_workers=32,
        )
        self.websockets.start()
        return {
            "TTAI_CONNECTIONS_TABLE": table,
            "TTAI_WEBSOCKET_URL": self.websockets.url,
            "TTAI_WEBSOCKET_CALLBACK_URL": self.websockets.callback_url,
        }

    def _function_names(self) -> dict[str, str]:
        """What durable and lambda bindings name: the functions, by the names the Lambda API answers to."""
        names: dict[str, str] = {}
        for spec in self.specs.values():
            for binding in spec.bindings:
                if binding.type == "durable":
                    [host] = [s.name for s in self.specs.values() if any(b.type == "durable_host" for b in s.bindings)]
                    names[f"TTAI_{binding.name}_HOST"] = f"ttai-{host}"
                elif binding.type == "lambda":
                    names[f"TTAI_{binding.name}_FUNCTION"] = f"ttai-{binding.function}"
        return names

    def create_database(self, name: str) -> D1Database:
        """Another, empty database on the same server and endpoint (for tests of migrations, backups...)."""
        assert self.postgres is not None, "the stack is not started"
        self._databases[name] = self.postgres.create_database(name)
        return D1Database(
            self.cluster_arn, self.environ["TTAI_DB_SECRET_ARN"], name, client=self.env.client("rds-data")
        )

    # ----------------------------------------------------------------- helpers

    @property
    def poller(self) -> LocalPoller:
        """Feeds the consumer function from the queues: ``drain()`` in tests, ``start()`` under ``make dev``."""
        assert self._poller is not None, "the stack is not started"
        return self._poller

    @property
    def scheduler(self) -> LocalScheduler:
        """Fires the schedules on their crons (``start()`` under ``make dev``; not started in tests)."""
        assert self._scheduler is not None, "the stack is not started"
        return self._scheduler

    @property
    def websocket_url(self) -> str:
        """Where clients connect, with a ticket from ``POST /api/v1/realtime/ticket`` (``?ticket=...``)."""
        assert self.websockets is not None, "the stack is not started"
        return self.websockets.url

    @property
    def alarms(self) -> LocalAlarmRunner:
        """Fires due Durable Object alarms from the table: ``run_due()`` in tests, ``start()`` under make dev."""
        assert self._alarms is not None, "the stack is not started"
        return self._alarms

    @property
    def alarm_poller(self) -> LocalPoller:
        """Delivers the alarm queue (near alarms) to the durable host function, as its event source."""
        assert self._alarm_poller is not None, "the stack is not started"
        return self._alarm_poller

    def durable_host(self, classes: Mapping[str, type[DurableObject]] | None = None) -> DurableObjectHost:
        """A host over this stack's objects table (the realtime classes, or ``classes``), its objects' ``env`` the
        durable function's own; it runs in this process (tests, and the local alarm runner)."""
        environ = self.functions["durable"].environ
        assert environ is not None
        host = DurableObjectHost(
            CLASSES if classes is None else classes,
            table=DurableTable(environ["TTAI_DURABLE_TABLE"], self.layout.durable),
            dynamodb=self.client("dynamodb"),
        )
        host.env = RealtimeEnv(Env.from_environ(environ), {name: host.namespace(name) for name in host.classes})
        return host

    def durable(self, cls: type[DurableObject], name: str | None = None) -> DurableObjectNamespace:
        """A namespace for any DurableObject subclass (tests), on this stack's objects table, run in-process."""
        namespace = name or cls.__name__.upper()
        return self.durable_host({namespace: cls}).namespace(namespace)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait for every asynchronous invocation made so far (quote hand-offs, close deliveries)."""
        assert self.lambda_api is not None, "the stack is not started"
        self.lambda_api.settle(timeout)

    @property
    def env(self) -> Env:
        """An Env of every function's variables together (tests that look behind the functions)."""
        return Env.from_environ(self.environ)

    def function_env(self, name: str) -> Env:
        """The Env the function ``name`` builds from its own variables, with its bindings (tests that alter them)."""
        environ = self.functions[name].environ
        assert environ is not None, f"{name} is not one of the stack's functions"
        return Env.from_environ(environ)

    def secret_value(self, name: str) -> str:
        return self._secret_values[name]

    def token_for(self, user_id: str, scopes: Iterable[str] = (), ttl_seconds: int | None = None) -> str:
        """A signed session token for ``user_id`` whose session is recorded, as sign-in would leave it."""
        return SessionStore(self.env).open(user_id, scopes=tuple(scopes), ttl_seconds=ttl_seconds).token

    def http(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: Mapping[str, str | Iterable[str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> Response:
        """One request through the authorizer and the functions, as API Gateway v2 events."""
        assert self.gateway is not None, "the stack is not started"
        return self.gateway.request(method, path, token=token, query=query, json=json, headers=headers, body=body)
