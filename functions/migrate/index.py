"""Entry point of the migrate function: run by the stack on deploy, applies pending migrations via the Data API."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.env import Env
from ttai.migrations import apply
from ttai.observability import logger, metrics

# A deploy may find the cluster paused: wait up to about two minutes for it (the function may run for five).
RESUME_DELAYS = (1.0, 2.0, 4.0, 8.0, *(15.0,) * 7)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = apply(Env.from_environ().DB.patient(RESUME_DELAYS))
    logger.info("migrations applied", extra={"applied": report.applied, "current": report.current})
    return {"applied": report.applied, "already_applied": report.already_applied, "current": report.current}
