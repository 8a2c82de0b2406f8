"""Entry point of the migrate function: run by the stack on deploy, applies pending migrations via the Data API."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.env import Env
from ttai.migrations import apply
from ttai.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = apply(Env.from_environ().DB)
    logger.info("migrations applied", extra={"applied": report.applied, "current": report.current})
    return {"applied": report.applied, "already_applied": report.already_applied, "current": report.current}
