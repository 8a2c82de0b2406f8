"""The consumer's batch loop: each message parsed, routed by its type, run once per id, then acked or retried.

Per message, never per batch, so one bad message cannot hold the others back:
- malformed or of an unknown type: the reason is logged (where and what kind of error, never the values: bodies
  carry personal data) and the message retried, so after max_retries + 1 receives SQS moves it to the DLQ;
- its handler raised: retried after a backoff that grows with the attempts (a Discord 429's Retry-After wins; a
  dependency that is ``Unavailable`` is not asked again before its ``retry_after``), the error logged as
  ``describe_error`` puts it (kind and frames; messages only of the package's own errors);
- the same id already handled (a duplicate delivery or a producer's second send): acked, nothing runs again.

Every log line of a message's handling, and every message its handler sends, carries the correlation id the
message came with (the request that started the work), or the SQS message id when its sender had none.

Idempotency is Powertools' (DynamoDB persistence, keyed by the message's ``id`` field rather than the SQS message
id, records kept 24 hours as storage.json says). A handler that fails leaves no record, so its retry runs again:
that is why every handler's SQL effects are idempotent on their own (keyed by the message id) and every message
it sends has an id derived from its own.

Given ``events`` (ttai.realtime.publish.UserEvents), a handled message also puts its frame on the user's real-time
channel, inside the idempotent run so a duplicate delivery does not push it twice; best effort, never a retry.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import ValidationError

from ttai.env import Env
from ttai.errors import ConfigurationError, Unavailable, describe_error
from ttai.layout import storage_layout
from ttai.messages import AnyMessage, parse_message
from ttai.notify import TransientDeliveryError
from ttai.observability import correlated, logger, metrics

# Fixed, so a renamed or redeployed function still finds the records its predecessor wrote.
IDEMPOTENCY_KEY_PREFIX = "ttai-consumer"
RETRY_DELAY_CAP_SECONDS = 900  # ChangeMessageVisibility's ceiling is 12 h, but a longer wait than this helps no one
Handler = Callable[[Env, Any], dict[str, Any]]


class MessageEvents(Protocol):
    """What is told in real time once a message is handled (ttai.realtime.publish.UserEvents)."""

    def message_handled(self, message: AnyMessage, result: Mapping[str, Any]) -> None: ...


class _LazyHandlers(Mapping[str, Handler]):
    """Message type -> its module's ``handle``, imported the first time a message of that type arrives: a cold
    start that delivers notifications does not load the screener or job code."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, Handler] = {}

    def __getitem__(self, message_type: str) -> Handler:
        if message_type not in self._loaded:
            module = importlib.import_module(self._modules[message_type])
            self._loaded[message_type] = module.handle
        return self._loaded[message_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, message_type: object) -> bool:
        return message_type in self._modules


HANDLERS: Mapping[str, Handler] = _LazyHandlers(
    {
        message_type: f"ttai.consumers.{message_type}"
        for message_type in (
            "analysis_complete",
            "alert_triggered",
            "screener_complete",
            "notification",
            "screener_run",
            "job_run",
            "knowledge_index",
        )
    }
)


class DeliveredMessage(Protocol):
    """What the dispatcher needs of ``ttai.bindings.queues.Message``."""

    @property
    def id(self) -> str: ...
    @property
    def body(self) -> Any: ...
    @property
    def attempts(self) -> int: ...
    @property
    def correlation_id(self) -> str | None: ...
    def ack(self) -> None: ...
    def retry(self, delay_seconds: int | None = None) -> None: ...


class DeliveredBatch(Protocol):
    """What the dispatcher needs of ``ttai.bindings.queues.MessageBatch``."""

    @property
    def queue(self) -> str: ...
    @property
    def messages(self) -> Iterable[DeliveredMessage]: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``base * 2 ** (attempts - 1)`` seconds, at most ``cap`` (5, 10, 20 ... by default)."""

    base_seconds: int = 5
    cap_seconds: int = RETRY_DELAY_CAP_SECONDS

    def delay(self, attempts: int) -> int:
        return int(min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0)))


BACKOFF = Backoff()


def validation_reason(exc: ValidationError) -> str:
    """Where and what kind each error is (``userId: missing``), never the offending value."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['type']}" for e in exc.errors(include_url=False)
    )[:1000]


