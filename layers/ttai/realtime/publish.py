"""Where events reach the channels: the publisher, and the points that call it.

- ``Publisher.publish`` / ``publish_many``: one BatchGetItem (per 100 channels) asks the connections table which
  channels' objects hold sockets; only those are called. Publishing to a channel nobody listens to costs that read
  and no object call; a failed publish is logged, never the publisher's caller's failure.
- Quote ingest (``QuoteHandOff``, in the api function): after the quotes are cached, ``PUT /api/v1/quotes`` hands the
  batch to the realtime function with one asynchronous invoke and answers at once. Why not publish there and then:
  the api cannot tell without reads (the connections table, and SQL for price alerts) whether anyone listens or has
  an alert, and a fan-out to a thousand subscribers or a crossing alert would then sit in the ingest's latency and
  its failures in its answer. One fire-and-forget invoke costs the same whether anyone listens or not, and fails
  nothing: an error handing off is logged and the quotes stay cached (the intraday job still evaluates alerts).
- The realtime function's side (``on_quotes``): ``quotes:{SYMBOL}`` frames for the symbols someone listens to, then
  the price alerts (price_alerts.py).
- Consumer and job events (``UserEvents``): the frame each handled message puts on ``user:{id}`` (an alert that fired
  now, an analysis or screener result, a requested job run) and each job run on ``jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ttai.bindings.durable import DurableObjectError, DurableObjectNamespace
from ttai.bindings.durable.connections import ConnectionHub
from ttai.bindings.durable.items import DurableTable
from ttai.messages import AnyMessage
from ttai.models.market import Quote
from ttai.observability import logger
from ttai.realtime.channels import JOBS, quotes_channel, user_channel

QUOTES_EVENT = "quotes"
_PARALLEL_PUBLISHES = 8
Dispatch = Callable[[dict[str, Any]], None]


class Publisher:
    """Publishes on channels through their PubSub objects, skipping the channels nobody subscribes to."""

    def __init__(self, pubsub: DurableObjectNamespace, hub: ConnectionHub) -> None:
        self.pubsub = pubsub
        self.hub = hub

    def partition(self, channel: str) -> str:
        """The channel's object partition (where its sockets are listed)."""
        return DurableTable.partition(self.pubsub.name, str(self.pubsub.id_from_name(channel)))

    def publish(self, channel: str, data: Any) -> int:
        """Publish ``data`` on ``channel``; returns how many subscribers it was sent to."""
        return self.publish_many({channel: data}).get(channel, 0)

    def publish_many(self, messages: Mapping[str, Any]) -> dict[str, int]:
        """Publish each channel's data (in parallel); returns subscribers reached by channel, for those called."""
        partitions = {channel: self.partition(channel) for channel in messages}
        listening = self.hub.listening(partitions.values())
        wanted = [channel for channel, partition in partitions.items() if partition in listening]

        def publish(channel: str) -> tuple[str, int]:
            try:
                return channel, int(self.pubsub.get_by_name(channel).publish(messages[channel]))
            except DurableObjectError as exc:
                logger.warning("publish failed", extra={"channel": channel, "error": exc.name})
                return channel, 0

        if len(wanted) <= 1:
            return dict(map(publish, wanted))
        with ThreadPoolExecutor(min(len(wanted), _PARALLEL_PUBLISHES)) as pool:
            return dict(pool.map(publish, wanted))


class QuoteHandOff:
    """The api side of quote ingest: the batch goes to the realtime function without waiting for it."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch

    def quotes_ingested(self, quotes: Sequence[Quote]) -> None:
        try:
            self.dispatch({"kind": QUOTES_EVENT, "quotes": [q.model_dump(mode="json") for q in quotes]})
        except Exception:  # noqa: BLE001 - the quotes are cached; real time is best effort and must not fail the PUT
            logger.exception("quotes not handed to the realtime function", extra={"quotes": len(quotes)})


def on_quotes(env: Any, publisher: Publisher, event: Mapping[str, Any]) -> dict[str, Any]:
    """The realtime function's side of a hand-off: frames on ``quotes:{SYMBOL}``, then price alerts."""
    from ttai.realtime.price_alerts import evaluate_quotes  # noqa: PLC0415 - SQL and queues only for this event

    quotes = [Quote.model_validate(q) for q in event.get("quotes") or []]
    reached = publisher.publish_many({quotes_channel(q.symbol): q.model_dump(mode="json") for q in quotes})
    fired = evaluate_quotes(env, quotes)
    return {"quotes": len(quotes), "published": reached, "alerts_sent": fired}


class UserEvents:
    """The frames handled messages and job runs put on ``user:{id}`` and ``jobs`` (best effort, after the fact)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def message_handled(self, message: AnyMessage, result: Mapping[str, Any]) -> None:
        data = frame_data(message, result)
        if data is None:
            return
        channels = {user_channel(message.user_id): data}
        if message.type == "job_run":
            channels[JOBS] = data
        self.publisher.publish_many(channels)

    def job_finished(self, summary: Mapping[str, Any]) -> None:
        """A scheduled run's ``JobRun.summary()`` on ``jobs`` (not a duplicate invocation's, which ran nothing)."""
        data = job_frame(summary)
        if data is not None:
            self.publisher.publish(JOBS, data)


def frame_data(message: AnyMessage, result: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a handled message tells its user in real time, or None (notifications, and alerts that did not fire)."""
    if message.type == "alert_triggered":
        if not result.get("triggered"):
            return None  # not active any more: fired by another message, or cancelled
        return {
            "type": "alert_triggered",
            "alert_id": message.alert_id,
            "symbol": message.symbol,
            "condition": message.condition,
            "current_value": message.current_value,
            "event_id": result.get("event_id"),
        }
    if message.type == "analysis_complete":
        return {
            "type": "analysis_complete",
            "symbol": message.symbol,
            "recommendation": message.recommendation,
            "workflow_id": message.workflow_id,
        }
    if message.type == "screener_complete":
        return {"type": "screener_complete", "screener_id": message.screener_id, "result_count": message.result_count}
    if message.type == "job_run":
        return job_frame(result)
    return None


def job_frame(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """A job run as its frame, or None for an invocation that found the run done already (``ran`` False)."""
    if summary.get("ran") is False:
        return None
    return {"type": "job_run", **{key: value for key, value in summary.items() if key != "ran"}}
