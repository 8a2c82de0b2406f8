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
from ttai.realtime.deployed import user_events


@cache
def _consumer(env: Env) -> Consumer:
    # Handled messages are told on their user's real-time channel where the function may publish.
    events = user_events(env) if env.settings.connections_table else None
    return Consumer(env, events=events)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = Env.from_environ()
    consumer = _consumer(env)
    consumer.register_lambda_context(context)
    result: dict[str, Any] = consume(event, consumer.process, sqs=env.client("sqs"))
    return result