class Consumer:
    """Dispatches a queue batch; one per Env (container), holding its idempotency store."""

    def __init__(
        self,
        env: Env,
        handlers: Mapping[str, Handler] | None = None,
        backoff: Backoff | None = None,
        *,
        events: MessageEvents | None = None,
    ) -> None:
        self.env = env
        self.handlers: Mapping[str, Handler] = HANDLERS if handlers is None else dict(handlers)
        self.backoff = backoff
        self.events = events
        table = env.settings.idempotency_table
        if not table:
            raise ConfigurationError("the consumer needs TTAI_IDEMPOTENCY_TABLE")
        spec = storage_layout().idempotency
        self.persistence = DynamoDBPersistenceLayer(
            table_name=table,
            key_attr=spec.key_attr,
            expiry_attr=spec.ttl_attr,
            boto3_client=env.client("dynamodb"),
        )
        self.config = IdempotencyConfig(
            event_key_jmespath="id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=spec.expires_after_seconds,
        )
        self._run_once = idempotent_function(
            self._run,
            data_keyword_argument="message",
            persistence_store=self.persistence,
            config=self.config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    def register_lambda_context(self, context: Any) -> None:
        """An in-progress record expires with the invocation, so a message whose consumer timed out can run again."""
        self.config.register_lambda_context(context)

    def _run(self, message: AnyMessage) -> dict[str, Any]:
        result = self.handlers[message.type](self.env, message)
        if self.events is not None:
            try:
                self.events.message_handled(message, result)
            except Exception as exc:  # noqa: BLE001 - the message took effect; a missed push is not worth a retry
                logger.warning(
                    "real-time event not published", extra={"type": message.type, "error": describe_error(exc)}
                )
        return result

    def _delay(self, attempts: int) -> int:
        return (self.backoff or BACKOFF).delay(attempts)

    def process(self, batch: DeliveredBatch) -> None:
        """Decide every message of the batch: ack or retry, each on its own."""
        for item in batch.messages:
            self.process_message(batch.queue, item)

    def process_message(self, queue: str, item: DeliveredMessage) -> None:
        with correlated(item.correlation_id or item.id):
            self._process_message(queue, item)

    def _process_message(self, queue: str, item: DeliveredMessage) -> None:
        log = {"queue": queue, "sqs_message_id": item.id, "attempts": item.attempts}
        try:
            message = parse_message(item.body)
        except ValidationError as exc:
            logger.error(
                "malformed queue message: retried until the DLQ", extra={**log, "reason": validation_reason(exc)}
            )
            metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
            item.retry()
            return
        except (TypeError, ValueError) as exc:  # a body that is not JSON text, a dict or bytes
            logger.error("unreadable queue message: retried until the DLQ", extra={**log, "reason": type(exc).__name__})
            metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
            item.retry()
            return
        log |= {"message_id": message.id, "type": message.type}
        if message.type not in self.handlers:
            logger.error("no consumer for this message type: retried until the DLQ", extra=log)
            metrics.add_metric(name="UnhandledMessages", unit=MetricUnit.Count, value=1)
            item.retry()
            return
        self._run_message(item, message, log)

    def _run_message(self, item: DeliveredMessage, message: AnyMessage, log: dict[str, Any]) -> None:
        """Run a parsed message's handler once for its id; ack, or retry after the wait its failure calls for."""
        try:
            result = self._run_once(message=message)
        except IdempotencyAlreadyInProgressError:
            logger.info("message in progress in another invocation: retried later", extra=log)
            item.retry(delay_seconds=self._delay(item.attempts))
            return
        except TransientDeliveryError as exc:
            wait = self._delay(item.attempts)
            if exc.retry_after is not None:
                wait = min(RETRY_DELAY_CAP_SECONDS, max(1, math.ceil(exc.retry_after)))
            logger.warning("delivery failed: retried", extra={**log, "reason": str(exc), "delay_seconds": wait})
            metrics.add_metric(name="DeliveryRetries", unit=MetricUnit.Count, value=1)
            item.retry(delay_seconds=wait)
            return
        except Unavailable as exc:
            # A dependency throttled or away: not before it said, and no sooner than the backoff either.
            wait = min(RETRY_DELAY_CAP_SECONDS, max(self._delay(item.attempts), exc.retry_after))
            logger.warning(
                "dependency unavailable: retried",
                extra={**log, "dependency": exc.dependency, "error": describe_error(exc), "delay_seconds": wait},
            )
            metrics.add_metric(name="UnavailableRetries", unit=MetricUnit.Count, value=1)
            item.retry(delay_seconds=wait)
            return
        except Exception as exc:  # noqa: BLE001 - any other failure retries this message alone; the batch goes on
            wait = self._delay(item.attempts)
            # Described, not logged with its traceback: a foreign exception's message can quote a credential.
            logger.error("message failed: retried", extra={**log, "error": describe_error(exc), "delay_seconds": wait})
            metrics.add_metric(name="FailedMessages", unit=MetricUnit.Count, value=1)
            item.retry(delay_seconds=wait)
            return
        logger.debug("message processed", extra={**log, "result": result})
        metrics.add_metric(name="ProcessedMessages", unit=MetricUnit.Count, value=1)
        item.ack()
