"""The realtime parts built from a function's ``env`` (its bindings' variables), as each function uses them.

- ``durable_host``: the durable host function's host (``ttai.realtime``'s classes; its objects call each other
  in-process; alarms armed on its SQS queue or as Scheduler schedules; sockets through the connections table);
- ``realtime``: the realtime function's context (the hub, the host reached by synchronous invokes);
- ``ticket_office``: the api's (issue) and the $connect authorizer's (redeem);
- ``quote_hand_off``: the api's hand-off of ingested quotes to the realtime function;
- ``user_events``: the consumer's frames on ``user:{id}`` and ``jobs``.
Each takes what its function was given: a binding it lacks is the ConfigurationError it would meet deployed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ttai.errors import ConfigurationError

if TYPE_CHECKING:
    from ttai.bindings.durable.connections import ConnectionHub, Deliver
    from ttai.bindings.durable.host import DurableObjectHost
    from ttai.env import Env
    from ttai.realtime.publish import QuoteHandOff, UserEvents
    from ttai.realtime.runtime import Realtime
    from ttai.realtime.tickets import TicketOffice


def _setting(value: str | None, variable: str) -> str:
    if not value:
        raise ConfigurationError(f"real time is not available here: {variable} is not set")
    return value


class _NoPosts:
    """The @connections API of a function that only asks who listens (``publish`` access): it posts nothing."""

    def post(self, connection_id: str, data: bytes) -> bool:
        raise ConfigurationError("this function may not post to connections (websocket access publish)")

    def delete(self, connection_id: str) -> bool:
        raise ConfigurationError("this function may not delete connections (websocket access publish)")


def connection_hub(env: Env, *, deliver: Deliver | None = None, posts: bool = True) -> ConnectionHub:
    """The connections table, with the stage's @connections API when ``posts`` (websocket access connections)."""
    from ttai.bindings.durable.connections import ConnectionHub  # noqa: PLC0415
    from ttai.bindings.durable.connections_api import ConnectionsApi  # noqa: PLC0415

    table = _setting(env.settings.connections_table, "TTAI_CONNECTIONS_TABLE")
    management: Any = _NoPosts()
    if posts:
        callback = _setting(env.settings.websocket_callback_url, "TTAI_WEBSOCKET_CALLBACK_URL")
        management = ConnectionsApi(callback, region=_setting(env.settings.region, "AWS_REGION"))
    return ConnectionHub(table, dynamodb=env.client("dynamodb"), management=management, deliver=deliver)


def durable_host(env: Env) -> DurableObjectHost:
    """The durable host function's host."""
    from ttai.bindings.durable.alarms import AwsAlarmTrigger  # noqa: PLC0415
    from ttai.bindings.durable.host import DurableObjectHost  # noqa: PLC0415
    from ttai.realtime.runtime import CLASSES, RealtimeEnv  # noqa: PLC0415

    s = env.settings
    alarms_url = _setting(s.durable_alarms_url, "TTAI_DURABLE_ALARMS_URL")
    sqs = env.client("sqs")
    trigger = AwsAlarmTrigger(
        queue_url=alarms_url,
        queue_arn=_setting(s.durable_alarms_arn, "TTAI_DURABLE_ALARMS_ARN"),
        schedule_group=_setting(s.durable_schedule_group, "TTAI_DURABLE_SCHEDULE_GROUP"),
        schedule_role_arn=_setting(s.durable_schedule_role_arn, "TTAI_DURABLE_SCHEDULE_ROLE_ARN"),
        sqs=sqs,
        scheduler=env.client("scheduler"),
    )

    def queue_for_itself(event: dict[str, Any]) -> None:
        # A 410 met while this host sends: the home's web_socket_close goes on the host's own queue, which it
        # consumes (its lease may be the one the sending call holds; SQS retries it when the object is busy).
        sqs.send_message(QueueUrl=alarms_url, MessageBody=json.dumps(event, separators=(",", ":")))

    hub = connection_hub(env, deliver=queue_for_itself)
    host = DurableObjectHost(
        CLASSES,
        table=_setting(s.durable_table, "TTAI_DURABLE_TABLE"),
        dynamodb=env.client("dynamodb"),
        trigger=trigger,
        websockets=hub.sockets_of,
    )
    # Objects reach each other in this invocation, under the leases they hold, not through another invoke.
    host.env = RealtimeEnv(env, {name: host.namespace(name) for name in CLASSES})
    return host


def realtime(env: Env) -> Realtime:
    """The realtime function's context: WebSocket events go to the durable host that runs SUBSCRIPTIONS."""
    from ttai.bindings.durable.namespace import LambdaEvents, LambdaTransport  # noqa: PLC0415
    from ttai.realtime.runtime import Realtime  # noqa: PLC0415

    host = _setting(env.settings.durable_hosts.get("SUBSCRIPTIONS"), "TTAI_SUBSCRIPTIONS_HOST")
    hub = connection_hub(env, deliver=LambdaEvents(host, client=env.client("lambda")))
    return Realtime(env, hub=hub, host=LambdaTransport(host, client=env.client("lambda")))


def ticket_office(env: Env) -> TicketOffice:
    """Connect tickets in the connections table, and where the function issues them (websocket access tickets,
    the api) the URL a ticket opens; the $connect authorizer (access redeem) has none and only redeems."""
    from ttai.realtime.tickets import TicketOffice  # noqa: PLC0415

    return TicketOffice(
        _setting(env.settings.connections_table, "TTAI_CONNECTIONS_TABLE"),
        dynamodb=env.client("dynamodb"),
        websocket_url=env.settings.websocket_url,
    )


def quote_hand_off(env: Env) -> QuoteHandOff:
    from ttai.bindings.durable.namespace import LambdaEvents  # noqa: PLC0415
    from ttai.realtime.publish import QuoteHandOff  # noqa: PLC0415

    return QuoteHandOff(LambdaEvents(env.function_name("REALTIME"), client=env.client("lambda")))


def user_events(env: Env) -> UserEvents:
    from ttai.realtime.publish import Publisher, UserEvents  # noqa: PLC0415

    return UserEvents(Publisher(env.PUBSUB, connection_hub(env, posts=False)))
