"""Entry point of the realtime function: the WebSocket API's $connect, $default and $disconnect events, and the
quote batches the api hands over (ttai.realtime.routes)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.env import Env
from ttai.observability import logger
from ttai.realtime import routes
from ttai.realtime.deployed import realtime

if TYPE_CHECKING:
    from ttai.realtime.runtime import Realtime


@cache
def _realtime(env: Env) -> Realtime:
    return realtime(env)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return routes.handle(event, _realtime(Env.from_environ()))
