"""Entry point of the consumer function: SQS events from TASK_QUEUE, NOTIFICATION_QUEUE and ANALYSIS_QUEUE.

The event source reports batch item failures, so each message is acked or retried on its own (``consume``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ttai.bindings.queues import consume
from ttai.consumers.dispatch import Consumer
from ttai.env import Env
from ttai.observability import logger, metrics


@cache
def _consumer(env: Env) -> Consumer:
    return Consumer(env)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = Env.from_environ()
    consumer = _consumer(env)
    consumer.register_lambda_context(context)
    result: dict[str, Any] = consume(event, consumer.process, sqs=env.client("sqs"))
    return result
