"""Entry point of the durable host function: object calls (synchronous invokes), alarms (SQS records from its alarm
queue), WebSocket events (asynchronous invokes, or records of that queue), each run under its object's lease."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.env import Env
from ttai.observability import logger
from ttai.realtime.deployed import durable_host

if TYPE_CHECKING:
    from ttai.bindings.durable.host import DurableObjectHost


@cache
def _host(env: Env) -> DurableObjectHost:
    return durable_host(env)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _host(Env.from_environ()).handle(event)
