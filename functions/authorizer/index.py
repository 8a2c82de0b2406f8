"""Entry point of the authorizer function: a REQUEST authorizer event in, a simple response out."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.auth.authorizer import authorize
from ttai.env import Env
from ttai.observability import logger


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(Env.from_environ(), event)
