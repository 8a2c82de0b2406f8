"""Entry point of the backup workflow's durable function (ttai.workflows.backup): an invocation replays its run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.observability import logger
from ttai.workflows import lambda_handler

_replay = lambda_handler("BACKUP_WORKFLOW")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return _replay(event, context)
