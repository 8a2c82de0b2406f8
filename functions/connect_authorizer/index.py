"""Entry point of the WebSocket API's $connect authorizer: a REQUEST authorizer event with ``?ticket=`` in, an IAM
policy for the ticket's user out (or Unauthorized: API Gateway answers 401 and never upgrades)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.env import Env
from ttai.observability import logger
from ttai.realtime.deployed import ticket_office
from ttai.realtime.tickets import authorize_connect

if TYPE_CHECKING:
    from ttai.realtime.tickets import TicketOffice


@cache
def _office(env: Env) -> TicketOffice:
    return ticket_office(env)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize_connect(event, _office(Env.from_environ()))
