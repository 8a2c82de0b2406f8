"""Entry point of the api function: API Gateway HTTP API (payload 2.0) events into the Powertools resolver."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.http.app import create_app
from ttai.observability import logger, metrics

# Built here, not in ttai.http.app: the auth function imports that module for create_resolver and has no use for
# the api's resolver.
app = create_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
