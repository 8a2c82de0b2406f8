"""Seed 000's queues: one SQS standard queue per storage.json `queues` binding, each with its dead-letter queue.

Encryption is SQS-managed (SSE-SQS) rather than a customer-managed KMS key. Both encrypt every message at rest;
cdk-nag accepts either. With a key of our own every producer and the consumer would also need kms:GenerateDataKey
and kms:Decrypt on it, and EventBridge Scheduler's role the same for its dead-letter queue: more grants and a key
policy to keep right, for no reader that the queue's own IAM grants do not already control. Nothing outside this
account reads these queues, which is the one case a key policy would add protection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import QUEUE_VISIBILITY_TO_TIMEOUT, EnvironmentConfig
from infra.constructs.function import TtaiFunction
from infra.nag import acknowledge
from infra.storage_layout import QueueBinding, QueueSpec

# SQS's maximum: a message that failed max_retries + 1 times stays inspectable (and redrivable) for two weeks.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)
# Cloudflare Queues keep an unconsumed message 4 days; so does an SQS queue by default. Said here, not assumed.
MESSAGE_RETENTION = cdk.Duration.days(4)


def encrypted_queue(
    scope: Construct,
    construct_id: str,
    *,
    queue_name: str,
    retention_period: cdk.Duration,
    visibility_timeout: cdk.Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """An SQS queue with SQS-managed encryption that refuses every request not made over TLS."""
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        retention_period=retention_period,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )


class Queues(Construct):
    """The queues, their DLQs (maxReceiveCount = max_retries + 1) and, once added, their consumer function."""

    URL_ENV = "TTAI_{binding}_URL"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        layout: Mapping[str, QueueSpec],
    ) -> None:
        super().__init__(scope, construct_id)
        self._layout = dict(layout)
        consumer_timeout = config.functions.consumer.timeout_seconds
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.visibility_timeouts: dict[str, int] = {}
        for binding, spec in self._layout.items():
            dead_letters = encrypted_queue(
                self,
                f"{spec.name.capitalize()}DeadLetters",
                queue_name=f"ttai-{config.name}-{spec.name}-dlq",
                retention_period=DEAD_LETTER_RETENTION,
            )
            acknowledge(
                dead_letters,
                "Serverless-SQSRedrivePolicy",
                f"This is the dead-letter queue of the {spec.name} queue: its messages already failed "
                f"{spec.max_receive_count} receives and wait here for an operator to inspect or redrive them.",
            )
            self.dead_letter_queues[binding] = dead_letters
            self.visibility_timeouts[binding] = self.visibility_timeout(consumer_timeout, spec)
            self.queues[binding] = encrypted_queue(
                self,
                spec.name.capitalize(),
                queue_name=f"ttai-{config.name}-{spec.name}",
                retention_period=MESSAGE_RETENTION,
                visibility_timeout=cdk.Duration.seconds(self.visibility_timeouts[binding]),
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dead_letters),
            )

    @staticmethod
    def visibility_timeout(consumer_timeout_seconds: int, spec: QueueSpec) -> int:
        """Six times the consumer's timeout (AWS's advice for Lambda event sources, so a throttled batch can be
        retried before the message reappears), plus the batching window a message may wait before its batch."""
        return QUEUE_VISIBILITY_TO_TIMEOUT * consumer_timeout_seconds + spec.batch_window_seconds

    def add_consumer(self, consumer: TtaiFunction, *bindings: str) -> None:
        """Deliver these queues to `consumer` in the layout's batches, reporting failures per message."""
        timeout = cast(cdk.Duration, consumer.function.timeout).to_seconds()
        for binding in bindings:
            queue, spec = self.queues[binding], self._layout[binding]
            # A message must stay hidden while a batch holding it may still run, or it is delivered twice at once.
            if self.visibility_timeouts[binding] < QUEUE_VISIBILITY_TO_TIMEOUT * timeout:
                msg = f"{binding}'s visibility timeout is under {QUEUE_VISIBILITY_TO_TIMEOUT}x its consumer's timeout"
                raise ValueError(msg)
            consumer.function.add_event_source(
                event_sources.SqsEventSource(
                    queue,
                    batch_size=spec.batch_size,
                    max_batching_window=cdk.Duration.seconds(spec.batch_window_seconds),
                    report_batch_item_failures=True,
                )
            )
        acknowledge(
            consumer.function,
            "Serverless-LambdaDLQ",
            "SQS invokes this function synchronously through event source mappings; a failed message returns to "
            "its queue and moves to that queue's dead-letter queue after max_retries + 1 receives.",
        )
        for mapping in consumer.function.node.children:
            if isinstance(mapping, cdk.Resource) and mapping.node.id.startswith("SqsEventSource"):
                acknowledge(
                    mapping,
                    "Serverless-LambdaEventSourceMappingDestination",
                    "Lambda supports on-failure destinations only for stream and Kafka sources; for SQS the "
                    "source queue's redrive policy moves a failing message to its dead-letter queue instead.",
                )

    def bind(self, grantee: iam.IGrantable, name: str, binding: QueueBinding) -> dict[str, str]:
        """A producer of the queue bound as `name`: sqs:SendMessage (and GetQueueAttributes/GetQueueUrl) on it
        alone, and TTAI_<NAME>_URL, which env.TASK_QUEUE and the others read."""
        queue = self.queues[name]
        queue.grant_send_messages(grantee)
        return {self.URL_ENV.format(binding=name): queue.queue_url}
