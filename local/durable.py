"""Durable Objects on one machine: the table as storage.json lays it out, and the runner that fires due alarms.

Deployed, alarms wake the host through SQS and EventBridge Scheduler; moto's Scheduler never fires, so locally the
runner queries the table's alarm index (every shard, ``due <= now``) and hands each due alarm to the host, as the
alarm queue would. Alarms live in the table, not in the runner, so a restarted runner fires what is due.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local.service import BackgroundService
from ttai.bindings.durable.alarms import alarm_event
from ttai.bindings.durable.host import DurableObjectHost
from ttai.observability import logger


class LocalAlarmRunner(BackgroundService):
    """Fires due alarms through the host: ``run_due()`` once (tests), or ``start()`` to poll (make dev)."""

    thread_name = "local-durable-alarms"

    def __init__(
        self,
        host: DurableObjectHost,
        *,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] | None = None,
        deliver: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """``clock`` defaults to ``time.time`` looked up at each poll, so tests that move time move the runner.
        ``deliver`` runs an alarm event (default: ``host.handle``; the local stack's durable function)."""
        self.host = host
        self.deliver = deliver or host.handle
        self.poll_seconds = poll_seconds
        self._clock = clock
        super().__init__()

    def due(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """The alarm events due at ``now_ms`` (default: now), earliest first, one Query per index shard."""
        table = self.host.table
        lay = table.layout
        if now_ms is None:
            now_ms = int((self._clock or time.time)() * 1000)
        found: list[tuple[int, str]] = []
        for shard in range(lay.alarm_shards):
            request: dict[str, Any] = {
                "TableName": table.name,
                "IndexName": lay.alarm_index,
                "KeyConditionExpression": "#shard = :shard AND #due <= :now",
                "ExpressionAttributeNames": {"#shard": lay.alarm_shard_attr, "#due": lay.alarm_due_attr},
                "ExpressionAttributeValues": {":shard": {"N": str(shard)}, ":now": {"N": str(now_ms)}},
            }
            while True:
                response = self.host.dynamodb.query(**request)
                found += [(int(i[lay.alarm_due_attr]["N"]), i[lay.partition_attr]["S"]) for i in response["Items"]]
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        events = []
        for due_ms, partition in sorted(found):
            namespace, hex_id = table.split_partition(partition)
            events.append(alarm_event(namespace, hex_id, due_ms))
        return events

    def run_due(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Run every alarm due now; returns the host's answer for each (``outcome``: ran, retrying...)."""
        return [self.deliver(event) for event in self.due(now_ms)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for answer in self.run_due():
                    if not answer.get("ok"):
                        logger.warning("alarm not run", extra={"answer": answer})
            except Exception:  # noqa: BLE001 - a failing poll is logged; the runner keeps polling
                logger.exception("alarm poll failed")
            self._stop.wait(self.poll_seconds)
