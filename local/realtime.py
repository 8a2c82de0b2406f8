"""Real time on one machine: the local WebSocket gateway, the Durable Object host running the realtime classes, the
connections and Durable Objects tables on moto, and the asynchronous invokes Lambda would make, wired as deployed.

``LocalRealtime(stack)`` takes a started LocalStack (its moto server, database, KV and queues) and adds:
- the connections and Durable Objects tables, laid out as storage.json says (TTL on the connections table);
- a ConnectionHub posting through the gateway's @connections endpoint (signed requests, as deployed);
- a DurableObjectHost with ``ttai.realtime``'s classes, their ``env`` the stack's plus the namespaces (in-process);
- the WebSocket gateway: the ticket authorizer on ``$connect`` (``?ticket=``) and the realtime handler on
  ``$connect``, ``$default`` and ``$disconnect``;
- a worker pool standing in for asynchronous invokes (Lambda's ``Event`` invocations): the quote hand-off to the
  realtime function and the ``web_socket_close`` a 410 sends the durable host. ``settle()`` waits for them.
Alarms are not polled unless ``alarms.start()`` is called (tests run ``alarms.run_due()`` on their clock).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials

from local.account import REGION
from local.durable import LocalAlarmRunner
from local.moto_atomic import make_dynamodb_requests_atomic
from local.service import PendingWork, Service
from local.stack import LocalStack
from local.tables import create_connections_table, create_durable_table
from local.websocket import IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_AGE_SECONDS, WebSocketGateway
from ttai.bindings.durable import DurableObject
from ttai.bindings.durable.connections import ConnectionHub
from ttai.bindings.durable.connections_api import ConnectionsApi
from ttai.bindings.durable.host import DurableObjectHost
from ttai.bindings.durable.items import DurableTable
from ttai.bindings.durable.namespace import LocalTransport
from ttai.layout import WebSocketLayout
from ttai.observability import logger
from ttai.realtime import routes
from ttai.realtime.publish import QuoteHandOff, UserEvents
from ttai.realtime.runtime import CLASSES, Home, Realtime, RealtimeEnv, subscriptions_home
from ttai.realtime.tickets import IDENTITY_SOURCE, TicketOffice, authorize_connect


class LocalRealtime(Service):
    """The realtime functions, the durable host and the WebSocket API on top of a started LocalStack."""

    def __init__(
        self,
        stack: LocalStack,
        *,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connection_age: float = MAX_CONNECTION_AGE_SECONDS,
        senders: int = 32,
        lease_seconds: float = 30.0,
        wait_seconds: float = 10.0,
        classes: Mapping[str, type[DurableObject]] | None = None,
        home: Home = subscriptions_home,
    ) -> None:
        """``classes`` adds Durable Object classes to the host (tests), ``home`` picks the object that takes a
        user's new connections (their Subscriptions object, as deployed)."""
        self.stack = stack
        self.classes = {**CLASSES, **(classes or {})}
        self._home = home
        self.name = f"{stack.name}-rt-{uuid.uuid4().hex[:6]}"
        self._idle_timeout = idle_timeout
        self._max_connection_age = max_connection_age
        self._senders = senders
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._pool: ThreadPoolExecutor | None = None
        self._pending = PendingWork("asynchronous invokes")
        self._gateway: WebSocketGateway | None = None
        self.dynamodb: Any = None
        self.management: ConnectionsApi | None = None
        self._hub: ConnectionHub | None = None
        self._host: DurableObjectHost | None = None
        self._realtime: Realtime | None = None
        self._tickets: TicketOffice | None = None
        self._alarms: LocalAlarmRunner | None = None
        self.connections_table = f"{self.name}-connections"
        self.durable_table = f"{self.name}-durable"

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        make_dynamodb_requests_atomic()  # the object leases rely on DynamoDB's per-request atomicity
        layout = self.stack.layout
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.stack.endpoint_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
            config=Config(max_pool_connections=128, retries={"mode": "standard", "max_attempts": 4}),
        )
        create_connections_table(self.dynamodb, self.connections_table, layout.websockets)
        create_durable_table(self.dynamodb, self.durable_table, layout.durable)
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="async-invoke")
        self._gateway = WebSocketGateway(
            {
                "$connect": self._realtime_function,
                "$default": self._realtime_function,
                "$disconnect": self._realtime_function,
            },
            authorizer=self._authorizer_function,
            identity_source=(IDENTITY_SOURCE,),
            idle_timeout=self._idle_timeout,
            max_connection_age=self._max_connection_age,
            max_workers=32,
        )
        self._gateway.start()
        try:
            self._wire(layout.websockets)
        except BaseException:
            self.stop()
            raise

    def _wire(self, websockets: WebSocketLayout) -> None:
        self.management = ConnectionsApi(
            self.gateway.callback_url,
            region=REGION,
            # The gateway checks that a request is signed, not with what.
            credentials=Credentials("local", "local"),
            pool_size=self._senders,
        )
        self._hub = ConnectionHub(
            self.connections_table,
            dynamodb=self.dynamodb,
            management=self.management,
            layout=websockets,
            deliver=self._deliver_to_host,
            senders=self._senders,
        )
        host = DurableObjectHost(
            self.classes,
            table=DurableTable(self.durable_table, self.stack.layout.durable),
            dynamodb=self.dynamodb,
            websockets=self._hub.sockets_of,
            lease_seconds=self._lease_seconds,
            wait_seconds=self._wait_seconds,
        )
        host.env = RealtimeEnv(self.stack.env, {name: host.namespace(name) for name in self.classes})
        self._host = host
        self._realtime = Realtime(host.env, hub=self._hub, host=LocalTransport(host), home=self._home)
        # The authorizer is a function of its own: its client too (so its calls can be counted apart).
        self._tickets = TicketOffice(
            self.connections_table,
            dynamodb=self.stack.client("dynamodb"),
            websocket_url=self.gateway.url,
            layout=websockets,
        )
        self._alarms = LocalAlarmRunner(host)

    def stop(self) -> None:
        if self._alarms is not None:
            self._alarms.stop()
        if self._gateway is not None:
            self._gateway.stop()  # closes every connection: their $disconnect runs first
            self._gateway = None
        self.settle()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.dynamodb is not None:
            for table in (self.connections_table, self.durable_table):
                self.dynamodb.delete_table(TableName=table)
            self.dynamodb = None

    # ------------------------------------------------------------ the functions

    def _realtime_function(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return routes.handle(event, self.realtime)

    def _authorizer_function(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return authorize_connect(event, self.tickets)

    def _invoke_async(self, target: Any, event: dict[str, Any]) -> None:
        """An ``Event`` invocation: queued, run on a worker, its failure only logged (Lambda would retry twice)."""
        assert self._pool is not None, "not started"

        def run() -> None:
            try:
                target(event)
            except Exception:  # noqa: BLE001 - an asynchronous invoke's error goes to the function's log
                logger.exception("asynchronous invoke failed", extra={"kind": event.get("kind")})

        future = self._pool.submit(run)
        self._pending.track(future)

    def _deliver_to_host(self, event: dict[str, Any]) -> None:
        self._invoke_async(LocalTransport(self.host).invoke, event)

    def _dispatch_to_realtime(self, event: dict[str, Any]) -> None:
        self._invoke_async(lambda e: self._realtime_function(e, None), event)

    # ---------------------------------------------------------------- parts

    @property
    def gateway(self) -> WebSocketGateway:
        assert self._gateway is not None, "not started"
        return self._gateway

    @property
    def hub(self) -> ConnectionHub:
        assert self._hub is not None, "not started"
        return self._hub

    @property
    def host(self) -> DurableObjectHost:
        assert self._host is not None, "not started"
        return self._host

    @property
    def realtime(self) -> Realtime:
        assert self._realtime is not None, "not started"
        return self._realtime

    @property
    def tickets(self) -> TicketOffice:
        assert self._tickets is not None, "not started"
        return self._tickets

    @property
    def alarms(self) -> LocalAlarmRunner:
        """Fires the objects' due alarms: ``run_due()`` in tests, ``start()`` to poll."""
        assert self._alarms is not None, "not started"
        return self._alarms

    # ---------------------------------------------------------------- helpers

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every asynchronous invoke made so far (and any it made) has run."""
        self._pending.settle(timeout)

    def quote_hand_off(self) -> QuoteHandOff:
        """What the api function's market service is given: quote batches to the realtime function, async."""
        return QuoteHandOff(self._dispatch_to_realtime)

    def user_events(self) -> UserEvents:
        """What the consumer is given: frames on user:{id} and jobs for handled messages."""
        return UserEvents(self.realtime.publisher)

    def ticket_url(self, user_id: str) -> str:
        """A WebSocket URL with a fresh ticket, as ``POST /api/v1/realtime/ticket`` gives one."""
        return self.tickets.issue(user_id).url

    @property
    def environ(self) -> dict[str, str]:
        """The variables a ticket office over this realtime's own table reads (the stack's functions have theirs)."""
        return {"TTAI_CONNECTIONS_TABLE": self.connections_table, "TTAI_WEBSOCKET_URL": self.gateway.url}
