"""The whole backend on one machine: moto server provisioned from storage.json, the functions invoked in-process.

``with LocalStack() as stack`` starts moto on a free loopback port, creates every resource the CDK stack
creates (from the same layout file), seeds secrets, and exposes the variables a deployed function would see.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local.gateway import LocalGateway, Response
from ttai.auth.sessions import SessionStore
from ttai.env import SECRET_PREFIX, Env
from ttai.layout import StorageLayout, storage_layout

REGION = "us-east-1"
# moto accepts any credentials; fixed fake ones keep boto3 from searching the machine for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalStack:
    """moto server + every resource provisioned; ``environ`` is what a deployed function would see."""

    def __init__(
        self,
        *,
        name: str | None = None,
        port: int | None = None,
        authorizer_cache_ttl: int = 60,
        secret_values: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name or f"ttai-local-{uuid.uuid4().hex[:8]}"
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.layout: StorageLayout = storage_layout()
        self._secret_values = dict(secret_values or {})
        self._authorizer_cache_ttl = authorizer_cache_ttl
        self._server: ThreadedMotoServer | None = None
        self._saved_environ: dict[str, str | None] = {}
        self.environ: dict[str, str] = {}
        self.gateway: LocalGateway | None = None

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        base = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }
        powertools = {
            "POWERTOOLS_SERVICE_NAME": "ttai-local",
            "POWERTOOLS_METRICS_NAMESPACE": "TTAI",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
        self.environ = {**base, **powertools, "TTAI_ENVIRONMENT": "local", **self._provision(base)}
        # Handlers read os.environ exactly as on Lambda, so the stack's variables become the process's.
        for key, value in self.environ.items():
            self._saved_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        self.gateway = LocalGateway(authorizer_cache_ttl=self._authorizer_cache_ttl)

    def stop(self) -> None:
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None

    # --------------------------------------------------------------- resources

    def client(self, service: str) -> Any:
        """A boto3 client on this stack's moto server (for tests that look behind the bindings)."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
        )

    def _provision(self, base: Mapping[str, str]) -> dict[str, str]:
        kv = self.layout.kv
        table = f"{self.name}-kv"
        bucket = f"{self.name}-kv-overflow"
        self.client("dynamodb").create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": kv.key_attr, "AttributeType": "S"},
                {"AttributeName": kv.shard_attr, "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": kv.key_attr, "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
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
        self.client("dynamodb").update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": kv.ttl_attr}
        )
        self.client("s3").create_bucket(Bucket=bucket)
        environ = {"TTAI_KV_TABLE": table, "TTAI_KV_OVERFLOW_BUCKET": bucket}
        sm = self.client("secretsmanager")
        for spec in self.layout.secrets:
            value = self._secret_values.get(spec.name) or secrets.token_urlsafe(spec.length)[: spec.length]
            arn = sm.create_secret(Name=f"{self.name}/{spec.name}", SecretString=value)["ARN"]
            environ[f"{SECRET_PREFIX}{spec.name}"] = arn
        return environ

    # ----------------------------------------------------------------- helpers

    @property
    def env(self) -> Env:
        return Env.from_environ(self.environ)

    def token_for(self, user_id: str, scopes: Iterable[str] = (), ttl_seconds: int | None = None) -> str:
        """A signed session token for ``user_id`` whose session is recorded, as sign-in would leave it."""
        store = SessionStore(self.env)
        return store.open(user_id, scopes=tuple(scopes), ttl_seconds=ttl_seconds).token

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
        """One request through the authorizer and the api function, as API Gateway v2 events."""
        assert self.gateway is not None, "the stack is not started"
        return self.gateway.request(method, path, token=token, query=query, json=json, headers=headers, body=body)
